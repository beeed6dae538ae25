"""The Guest Shell `cli` stand-in (tests/fakecli) against the behaviours of the real module listed in
../shared/docs/platform.md ("The `cli` module, as its public source behaves"), and the agent against
the stand-in: for each behaviour, one test of the stand-in itself and one of the agent."""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

from guestagent.device import DeviceError, DeviceTimeout, slug
from guestagent.device.onbox import OnBoxDevice, import_cli
from tests.conftest import ROOT, fixture_path
from tests.fakecli import install
from tests.fakecli.install import forget_imported, session_env

FAKECLI = os.path.join(ROOT, "tests", "fakecli")
EMBEDDED = os.path.join(ROOT, "guestagent", "device", "ir1101")
BARE_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


@pytest.fixture
def router(tmp_path):
    """The stand-in's fixture directory: the embedded IR1101 outputs, to add files to."""
    directory = tmp_path / "router"
    shutil.copytree(EMBEDDED, str(directory))
    return directory


@pytest.fixture
def standin(tmp_path, router, monkeypatch):
    """The stand-in imported in this process with the session IOS gives a process it started."""
    monkeypatch.syspath_prepend(FAKECLI)
    for name, value in session_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FAKECLI_FIXTURES", str(router))
    monkeypatch.setenv("FAKECLI_LOG", str(tmp_path / "cli.log"))
    forget_imported()
    import cli
    yield cli
    forget_imported()


def log_entries(tmp_path, key):
    path = tmp_path / "cli.log"
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    return [e[key] for e in entries if key in e]


def standin_env(tmp_path, router, **extra):
    """The environment of a process IOS started, with the stand-in on PYTHONPATH."""
    env = {"PATH": BARE_PATH, "PYTHONPATH": os.pathsep.join([FAKECLI, ROOT]),
           "FAKECLI_FIXTURES": str(router), "FAKECLI_LOG": str(tmp_path / "cli.log")}
    env.update(session_env())
    env.update(extra)
    return env


def python_in(env, code, python=sys.executable):
    return subprocess.run([python, "-c", code], env=env, cwd="/", stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)


def wait_in_flight(cli, seconds=10.0):
    """Until the stand-in has a call on the wire (so that the next one overlaps it)."""
    end = time.monotonic() + seconds
    while cli._pnp.listener._in_flight is None:
        assert time.monotonic() < end, "no call in flight"
        time.sleep(0.005)


# -- the stand-in's own rules --------------------------------------------------------------------

def test_the_standin_finds_fixtures_by_the_agents_slug_rule(standin):
    for command in ("show cellular 0/1/0 gps", "  show  ip sla statistics ",
                    "show running-config | section event manager",
                    "ping vrf A 10.0.0.1 repeat 5 timeout 2"):
        assert standin._pnp.slug(command) == slug(command)


# -- stripping of newlines ---------------------------------------------------------------------

def test_standin_strips_leading_and_trailing_newlines(standin, router):
    (router / "show_thing__synthetic.txt").write_text("\n\n  Header\nvalue 1\n\n\n")
    # Only newlines go: the indentation of the first line stays.
    assert standin.execute("\nshow thing\n") == "  Header\nvalue 1"
    assert standin.execute("show version").startswith("Cisco IOS XE Software")
    assert not standin.execute("show version").endswith("\n")


def test_agent_reads_stripped_output_and_parses_it(standin, router):
    from guestagent import ios
    device = OnBoxDevice(standin, 5)
    with open(os.path.join(EMBEDDED, "show_version__ir1101-synthetic.txt")) as f:
        embedded = f.read()
    text = device.execute("show version")
    assert text == embedded.strip("\n")
    version = ios.parser("show-version")(text)
    assert (version["hostname"], version["serial"]) == ("ir1101-site7", "FCW2406XXXX")
    # The agent itself never sends a newline, even one the module would strip.
    with pytest.raises(DeviceError):
        device.execute("\nshow version")


# -- '' for an empty command -------------------------------------------------------------------

def test_standin_answers_an_empty_command_without_asking_ios(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKECLI_LOG_EXECUTE", "1")
    monkeypatch.setenv("FAKECLI_NO_SOCKET", "1")  # asking IOS would fail
    assert standin.execute("") == ""
    assert standin.execute("\n\n") == ""
    assert log_entries(tmp_path, "execute") == []
    with pytest.raises(standin.PnPSocketError):
        standin.execute("show clock")


def test_agent_never_sends_an_empty_command(standin, tmp_path, monkeypatch):
    """'' from the module would read as an empty answer: the agent refuses the command itself."""
    monkeypatch.setenv("FAKECLI_LOG_EXECUTE", "1")
    device = OnBoxDevice(standin, 5)
    for command in ("", "\n"):
        with pytest.raises(DeviceError) as info:
            device.execute(command)
        assert "single command" in str(info.value)
    assert log_entries(tmp_path, "execute") == []


# -- error classes and messages ----------------------------------------------------------------

def test_standin_error_classes_and_messages(standin):
    for command in ("show clock; reload", "show clock\nreload"):
        with pytest.raises(standin.CLICommandError) as info:
            standin.execute(command)
        assert info.value.command == command
        assert info.value.message == "You may not run multiple commands using execute()."
    for command in ("conf", "configure", "config"):
        with pytest.raises(standin.CLICommandError):
            standin.execute(command)
    with pytest.raises(standin.CLISyntaxError) as info:
        standin.execute("show nonsense")
    assert isinstance(info.value, standin.CLIError)
    # No IOS text: nothing of `% Invalid input detected at '^' marker.`
    assert str(info.value) == 'SyntaxError: There was a problem running the command: ' \
                              '"show nonsense"'
    assert "%" not in str(info.value)


def test_standin_other_ios_failures_carry_severity_code_and_message(standin, monkeypatch):
    monkeypatch.setenv("FAKECLI_FAIL", "^show track$=%Error: resource temporarily unavailable")
    with pytest.raises(standin.CLICommandError) as info:
        standin.execute("show  track")
    assert not isinstance(info.value, standin.CLISyntaxError)
    assert info.value.message == "%Error: resource temporarily unavailable"
    assert (info.value.severity, info.value.code) == ("error", "1")


def test_standin_without_the_socket(standin, monkeypatch):
    monkeypatch.setenv("FAKECLI_NO_SOCKET", "1")
    with pytest.raises(standin.PnPSocketError) as info:
        standin.execute("show clock")
    assert str(info.value) == ("SocketError: Socket /cisco/nginx_shared/pnp_python.sock not "
                               "present. Make sure to enable http server")
    with pytest.raises(standin.PnPSocketError):
        standin.configure(["event manager applet X"])


def test_agent_maps_every_module_error_to_a_device_error(standin, router, monkeypatch):
    from guestagent.collectors import common
    device = OnBoxDevice(standin, 5)
    with pytest.raises(DeviceError) as info:
        device.execute("show nonsense")
    assert "IOS rejected the command as invalid" in str(info.value)
    assert "CLISyntaxError" in str(info.value)
    # A collector reads it as "this router has no such feature", not as a failure.
    assert common.feature_absent(info.value)
    with pytest.raises(DeviceError) as info:
        device.execute("configure")
    assert "CLICommandError" in str(info.value)
    # IOS error text in an output stays a failure, whatever the module did with it.
    (router / "show_odd__synthetic.txt").write_text("        ^\n% Invalid input detected at "
                                                    "'^' marker.\n")
    with pytest.raises(DeviceError) as info:
        device.execute("show odd")
    assert "IOS says: % Invalid input" in str(info.value)
    monkeypatch.setenv("FAKECLI_FAIL", "^show track$=%Error: resource temporarily unavailable")
    with pytest.raises(DeviceError) as info:
        device.execute("show track")
    assert "CLICommandError" in str(info.value)
    assert "%Error: resource temporarily unavailable" in str(info.value)
    assert not common.feature_absent(info.value)  # a failure, not a missing feature
    monkeypatch.setenv("FAKECLI_NO_SOCKET", "1")
    with pytest.raises(DeviceError) as info:
        device.execute("show clock")
    assert "PnPSocketError: SocketError: Socket /cisco/nginx_shared/pnp_python.sock" in \
        str(info.value)


# -- CLITimeoutError with .output after MAX_WAIT_TIME ------------------------------------------

def test_standin_gives_up_after_max_wait_time_with_partial_output(standin, router, monkeypatch):
    monkeypatch.setenv("FAKECLI_DELAY", "^show version$=3")
    with open(os.path.join(EMBEDDED, "show_version__ir1101-synthetic.txt")) as f:
        whole = f.read()
    assert standin.MAX_WAIT_TIME is None
    standin.MAX_WAIT_TIME = 0.5
    try:
        with pytest.raises(standin.CLITimeoutError) as info:
            standin.execute("show version")
    finally:
        standin.MAX_WAIT_TIME = None
    assert info.value.command == "show version"
    assert info.value.output and whole.startswith(info.value.output)
    assert len(info.value.output) < len(whole)
    # Without MAX_WAIT_TIME (the transport's 3600 s) a slow command simply takes its time.
    monkeypatch.setenv("FAKECLI_DELAY", "^show version$=0.5")
    assert standin.execute("show version") == whole.strip("\n")


def test_agent_uses_max_wait_time_and_keeps_the_partial_output(standin, monkeypatch):
    monkeypatch.setenv("FAKECLI_DELAY", "^show version$=6")
    device = OnBoxDevice(standin, command_timeout_s=8)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout) as info:
        device.execute("show version", timeout_s=1.5)  # the caller's time is the shorter
    assert time.monotonic() - started < 5  # IOS gave up; nobody waited for the 6 s
    # In whole seconds, within the time allowed.
    assert "IOS gave up after 1 s (CLITimeoutError)" in str(info.value)
    assert info.value.output.startswith("Cisco IOS XE Software")
    # Nothing is left talking to IOS, and the module's own setting is back as it was.
    assert standin._pnp.listener._in_flight is None
    assert standin.MAX_WAIT_TIME is None
    assert device.execute("show clock").startswith("*")


def test_a_caller_that_cannot_get_ios_in_time_is_told_it_was_busy(standin, monkeypatch):
    monkeypatch.setenv("FAKECLI_DELAY", "^show version$=3")
    device = OnBoxDevice(standin, command_timeout_s=8)
    done = {}
    slow = threading.Thread(target=lambda: done.setdefault("text", device.execute(
        "show version")))
    slow.start()
    wait_in_flight(standin)
    with pytest.raises(DeviceTimeout) as info:
        device.execute("show clock", timeout_s=1.5)
    slow.join(10)
    assert "IOS was busy with another command" in str(info.value)
    assert done["text"].startswith("Cisco IOS XE Software")
    assert log_entries_of(standin, "concurrent") == []


def log_entries_of(cli, key):
    path = os.environ["FAKECLI_LOG"]
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [e[key] for e in (json.loads(line) for line in f) if key in e]


class NoMaxWait(object):
    """An older cli module: execute() only, no MAX_WAIT_TIME to make IOS give up."""

    def __init__(self, cli):
        self.execute = cli.execute


def test_a_module_without_max_wait_time_gets_a_bounded_fallback(standin, monkeypatch):
    monkeypatch.setenv("FAKECLI_DELAY", "^show version$=3")
    device = OnBoxDevice(NoMaxWait(standin), command_timeout_s=8)
    with pytest.raises(DeviceTimeout) as info:
        device.execute("show version", timeout_s=1.2)
    assert "cannot be told to give up" in str(info.value)
    # The abandoned call still holds IOS: the next one waits for it, never overlaps it.
    assert device.execute("show clock", timeout_s=8).startswith("*")
    assert log_entries_of(standin, "concurrent") == []


# -- configure() returning [] when IOS rejects the whole request -------------------------------

def test_standin_configure_results_failures_and_whole_request_rejected(standin, tmp_path,
                                                                     monkeypatch):
    lines = ["event manager session cli username operator", "event manager applet QOE_X",
             " event none maxrun 20"]
    results = standin.configure(lines)
    assert [(r.success, r.line) for r in results] == [(True, 1), (True, 2), (True, 3)]
    # A running config prints the session user in quotes (platform.md).
    assert standin.execute("show running-config | section event manager") == (
        'event manager session cli username "operator"\nevent manager applet QOE_X\n'
        ' event none maxrun 20')
    monkeypatch.setenv("FAKECLI_REJECT", "maxrun 30")
    with pytest.raises(standin.CLIConfigurationError) as info:
        standin.configure(["event manager applet QOE_Y", " event none maxrun 30"])
    assert [r.command for r in info.value.failed] == ["event none maxrun 30"]
    assert len(info.value.commands) == 2
    monkeypatch.delenv("FAKECLI_REJECT")
    monkeypatch.setenv("FAKECLI_REJECT_ALL", "1")
    assert standin.configure(["no event manager applet QOE_X"]) == []
    assert "event manager applet QOE_X" in standin.execute(
        "show running-config | section event manager")
    assert log_entries(tmp_path, "configure")[-1] == ["no event manager applet QOE_X"]


def test_agent_apply_fails_when_ios_rejects_the_whole_request(tmp_path, router):
    from tests.conftest import run_agent
    path = tmp_path / "config.yaml"
    path.write_text("agent: {{state_dir: {}}}\neem: {{python: /opt/ga/bin/python3}}\n".format(
        tmp_path / "state"))
    result = run_agent(["eem", "apply", "-c", str(path)],
                       env=standin_env(tmp_path, router, FAKECLI_REJECT_ALL="1"))
    assert result.returncode == 1, result.stdout + result.stderr


# -- None text on empty output -----------------------------------------------------------------

def test_standin_fails_on_none_strip_when_ios_sends_no_text(standin, router):
    (router / "show_interfaces__ir1101-synthetic.txt").write_text("")
    with pytest.raises(AttributeError) as info:
        standin.execute("show interfaces")
    assert "'NoneType' object has no attribute 'strip'" in str(info.value)
    # As seen with an empty `show ... | section ...`: nothing applied yet.
    with pytest.raises(AttributeError):
        standin.execute("show running-config | section event manager")


def test_agent_reads_no_text_as_empty_output(standin, router, tmp_path):
    from guestagent import config as configs
    from guestagent.collectors import interfaces
    from guestagent.deadline import Deadline
    (router / "show_interfaces__ir1101-synthetic.txt").write_text("")
    device = OnBoxDevice(standin, 5)
    assert device.execute("show interfaces") == ""
    assert device.execute("show running-config | section event manager") == ""
    (tmp_path / "state").mkdir()  # a cycle's lock and journal have made it by then
    config = configs.parse("agent: {{state_dir: {}}}\n".format(tmp_path / "state"), "t.yaml")
    assert interfaces.collect(device, config, Deadline(10)) == []


def test_a_call_with_less_than_a_second_left_is_not_sent(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKECLI_LOG_EXECUTE", "1")
    with pytest.raises(DeviceTimeout) as info:
        OnBoxDevice(standin, 8).execute("show clock", timeout_s=0.6)
    assert "not sent: 0.6 s allowed" in str(info.value)
    assert log_entries(tmp_path, "execute") == []


def test_agent_keeps_other_attribute_errors_as_failures():
    class Odd(object):
        MAX_WAIT_TIME = None

        def execute(self, command):
            return self.missing

    with pytest.raises(DeviceError) as info:
        OnBoxDevice(Odd(), 5).execute("show clock")
    assert "AttributeError" in str(info.value)


# -- failing at import without the session variables -------------------------------------------

def test_standin_fails_at_import_without_the_session(tmp_path, router):
    env = standin_env(tmp_path, router)
    ok = python_in(env, "import cli; print(cli.execute('show clock'))")
    assert ok.returncode == 0, ok.stderr
    assert re.match(r"^\*\d\d:\d\d:\d\d\.\d{3} UTC \w{3} \w{3} \d{1,2} \d{4}$", ok.stdout.strip())
    for name in list(session_env()):
        if name != "SHELL_SESSION_max_wait":
            del env[name]
    failed = python_in(env, "import cli")
    assert failed.returncode == 1
    assert ("KeyError: \"The PnP Listener cannot be instantiated because the configuration key "
            "'SHELL_SESSION_scheme' could not be found.") in failed.stderr
    env.update(session_env(token=None))
    failed = python_in(env, "import cli")
    assert "configuration key 'SHELL_SESSION_token' could not be found" in failed.stderr


def test_agent_without_the_session_reports_no_router_data(tmp_path, router):
    env = standin_env(tmp_path, router)
    for name in session_env():
        del env[name]
    found = python_in(env, "from guestagent.device.onbox import import_cli; "
                           "print(import_cli()[1])")
    assert found.stdout.startswith("the Guest Shell cli module cannot be imported (KeyError: ")
    assert "SHELL_SESSION_scheme" in found.stdout
    path = tmp_path / "config.yaml"
    path.write_text("agent: {{deadline_s: 10, state_dir: {}}}\ndevice: {{kind: onbox}}\n"
                    "path_discovery: {{enabled: false}}\ntargets: []\n".format(tmp_path / "s"))
    cycle = subprocess.run([sys.executable, "-m", "guestagent", "run", "-c", str(path),
                            "--dry-run", "--json"], env=env, cwd="/", stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
    report = json.loads(cycle.stdout)
    assert report["agent"]["device"]["kind"] == "none"
    assert "SHELL_SESSION_scheme" in report["agent"]["device"]["reason"]
    assert report["agent"].get("serial") is None
    assert report["agent"]["hostname"] != "ir1101-site7"
    assert not report.get("ipsla")
    assert any(e["where"] == "device" for e in report["errors"])


# -- no safety for concurrent calls ------------------------------------------------------------

def test_standin_fails_loudly_on_two_calls_at_once(standin, tmp_path, monkeypatch):
    """Two raw threads, no lock: the second call while the first is on the wire fails."""
    monkeypatch.setenv("FAKECLI_DELAY", "^show version$=1")
    outcome = {}

    def first():
        outcome["first"] = standin.execute("show version")

    thread = threading.Thread(target=first, name="first")
    thread.start()
    wait_in_flight(standin)
    with pytest.raises(standin.PnPConcurrentUseError) as info:
        standin.execute("show clock")
    thread.join(10)
    assert "concurrent use of the cli module" in str(info.value)
    assert "'show version' was in flight" in str(info.value)
    assert outcome["first"].startswith("Cisco IOS XE Software")
    logged = log_entries(tmp_path, "concurrent")
    assert len(logged) == 1
    assert logged[0]["call"] == ["execute", "show clock"]
    assert logged[0]["in_flight"] == ["execute", "show version"]


def test_standin_catches_unserialized_calls_from_raw_threads(standin, tmp_path, monkeypatch):
    """Without the agent's lock, plain concurrent calls collide (with the stand-in's 20 ms)."""
    barrier = threading.Barrier(4)
    errors = []

    def worker():
        barrier.wait()
        for _ in range(5):
            try:
                standin.execute("show clock")
            except standin.PnPConcurrentUseError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors
    assert len(log_entries(tmp_path, "concurrent")) == len(errors)


def test_agent_serializes_calls_from_many_threads(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKECLI_LOG_EXECUTE", "1")
    device = OnBoxDevice(standin, 30)
    failures = []
    barrier = threading.Barrier(6)

    def worker(command):
        barrier.wait()
        for _ in range(4):
            try:
                device.execute(command)
            except DeviceError as exc:
                failures.append(exc)

    commands = ["show clock", "show version", "show track", "show ip sla summary",
                "show interfaces", "show cellular 0/1/0 radio"]
    threads = [threading.Thread(target=worker, args=(c,)) for c in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert log_entries(tmp_path, "concurrent") == []
    calls = log_entries_with_times(tmp_path)
    assert len(calls) == 24
    assert_no_overlap(calls)


def log_entries_with_times(tmp_path):
    with open(str(tmp_path / "cli.log")) as f:
        return [e for e in (json.loads(line) for line in f) if "execute" in e]


def assert_no_overlap(calls):
    calls = sorted(calls, key=lambda e: e["start"])
    for before, after in zip(calls, calls[1:]):
        assert before["end"] <= after["start"], (before, after)


def test_a_cycle_issues_its_router_commands_one_at_a_time(tmp_path, router):
    """A real cycle, device onbox: via-ios test points and via-ios path discovery run beside the
    router collectors, all through the stand-in, which logs any overlap."""
    from guestagent.probes import ios_ping, ios_traceroute
    from guestagent.schema import Namespace
    ping_options = Namespace(count=2, timeout_s=1)
    hosts = ["127.0.0.{}".format(n) for n in range(2, 12)]
    for host in hosts:
        shutil.copy(fixture_path("ios_ping", "ntc-templates__1.txt"),
                    str(router / "{}__ntc-templates-1.txt".format(
                        slug(ios_ping.command(host, ping_options)))))
    trace = ios_traceroute.command("127.0.0.9", Namespace(max_hops=4, wait_s=1, queries=1))
    shutil.copy(fixture_path("ios_traceroute", "ntc-templates__1.txt"),
                str(router / "{}__ntc-templates-1.txt".format(slug(trace))))
    path = tmp_path / "config.yaml"
    path.write_text("""
agent: {{deadline_s: 30, state_dir: {state}}}
device: {{kind: onbox, command_timeout_s: 8}}
journal: {{dir: {state}/journal}}
path_discovery: {{enabled: true, toward: 127.0.0.9, via: ios, first_hop: false}}
probes: {{icmp: {{count: 2, interval_s: 0.2, timeout_s: 1}},
          traceroute: {{max_hops: 4, wait_s: 1, queries: 1}}}}
targets:
{targets}
""".format(state=tmp_path / "state", targets="\n".join(
        "  - {{name: r{}, host: {}, via: ios}}".format(i, h) for i, h in enumerate(hosts))))
    env = standin_env(tmp_path, router, FAKECLI_LOG_EXECUTE="1", FAKECLI_LATENCY_S="0.03")
    cycle = subprocess.run([sys.executable, "-m", "guestagent", "run", "-c", str(path),
                            "--dry-run", "--json"], env=env, cwd="/", stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=90)
    assert cycle.returncode in (0, 1), cycle.stderr
    report = json.loads(cycle.stdout)
    assert report["agent"]["device"]["kind"] == "onbox"
    assert report["agent"]["hostname"] == "ir1101-site7"
    samples = dict((s["target"], s) for s in report["probes"])
    assert all(samples["r{}".format(i)]["received"] == 5 for i in range(len(hosts))), samples
    assert report["path"]["via"] == "ios" and report["path"]["hops"]
    calls = log_entries_with_times(tmp_path)
    commands = [c["execute"] for c in calls]
    assert sum(c.startswith("ping ") for c in commands) == len(hosts)
    assert "show ip sla statistics details" in commands or "show ip sla statistics" in commands
    print("cycle: {} IOS calls from {} threads, none concurrent".format(
        len(calls), len(set(c["thread"] for c in calls))))
    assert log_entries(tmp_path, "concurrent") == []
    assert not [e for e in report["errors"] if "concurrent" in json.dumps(e)]
    assert len(set(c["thread"] for c in calls)) > 1  # the calls did come from several threads
    assert_no_overlap(calls)


# -- the router's clock ------------------------------------------------------------------------

def test_standin_clock_in_the_routers_zone(standin, monkeypatch):
    monkeypatch.setenv("FAKECLI_TZ_NAME", "AEST")
    monkeypatch.setenv("FAKECLI_TZ_OFFSET_S", "36000")
    text = standin.execute("show clock")
    match = re.match(r"^\*(\d\d):(\d\d):(\d\d)\.\d{3} AEST (\w{3}) (\w{3}) (\d{1,2}) (\d{4})$", text)
    assert match, text
    shown = time.strptime(" ".join(match.groups()), "%H %M %S %a %b %d %Y")
    import calendar
    assert abs(calendar.timegm(shown) - 36000 - time.time()) < 120
    monkeypatch.setenv("FAKECLI_CLOCK_SYNCED", "1")
    assert not standin.execute("show clock").startswith("*")


def test_doctor_shows_the_routers_clock(standin, tmp_path, monkeypatch, capsys):
    from guestagent import cli as command_line
    monkeypatch.setenv("FAKECLI_TZ_NAME", "AEST")
    monkeypatch.setenv("FAKECLI_TZ_OFFSET_S", "36000")
    path = tmp_path / "config.yaml"
    path.write_text("agent: {{state_dir: {}}}\ndevice: {{kind: onbox}}\n".format(
        tmp_path / "state"))
    command_line.main(["doctor", "-c", str(path), "--json"])
    checks = dict((c["name"], c) for c in json.loads(capsys.readouterr().out))
    assert checks["cli"]["status"] == "PASS"
    assert re.match(r"^show clock: \*\d\d:\d\d:\d\d\.\d{3} AEST ", checks["cli"]["message"])


# -- UTF-8, whatever the locale ----------------------------------------------------------------

def test_fixtures_are_read_as_utf8_in_a_c_locale(tmp_path, router):
    (router / "show_location__synthetic.txt").write_text("Site: Genova – Molo 3 °N\n",
                                                         encoding="utf-8")
    env = standin_env(tmp_path, router, LC_ALL="C", LANG="C", PYTHONIOENCODING="utf-8")
    code = ("import cli\n"
            "from guestagent.device.onbox import OnBoxDevice\n"
            "from guestagent.device.simulated import SimulatedDevice\n"
            "print(cli.execute('show location'))\n"
            "print(OnBoxDevice(cli, 5).execute('show location'))\n"
            "print(SimulatedDevice({!r}).execute('show location').strip())\n".format(str(router)))
    result = python_in(env, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Site: Genova – Molo 3 °N"] * 3


def test_a_fixture_that_is_not_utf8_is_a_device_error_naming_it(tmp_path):
    from guestagent.device.simulated import SimulatedDevice
    (tmp_path / "show_version__synthetic.txt").write_bytes(b"Cisco IOS\nXE \xe9 Software\n")
    with pytest.raises(DeviceError) as info:
        SimulatedDevice(str(tmp_path)).execute("show version")
    assert "{}:2: not UTF-8 (byte 0xe9 at offset 13)".format(
        tmp_path / "show_version__synthetic.txt") in str(info.value)


# -- installed like Guest Shell's module -------------------------------------------------------

@pytest.fixture(scope="module")
def system_python(tmp_path_factory):
    """A throwaway interpreter (a venv without pip) to install the stand-in into."""
    directory = tmp_path_factory.mktemp("system-python")
    subprocess.check_call([sys.executable, "-m", "venv", "--without-pip", str(directory / "py")])
    return str(directory / "py" / "bin" / "python")


def test_install_into_the_interpreters_own_site_packages(system_python, tmp_path):
    site = install.install_into(system_python)
    assert site == install.site_dir(system_python)
    assert os.path.isfile(os.path.join(site, "cli", "__init__.py"))
    env = dict(session_env(), PATH=BARE_PATH)  # no PYTHONPATH, no FAKECLI_FIXTURES
    found = python_in(env, "import cli; print(cli.__file__); print(cli.execute('show version')"
                           ".splitlines()[0])", python=system_python)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines() == [os.path.join(site, "cli", "__init__.py"),
                                         "Cisco IOS XE Software, Version 17.09.04a"]
    install.remove_from(system_python)
    gone = python_in(env, "import cli", python=system_python)
    assert "No module named 'cli'" in gone.stderr


@pytest.mark.parametrize("how, error", [("import", "ModuleNotFoundError"),
                                        ("syntax", "SyntaxError"),
                                        ("noexecute", "no execute()")])
def test_a_broken_install_fails_otherwise_than_without_a_session(system_python, how, error):
    install.break_in(system_python, how)
    try:
        env = dict(session_env(), PATH=BARE_PATH, PYTHONPATH=ROOT)
        result = python_in(env, "from guestagent.device.onbox import import_cli; "
                                "print(import_cli()[1])", python=system_python)
    finally:
        install.remove_from(system_python)
    assert error in result.stdout, result.stdout + result.stderr
    assert "KeyError" not in result.stdout


def test_import_cli_in_this_process(standin):
    cli, why = import_cli()
    assert cli is standin and why is None
