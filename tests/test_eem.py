"""EEM applets: rendered from the config, applied and removed through the (fake) cli module, and a
cycle started the way an applet starts it."""

import json
import os
import subprocess
import sys

import pytest

from guestagent import config as configs
from guestagent import eem
from tests.conftest import ROOT, run_agent
from tests.fakecli.install import forget_imported, session_env

FAKECLI = os.path.join(ROOT, "tests", "fakecli")

BASE = """
agent: {interval_s: 300, deadline_s: 40, state_dir: STATE}
device: {kind: onbox}
path_discovery: {enabled: false}
probes: {icmp: {count: 2, interval_s: 0.2, timeout_s: 1}}
targets: [{name: lo4, host: 127.0.0.1}]
eem:
  python: /opt/ga/bin/python3
  maxrun_s: 60
  tracks: [20, 10]
  throughput_cron: "15 3 * * *"
"""


def make_config(tmp_path, text=BASE, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text.replace("STATE", str(tmp_path / "state")))
    return str(path)


def fake_env(tmp_path, **extra):
    env = {"PYTHONPATH": FAKECLI, "FAKECLI_LOG": str(tmp_path / "configure.log")}
    env.update(session_env())
    env.update(extra)
    return env


def configure_calls(tmp_path):
    path = tmp_path / "configure.log"
    if not path.exists():
        return []
    return [json.loads(line)["configure"] for line in path.read_text().splitlines()]


def test_render_names_triggers_and_maxrun(tmp_path):
    config = configs.load(make_config(tmp_path))
    lines = eem.render(config)
    source = config.source
    command = "/opt/ga/bin/python3 -m guestagent run -c {}".format(source)
    assert lines[:4] == [
        "event manager applet QOE_TIMER",
        " event timer watchdog time 300 maxrun 60",
        ' action 1.0 cli command "enable"',
        ' action 2.0 cli command "guestshell run {} --trigger timer"'.format(command),
    ]
    assert "event manager applet QOE_TRACK_10" in lines
    assert " event track 10 state any maxrun 60" in lines
    assert (' action 2.0 cli command "guestshell run {} --trigger track --track 10 '
            '--track-state $_track_state"'.format(command)) in lines
    # Tracks in id order, then the manual and the slow-schedule applets.
    names = [line.split()[-1] for line in lines if line.startswith("event manager applet")]
    assert names == ["QOE_TIMER", "QOE_TRACK_10", "QOE_TRACK_20", "QOE_NOW", "QOE_CRON"]
    assert " event none maxrun 60" in lines
    assert ' event timer cron cron-entry "15 3 * * *" maxrun 60' in lines
    assert any(line.endswith('--trigger cron"') for line in lines)
    assert all(";" not in line and "\n" not in line for line in lines)


def test_every_applet_has_an_explicit_maxrun(tmp_path):
    config = configs.load(make_config(tmp_path))
    events = [line for line in eem.render(config) if line.startswith(" event ")]
    assert len(events) == 5
    assert all(line.endswith("maxrun 60") for line in events)


def test_maxrun_derived_from_the_deadline_when_not_set(tmp_path):
    config = configs.parse("agent: {deadline_s: 14}\n", "/etc/ga.yaml")
    assert eem.maxrun_s(config) == 20  # 14 / 0.7
    assert " event timer watchdog time 300 maxrun 20" in eem.render(config)
    assert eem.check(config) == []


def test_deadline_too_long_for_maxrun_is_refused_with_the_fix(tmp_path):
    config = configs.parse("agent: {deadline_s: 30}\neem: {maxrun_s: 20}\n", "/etc/ga.yaml")
    problems = eem.check(config)
    assert len(problems) == 1
    assert "agent.deadline_s 30 is more than 80% of eem.maxrun_s 20" in problems[0]
    assert "set eem.maxrun_s to at least 43 or agent.deadline_s to at most 14" in problems[0]
    with pytest.raises(eem.EEMError):
        eem.render(config)
    # The command line says so and exits 2 (bad configuration).
    path = tmp_path / "bad.yaml"
    path.write_text("agent: {deadline_s: 30}\neem: {maxrun_s: 20}\n")
    result = run_agent(["eem", "render", "-c", str(path)])
    assert result.returncode == 2
    assert "set eem.maxrun_s to at least 43" in result.stderr


def test_config_argument_only_when_not_the_standard_file(tmp_path):
    config = configs.parse("{}", configs.ROUTER_CONFIG)
    assert ' -c ' not in "\n".join(eem.render(config))
    # A relative file name becomes absolute: EEM does not start the agent in this directory.
    config = configs.parse("{}", "site.yaml")
    assert any("-m guestagent run -c {} --trigger timer".format(os.path.abspath("site.yaml"))
               in line for line in eem.render(config))
    config = configs.parse("eem: {config: /bootflash/guest-share/ga/site.yaml}", "x.yaml")
    assert any("-m guestagent run -c /bootflash/guest-share/ga/site.yaml --trigger timer" in line
               for line in eem.render(config))


def test_unsafe_values_are_config_errors(tmp_path):
    for text in ('eem: {python: "python3; reload"}', 'eem: {prefix: "QOE NOW"}',
                 'eem: {session_user: "a b"}', 'eem: {throughput_cron: "0 3 * * * ; x"}',
                 'eem: {python: "/x/$_track_state"}'):
        with pytest.raises(configs.ConfigError) as info:
            configs.parse(text, "t.yaml")
        assert "eem." in info.value.problems[0]


def test_session_user_and_cron_timer(tmp_path):
    config = configs.parse('eem: {session_user: eemuser, timer_cron: "*/5 * * * *", manual: "",'
                           ' spread: false}', configs.ROUTER_CONFIG)
    lines = eem.render(config)
    assert lines[0] == "event manager session cli username eemuser"
    assert ' event timer cron cron-entry "*/5 * * * *" maxrun 20' in lines
    assert not any("QOE_NOW" in line for line in lines)
    assert not any(" wait " in line for line in lines)


SPREAD = 'eem: {{timer_cron: "{cron}", manual: ""{extra}}}'


def spread_config(cron="*/5 * * * *", extra=""):
    return configs.parse(SPREAD.format(cron=cron, extra=extra), configs.ROUTER_CONFIG)


def test_spread_cron_timer_renders_minute_wait_and_maxrun():
    config = spread_config(extra=", spread_key: FCW2316L0AB")
    shift = eem.spread(config)
    lines = eem.render(config)
    assert shift["key"] == "FCW2316L0AB"
    assert 0 <= shift["minute"] < 5 and 0 <= shift["wait_s"] < 60
    assert shift["offset_s"] == shift["minute"] * 60 + shift["wait_s"]
    assert lines[1] == ' event timer cron cron-entry "{}-59/5 * * * *" maxrun {}'.format(
        shift["minute"], 20 + shift["wait_s"])
    if shift["wait_s"]:
        assert lines[2] == " action 0.5 wait {}".format(shift["wait_s"])
    # The cycle's own budget is unchanged: the deadline still fits in maxrun minus the wait.
    assert eem.check(config) == []
    # Same router, same lines; render, apply and doctor agree through compare().
    assert eem.render(spread_config(extra=", spread_key: FCW2316L0AB")) == lines
    running = "\n".join(lines) + "\n"
    assert eem.compare(config, running)["matching"] == ["QOE_TIMER"]
    other = spread_config(extra=", spread_key: FCW2316L0AC")
    assert eem.compare(other, running)["different"] == ["QOE_TIMER"] or \
        eem.spread(other)["offset_s"] == shift["offset_s"]


def test_spread_key_order_serial_instance_hostname():
    import socket
    config = spread_config()
    assert eem.spread(config, serial="FOC1234X0YZ")["key"] == "FOC1234X0YZ"
    assert eem.spread(config)["key"] == socket.gethostname()
    named = configs.parse('agent: {instance: rtr-17}\n' + SPREAD.format(
        cron="*/5 * * * *", extra=""), configs.ROUTER_CONFIG)
    assert eem.spread(named)["key"] == "rtr-17"
    assert eem.spread(named, serial="FOC1234X0YZ")["key"] == "FOC1234X0YZ"
    keyed = spread_config(extra=", spread_key: K1")
    assert eem.spread(keyed, serial="FOC1234X0YZ")["key"] == "K1"


def test_spread_only_for_step_crons():
    assert eem.spread(spread_config(cron="0,30 * * * *")) is None
    assert eem.spread(spread_config(cron="*/7 * * * *")) is None  # 7 does not divide 60
    assert eem.spread(configs.parse("{}", configs.ROUTER_CONFIG)) is None  # watchdog timer
    every_minute = eem.spread(spread_config(cron="* * * * *", extra=", spread_key: a"))
    assert every_minute["cron"] == "* * * * *" and every_minute["minute"] == 0
    # A one-minute step leaves 60 - 20 s for the wait: cycles never overlap.
    assert every_minute["wait_s"] <= 40
    hourly = eem.spread(spread_config(cron="*/60 * * * 1-5", extra=", spread_key: a"))
    assert hourly["cron"] == "{}-59/60 * * * 1-5".format(hourly["minute"])


def test_spread_wait_and_budget_fit_in_the_period():
    for step in (1, 2, 5, 10):
        for budget in (20, 58, 100):
            if budget > step * 60:
                continue
            for i in range(300):
                minute, wait = eem.spread_offset("FCW{:08d}".format(i), step, budget)
                assert 0 <= minute < step
                assert wait + budget <= step * 60


def chi_square(counts):
    expected = float(sum(counts)) / len(counts)
    return sum((count - expected) ** 2 / expected for count in counts)


# 99.99th percentile of chi-square with 29 and 59 degrees of freedom (Wilson-Hilferty). The key
# sets are fixed, so the test is deterministic; a 1-in-10,000 bound per set keeps it from
# failing on a fair hash while a biased one (e.g. a character sum) is far above it.
CHI2_9999 = {30: 66.4, 60: 108.3}


@pytest.mark.parametrize("keys", [
    ["FCW{:02d}{:02d}L{:04X}".format(20 + i % 7, 1 + i % 52, i) for i in range(20000)],
    ["rtr-{:05d}".format(i) for i in range(20000)],
    ["site{}-ir1101-{}".format(i // 4, i % 4) for i in range(20000)],
], ids=["serials", "hostnames", "site-hostnames"])
def test_spread_offsets_are_uniform_over_the_period(keys):
    """20,000 routers on `*/5` with a 20 s budget: their offsets fill 30 ten-second bins of the
    five minutes evenly (chi-square below its 99.9th percentile), and each minute and each
    second of the wait get their share."""
    offsets = []
    minutes = [0] * 5
    seconds = [0] * 60
    for key in keys:
        minute, wait = eem.spread_offset(key, 5, 20)
        minutes[minute] += 1
        seconds[wait] += 1
        offsets.append(minute * 60 + wait)
    bins = [0] * 30
    for offset in offsets:
        bins[offset // 10] += 1
    assert chi_square(bins) < CHI2_9999[30]
    assert chi_square(seconds) < CHI2_9999[60]
    assert chi_square(minutes) < 23.51  # 4 degrees of freedom
    # The busiest second holds few routers: 20,000 / 300 s is 67 on average.
    per_second = {}
    for offset in offsets:
        per_second[offset] = per_second.get(offset, 0) + 1
    assert len(per_second) == 300 and max(per_second.values()) < 2 * 67


def test_a_biased_offset_fails_the_uniformity_bound():
    """The bound has teeth: offsets from a character sum of the key (a naive hash) fail it."""
    bins = [0] * 30
    for i in range(20000):
        key = "rtr-{:05d}".format(i)
        bins[(sum(key.encode("ascii")) % 300) // 10] += 1
    assert chi_square(bins) > CHI2_9999[30]


def test_spread_is_stable_across_processes():
    """The offset comes from a hash of the key, not from Python's randomized hash()."""
    code = ("from guestagent import eem; print([eem.spread_offset('FCW2316L0{}'.format(i), 5, 20)"
            " for i in range(50)])")
    outputs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outputs.add(subprocess.check_output([sys.executable, "-c", code], env=env,
                                            universal_newlines=True))
    assert len(outputs) == 1
    assert outputs.pop().strip() == str([eem.spread_offset("FCW2316L0{}".format(i), 5, 20)
                                         for i in range(50)])


def test_templates_in_the_source_tree_match_the_module():
    for kind, template in eem.TEMPLATES.items():
        with open(os.path.join(ROOT, "eem", kind + ".applet")) as f:
            assert f.read() == template + eem.ACTIONS, kind


def test_apply_sends_exactly_the_rendered_lines_and_remove_undoes_them(tmp_path):
    path = make_config(tmp_path)
    env = fake_env(tmp_path)
    rendered = run_agent(["eem", "render", "-c", path], env=env)
    assert rendered.returncode == 0, rendered.stderr
    lines = rendered.stdout.splitlines()

    applied = run_agent(["eem", "apply", "-c", path], env=env)
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert configure_calls(tmp_path) == [lines]
    # One result line per config line, each ok.
    out = applied.stdout.splitlines()
    assert len(out) == len(lines)
    assert all(line.startswith("ok ") for line in out)

    # Applying the same config again sends nothing.
    again = run_agent(["eem", "apply", "-c", path], env=env)
    assert again.returncode == 0
    assert "already match" in again.stdout
    assert len(configure_calls(tmp_path)) == 1

    removed = run_agent(["eem", "remove", "-c", path], env=env)
    assert removed.returncode == 0, removed.stdout
    assert configure_calls(tmp_path)[-1] == [
        "no event manager applet QOE_TIMER", "no event manager applet QOE_TRACK_10",
        "no event manager applet QOE_TRACK_20", "no event manager applet QOE_NOW",
        "no event manager applet QOE_CRON"]
    running = json.loads((tmp_path / "configure.log.running").read_text())
    assert running == {"applets": [], "global": []}


def test_apply_after_a_config_change_replaces_and_drops_stale_applets(tmp_path):
    path = make_config(tmp_path)
    env = fake_env(tmp_path)
    assert run_agent(["eem", "apply", "-c", path], env=env).returncode == 0
    # Track 20 goes away, the interval changes.
    changed = make_config(tmp_path, BASE.replace("[20, 10]", "[10]").replace(
        "interval_s: 300", "interval_s: 600"))
    assert changed == path
    result = run_agent(["eem", "apply", "-c", path], env=env)
    assert result.returncode == 0, result.stdout
    sent = configure_calls(tmp_path)[-1]
    # Ours on the router go first (the changed one, the unchanged ones, the stale track 20).
    assert sent[:5] == ["no event manager applet QOE_" + name for name in
                        ("TIMER", "TRACK_10", "NOW", "CRON", "TRACK_20")]
    assert " event timer watchdog time 600 maxrun 60" in sent
    running = json.loads((tmp_path / "configure.log.running").read_text())
    assert [name for name, _ in running["applets"]] == ["QOE_TIMER", "QOE_TRACK_10", "QOE_NOW",
                                                        "QOE_CRON"]


def test_apply_reports_the_lines_ios_refused(tmp_path):
    path = make_config(tmp_path)
    env = fake_env(tmp_path, FAKECLI_REJECT="event track 20")
    result = run_agent(["eem", "apply", "-c", path], env=env)
    assert result.returncode == 1
    assert "FAIL event track 20 state any maxrun 60  <- % Invalid input" in result.stdout


def test_apply_without_cli_says_what_to_do(tmp_path):
    result = run_agent(["eem", "apply", "-c", make_config(tmp_path)])
    assert result.returncode == 1
    assert "cli module cannot be imported" in result.stderr
    assert "guestagent eem render" in result.stderr


def test_the_fake_cli_refuses_what_the_real_one_refuses(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(FAKECLI)
    for name, value in session_env().items():
        monkeypatch.setenv(name, value)
    forget_imported()
    import cli
    try:
        with pytest.raises(cli.CLICommandError):
            cli.execute("show clock; reload")
        with pytest.raises(cli.CLICommandError):
            cli.execute("show clock\nreload")
        with pytest.raises(cli.CLISyntaxError):
            cli.execute("show nonsense")
        assert "ir1101-site7 uptime" in cli.execute("show  version")
    finally:
        forget_imported()


@pytest.mark.parametrize("trigger", [["timer"], ["track", "--track", "10", "--track-state", "down"]])
def test_a_cycle_started_as_eem_starts_it(tmp_path, trigger):
    """`python3 -m guestagent run --trigger timer` from /, no TTY, a bare environment, the fake
    cli module as the router."""
    path = make_config(tmp_path)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "PYTHONPATH": os.pathsep.join([FAKECLI, ROOT])}
    env.update(session_env())
    result = subprocess.run([sys.executable, "-m", "guestagent", "run", "-c", path,
                             "--trigger"] + trigger + ["--json"],
                            env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["agent"]["device"]["kind"] == "onbox"
    assert report["cycle"]["trigger"] == trigger[0]
    if trigger[0] == "track":  # what $_track_state said reaches the report
        assert report["cycle"]["track"] == {"id": 10, "state": "down"}
    assert report["agent"]["hostname"] == "ir1101-site7"  # from show version through the cli
    assert [op["id"] for op in report["ipsla"]][:1] == ["10"]
    assert report["probes"][0]["target"] == "lo4" and report["probes"][0]["reachable"]
    journal = tmp_path / "state" / "journal" / "reports.jsonl"
    assert json.loads(journal.read_text().splitlines()[-1])["cycle"]["id"] == report["cycle"]["id"]


def test_apply_fails_when_ios_rejects_the_whole_request(tmp_path):
    """The module returns [] without raising when IOS rejects the whole request (platform.md):
    an empty result for non-empty input is a failure, not "nothing to report"."""
    path = make_config(tmp_path)
    env = fake_env(tmp_path, FAKECLI_REJECT_ALL="1")
    lines = run_agent(["eem", "render", "-c", path], env=env).stdout.splitlines()
    result = run_agent(["eem", "apply", "-c", path], env=env)
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[0] == (
        "FAIL (the whole request)  <- IOS rejected the whole request: cli.configure() returned "
        "no result for {} line(s)".format(len(lines)))
    assert "some lines failed" in result.stdout
    as_json = json.loads(run_agent(["eem", "apply", "-c", path, "--json"], env=env).stdout)
    assert as_json["ok"] is False and as_json["results"][0]["success"] is False


def test_remove_on_a_router_without_event_manager_config_sends_nothing(tmp_path):
    """An empty `show running-config | section event manager` reaches the module as no text,
    and the module raises AttributeError (platform.md): that is "nothing there", not "unknown"."""
    path = make_config(tmp_path)
    result = run_agent(["eem", "remove", "-c", path], env=fake_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "no applet of ours on the router; nothing sent\n"
    assert configure_calls(tmp_path) == []


def test_session_user_as_ios_prints_it(tmp_path):
    """IOS prints `event manager session cli username "operator"`, quoted: apply, doctor and
    remove read it so, and agree with the router."""
    path = make_config(tmp_path, BASE + "  session_user: operator\n")
    os.chmod(path, 0o600)
    env = fake_env(tmp_path)
    applied = run_agent(["eem", "apply", "-c", path], env=env)
    assert applied.returncode == 0, applied.stdout
    assert configure_calls(tmp_path)[0][0] == "event manager session cli username operator"
    running = json.loads((tmp_path / "configure.log.running").read_text())
    assert running["global"] == ['event manager session cli username "operator"']

    again = run_agent(["eem", "apply", "-c", path], env=env)
    assert again.returncode == 0
    assert "already match" in again.stdout
    assert len(configure_calls(tmp_path)) == 1

    doctor = run_agent(["doctor", "-c", path, "--json"], env=env)
    checks = dict((c["name"], c) for c in json.loads(doctor.stdout))
    assert checks["eem"]["status"] == "PASS", checks["eem"]

    removed = run_agent(["eem", "remove", "-c", path], env=env)
    assert removed.returncode == 0, removed.stdout
    assert configure_calls(tmp_path)[-1][-1] == 'no event manager session cli username "operator"'
    running = json.loads((tmp_path / "configure.log.running").read_text())
    assert running == {"applets": [], "global": []}


def test_another_session_user_on_the_router_is_replaced(tmp_path):
    path = make_config(tmp_path, BASE + "  session_user: operator\n")
    env = fake_env(tmp_path)
    assert run_agent(["eem", "apply", "-c", path], env=env).returncode == 0
    changed = make_config(tmp_path, BASE + "  session_user: eemuser\n")
    result = run_agent(["eem", "apply", "-c", changed], env=env)
    assert result.returncode == 0, result.stdout
    sent = configure_calls(tmp_path)[-1]
    assert sent[sent.index('no event manager session cli username "operator"') + 1:].count(
        "event manager session cli username eemuser") == 1
    running = json.loads((tmp_path / "configure.log.running").read_text())
    assert running["global"] == ['event manager session cli username "eemuser"']
    # Ours is not the router's any more: remove leaves the other user's line alone.
    config = configs.load(changed)
    text = 'event manager session cli username "operator"\n'
    assert eem.removal_lines(config, text) == []
    assert eem.compare(config, text)["session"] is False
    assert eem.compare(config, 'event manager session cli username "eemuser"\n')["session"]


def test_session_user_of_a_line():
    assert eem.session_user_of('event manager session cli username "operator"') == "operator"
    assert eem.session_user_of("event manager session cli username operator") == "operator"
    assert eem.session_user_of(" event manager session cli username  \"a.b@c\" ") == "a.b@c"
    assert eem.session_user_of("event manager environment q 1") is None


def test_doctor_names_the_session_user_the_router_has(tmp_path):
    path = make_config(tmp_path, BASE + "  session_user: operator\n")
    env = fake_env(tmp_path)
    assert run_agent(["eem", "apply", "-c", path], env=env).returncode == 0
    changed = make_config(tmp_path, BASE + "  session_user: eemuser\n")
    doctor = run_agent(["doctor", "-c", changed, "--json"], env=env)
    checks = dict((c["name"], c) for c in json.loads(doctor.stdout))
    assert checks["eem"]["status"] == "WARN"
    assert checks["eem"]["message"] == ('session user: the router has `event manager session cli '
                                        'username "operator"`, the config wants \'eemuser\'')
    assert checks["eem"]["fix"] == "`guestagent eem apply`"
