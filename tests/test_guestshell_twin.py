"""A Guest Shell twin: the agent installed and run the way an IR1101 runs it, against the `cli`
stand-in (tests/fakecli) installed where Guest Shell keeps its `cli` module.

How the router is reproduced (../shared/docs/platform.md, "Guest Shell" and "Guest Shell's user
and environment"):
- the "system" Python stands for Guest Shell's /usr/bin/python3: an interpreter laid out under
  <twin>/usr with its own lib/pythonX.Y/site-packages, holding the stand-in (installed there,
  never on PYTHONPATH). It is not a venv because a venv made from a venv does not see the first
  one's site-packages, and not pyenv's own tree because /root is closed to uid 1000;
- the bundle (`guestagent bundle`, from .cache/wheels) is unpacked in <twin>/bootflash/guest-share
  and installed by its install.sh, as IOS starts it (`guestshell run bash .../install.sh
  --apply-eem`): the applets go in through the stand-in's configure();
- every process runs as uid 1000 (Guest Shell's `guestshell`), under `env -i` with only PATH and
  the SHELL_SESSION_* variables (no LANG: the C locale), from `/`, stdin /dev/null, in a new
  session (no TTY);
- cycles run with the applets' exact command lines, read back from the stand-in's running config.
Test points are loopback only (the example's are replaced).
"""

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tarfile
import tempfile

import pytest
import yaml

from tests.conftest import ROOT, is_root
from tests.fakecli import install as fakecli
from tests.test_bundle import NAME, build_bundle
from tests.test_install import BARE_PATH, python36, pyyaml_wheel_dir

GUEST_UID = 1000
EMBEDDED = os.path.join(ROOT, "guestagent", "device", "ir1101")
# The twin's router: the embedded outputs with another identity, so that data read from the
# stand-in cannot be confused with the simulated router's (ir1101-site7, FCW2406XXXX).
TWIN_HOSTNAME, TWIN_SERIAL = "ir1101-twin", "FCW2406TWIN"
SIMULATED_HOSTNAME, SIMULATED_SERIAL = "ir1101-site7", "FCW2406XXXX"


def base_python(python):
    """The installed interpreter behind `python` (a venv's or not): (executable, prefix, X.Y)."""
    out = subprocess.check_output([python, "-I", "-c", (
        "import sys; print(sys.base_prefix); print('%d.%d' % sys.version_info[:2])")],
        universal_newlines=True).split()
    prefix, version = out[0], out[1]
    return os.path.join(prefix, "bin", "python" + version), prefix, version


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def build_system_python(python, usr):
    """An interpreter at <usr>/bin/python3 with the stdlib of `python` and an empty
    site-packages of its own, readable and runnable by every user (as /usr is)."""
    executable, prefix, version = base_python(python)
    stdlib = "python" + version
    for directory in ("bin", os.path.join("lib", stdlib, "site-packages")):
        os.makedirs(os.path.join(usr, directory))
    skip = {"site-packages", "test", "idlelib", "tkinter", "turtledemo"}
    source_lib = os.path.join(prefix, "lib", stdlib)
    for directory, dirs, files in os.walk(source_lib):
        dirs[:] = [d for d in dirs if not (directory == source_lib and d in skip)]
        target_dir = os.path.join(usr, "lib", stdlib, os.path.relpath(directory, source_lib))
        if not os.path.isdir(target_dir):
            os.makedirs(target_dir)
        for name in files:
            _link_or_copy(os.path.join(directory, name), os.path.join(target_dir, name))
    for name in os.listdir(os.path.join(prefix, "lib")):
        if name.startswith("libpython"):
            _link_or_copy(os.path.join(prefix, "lib", name), os.path.join(usr, "lib", name))
    # A shared build finds libpython through an absolute RUNPATH into the original prefix,
    # which uid 1000 cannot reach: point it at the copy ($ORIGIN/../lib, shorter, NUL-padded).
    with open(executable, "rb") as f:
        binary = f.read()
    runpath = (prefix + "/lib").encode() + b"\0"
    if binary.count(runpath) == 1:
        relative = b"$ORIGIN/../lib"
        binary = binary.replace(runpath, relative + b"\0" * (len(runpath) - len(relative)))
    target = os.path.join(usr, "bin", stdlib)
    with open(target, "wb") as f:
        f.write(binary)
    os.chmod(target, 0o755)
    os.symlink(stdlib, os.path.join(usr, "bin", "python3"))
    for directory, dirs, _files in os.walk(usr):
        for name in dirs:
            os.chmod(os.path.join(directory, name), 0o755)
    os.chmod(usr, 0o755)
    return os.path.join(usr, "bin", "python3")


def dummy_package(site_dir, name, version):
    """A project `name` at `version` in a system site-packages, as a distribution package would
    leave it, whose module says it is the system's (so a test sees which one was imported)."""
    module = name.replace("-", "_")
    os.makedirs(os.path.join(site_dir, module))
    with open(os.path.join(site_dir, module, "__init__.py"), "w") as f:
        f.write("__version__ = {!r}\nGUEST_SHELL_SYSTEM_COPY = True\n".format(version))
    info = os.path.join(site_dir, "{}-{}.dist-info".format(module, version))
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: {}\nVersion: {}\n".format(name, version))
    with open(os.path.join(info, "INSTALLER"), "w") as f:
        f.write("rpm\n")


def chown_tree(path, uid, gid):
    for directory, dirs, files in os.walk(path):
        os.chown(directory, uid, gid)
        for name in files:
            os.lchown(os.path.join(directory, name), uid, gid)


@pytest.fixture(scope="module")
def guest_user():
    """Guest Shell's user: uid 1000 (`guestshell`, group wheel, on the router); created here
    when no uid 1000 exists."""
    if not is_root():
        pytest.skip("the twin runs the agent as uid 1000: needs root to switch to it")
    try:
        entry = pwd.getpwuid(GUEST_UID)
    except KeyError:
        if subprocess.run(["getent", "group", "wheel"], stdout=subprocess.DEVNULL).returncode:
            subprocess.check_call(["groupadd", "wheel"])
        subprocess.check_call(["useradd", "-u", str(GUEST_UID), "-g", "wheel", "-m",
                               "guestshell"])
        entry = pwd.getpwuid(GUEST_UID)
    groups = sorted(set([entry.pw_gid] + [g.gr_gid for g in grp.getgrall()
                                          if entry.pw_name in g.gr_mem]))
    return entry, groups


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    return build_bundle(tmp_path_factory.mktemp("dist"))[0]


# The two Guest Shells: the 3.6 of IOS XE 17.x whose system site-packages hold other versions of
# two of our dependencies (python3-requests is an older release; prometheus_client at our very
# version but another copy), and the current Python whose system holds none of them.
SHELLS = [("py36-system-has-other-versions", "3.6", {"requests": "2.20.0",
                                                     "prometheus-client": "0.17.1"}),
          ("current-system-has-none", "current", {})]


@pytest.fixture(scope="module", params=SHELLS, ids=[s[0] for s in SHELLS])
def twin(request, guest_user, tarball):
    label, which, system_packages = request.param
    python = python36() if which == "3.6" else sys.executable
    if which == "3.6" and base_python(python)[2] != "3.6":
        pytest.skip("no Python 3.6 on this machine (.ci/run looks for one)")
    user, groups = guest_user
    root = tempfile.mkdtemp(prefix="guestagent-twin-")
    try:
        os.chmod(root, 0o755)
        usr = os.path.join(root, "usr")
        system_python = build_system_python(python, usr)
        site_dir = fakecli.site_dir(system_python)
        for name, version in sorted(system_packages.items()):
            dummy_package(site_dir, name, version)
        router = make_router(os.path.join(root, "router"))
        fakecli.install_into(system_python, fixtures=router)
        os.makedirs(os.path.join(root, "wheels"))
        wheels = pyyaml_wheel_dir(system_python, os.path.join(root, "wheels"))

        share = os.path.join(root, "bootflash", "guest-share")
        os.makedirs(share)
        with tarfile.open(tarball) as tar:
            tar.extractall(share)
        prefix = os.path.join(share, "guestagent")
        os.makedirs(prefix)
        config = os.path.join(prefix, "config.yaml")
        with open(config, "w") as f:
            f.write(twin_config(prefix))
        os.chmod(config, 0o600)
        # guest-share belongs to the Guest Shell user, as on the router.
        chown_tree(os.path.join(root, "bootflash"), user.pw_uid, user.pw_gid)
        os.chmod(wheels, 0o755)

        state = dict(label=label, root=root, usr=usr, python=system_python, site_dir=site_dir,
                     router=router, wheels=wheels, share=share, prefix=prefix, config=config,
                     bundle=os.path.join(share, NAME), user=user, groups=groups,
                     log=os.path.join(share, "fakecli.log"),
                     venv_python=os.path.join(prefix, "venv", "bin", "python3"),
                     journal=os.path.join(prefix, "journal", "reports.jsonl"))
        yield state
    finally:
        shutil.rmtree(root, ignore_errors=True)


def make_router(directory):
    """The embedded IR1101 outputs, with the twin's own hostname and serial in `show version`."""
    os.makedirs(directory)
    for name in os.listdir(EMBEDDED):
        if name.startswith("show_version"):
            continue
        shutil.copy(os.path.join(EMBEDDED, name), directory)
    source = [n for n in os.listdir(EMBEDDED) if n.startswith("show_version")][0]
    with open(os.path.join(EMBEDDED, source)) as f:
        text = f.read()
    assert SIMULATED_HOSTNAME in text and SIMULATED_SERIAL in text
    text = text.replace(SIMULATED_HOSTNAME, TWIN_HOSTNAME).replace(SIMULATED_SERIAL, TWIN_SERIAL)
    with open(os.path.join(directory, "show_version__twin-synthetic.txt"), "w") as f:
        f.write(text)
    for directory_, dirs, files in os.walk(directory):
        os.chmod(directory_, 0o755)
    return directory


def twin_config(prefix):
    """examples/router.yaml with the paths under the prefix, loopback test points only and no
    sink off the machine; the router section and device.kind (auto) as shipped."""
    with open(os.path.join(ROOT, "examples", "router.yaml")) as f:
        config = yaml.safe_load(f)
    config["agent"]["state_dir"] = os.path.join(prefix, "state")
    config["journal"]["dir"] = os.path.join(prefix, "journal")
    config["path_discovery"]["toward"] = "127.0.0.1"
    config["probes"]["icmp"] = {"count": 3, "interval_s": 0.2, "timeout_s": 1.0}
    config["probes"]["traceroute"] = {"max_hops": 2, "wait_s": 1.0, "queries": 1}
    config["targets"] = [
        {"name": "isp-edge", "host": "127.0.0.1", "role": "isp-edge", "group": ["uplink"]},
        {"name": "datacenter", "host": "127.0.0.2", "role": "target"},
        {"name": "datacenter-v6", "host": "::1", "role": "target"},
    ]
    del config["sinks"]
    config["eem"] = {"python": os.path.join(prefix, "venv", "bin", "python3"), "tracks": [10]}
    assert config["device"]["kind"] == "auto"
    return yaml.safe_dump(config, default_flow_style=False)


def as_guest(twin, argv, session=True, timeout=300):
    """`argv` as IOS runs it in Guest Shell: uid 1000, `env -i` with PATH and the session
    variables (plus the stand-in's own log), cwd /, no stdin, no controlling terminal."""
    env = {"PATH": BARE_PATH, "FAKECLI_LOG": twin["log"], "FAKECLI_LOG_EXECUTE": "1"}
    if session:
        env.update(fakecli.session_env())
    user, groups = twin["user"], twin["groups"]

    def demote():
        os.setgroups(groups)
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return subprocess.run(["/usr/bin/env", "-i"] + ["{}={}".format(k, v) for k, v in
                                                    sorted(env.items())] + list(argv),
                          env={}, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                          preexec_fn=demote, start_new_session=True)


def install(twin):
    result = as_guest(twin, ["bash", os.path.join(twin["bundle"], "install.sh"), "--prefix",
                             twin["prefix"], "--python", twin["python"], "--wheels",
                             twin["wheels"], "--apply-eem"])
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def applet_commands(twin):
    """{applet: command} from the stand-in's running config, as IOS prints it: what follows
    `guestshell run` in each applet's `action ... cli command "..."` line."""
    shown = as_guest(twin, [twin["python"], "-c", "import cli; print(cli.execute("
                            "'show running-config | section event manager'))"])
    assert shown.returncode == 0, shown.stderr
    commands, applet = {}, None
    for line in shown.stdout.splitlines():
        if line.startswith("event manager applet "):
            applet = line.split()[3]
        elif applet and 'cli command "guestshell run ' in line:
            commands[applet] = line.split('cli command "guestshell run ', 1)[1].rsplit('"', 1)[0]
    return commands


def journal(twin):
    """The journaled reports (compact lines read back through the agent's own reader)."""
    from guestagent.sinks import journal as journal_files
    return list(journal_files.read(os.path.dirname(twin["journal"])))


def run_cycle(twin, command, session=True):
    """One applet's command as EEM runs it; returns (the cycle's report, the process)."""
    before = len(journal(twin)) if os.path.exists(twin["journal"]) else 0
    # EEM substitutes its variables before Guest Shell sees the line.
    argv = command.replace("$_track_state", "down").split()
    result = as_guest(twin, argv, session=session, timeout=120)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    reports = journal(twin)
    assert len(reports) == before + 1, result.stdout + result.stderr
    return reports[-1], result


def doctor(twin, session=True):
    result = as_guest(twin, [twin["venv_python"], "-m", "guestagent", "doctor", "-c",
                             twin["config"]], session=session)
    assert "Traceback" not in result.stderr, result.stderr
    lines = dict((line[6:17].strip(), line) for line in result.stdout.splitlines()
                 if line[:4] in ("PASS", "WARN", "FAIL", "SKIP"))
    return result.returncode, lines


def fixture_operations():
    from guestagent import ios
    name = [n for n in os.listdir(EMBEDDED) if n.startswith("show_ip_sla_statistics__")][0]
    with open(os.path.join(EMBEDDED, name)) as f:
        return sorted(ios.parser("show-ip-sla-statistics")(f.read())["operations"])


def summary(report):
    agent = report["agent"]
    return "device {} ({}), hostname {}, serial {}, IP SLA operations {}, errors {}".format(
        agent["device"]["kind"], agent["device"].get("reason", "-"), agent.get("hostname"),
        agent.get("serial"), len(report.get("ipsla") or []), len(report["errors"]))


def show(capsys, title, lines):
    with capsys.disabled():
        sys.stdout.write("\n[twin] {}\n".format(title))
        for line in lines:
            sys.stdout.write("[twin]   {}\n".format(line))


def assert_no_router_data(report):
    agent = report["agent"]
    assert agent["device"]["kind"] == "none"
    assert agent["simulated"] is False
    assert agent["hostname"] not in (TWIN_HOSTNAME, SIMULATED_HOSTNAME)
    assert (agent["serial"], agent["platform"], agent["ios_version"]) == (None, None, None)
    assert report["ipsla"] == [] and report["location"] == {}
    assert not report.get("cellular") and not report.get("interfaces")
    assert [e for e in report["errors"] if e["where"] == "device"], report["errors"]


def test_installed_and_run_as_ios_runs_it(twin, capsys):
    out = install(twin)
    assert "created {}/venv (sees the system site-packages".format(twin["prefix"]) in out
    assert "PASS  cli         show clock: " in out  # doctor, inside the install, through IOS
    commands = applet_commands(twin)
    assert sorted(commands) == ["QOE_NOW", "QOE_TIMER", "QOE_TRACK_10"]
    assert commands["QOE_TIMER"] == "{} -m guestagent run -c {} --trigger timer".format(
        twin["venv_python"], twin["config"])

    # Our pinned dependencies, from the venv, whatever the system site-packages hold.
    pins = as_guest(twin, [twin["venv_python"], "-c", (
        "import json, requests, prometheus_client, yaml, dns, cli; print(json.dumps("
        "dict((m.__name__, [getattr(m, '__version__', None), m.__file__]) for m in "
        "(requests, prometheus_client, yaml, dns, cli))))")])
    assert pins.returncode == 0 and pins.stderr == "", pins.stderr
    modules = json.loads(pins.stdout)
    venv = os.path.join(twin["prefix"], "venv") + os.sep
    assert modules["requests"][0] == "2.27.1"
    for name in ("requests", "prometheus_client", "yaml", "dns"):
        assert modules[name][1].startswith(venv), (name, modules[name])
    assert modules["cli"][1].startswith(twin["site_dir"] + os.sep)  # Guest Shell's, found

    operations = fixture_operations()
    lines = []
    logged_before = len(cli_log(twin))
    for applet in ("QOE_TIMER", "QOE_TRACK_10", "QOE_NOW"):
        report, result = run_cycle(twin, commands[applet])
        agent = report["agent"]
        assert agent["device"]["kind"] == "onbox", summary(report)
        assert agent["simulated"] is False
        assert (agent["hostname"], agent["serial"]) == (TWIN_HOSTNAME, TWIN_SERIAL)
        assert agent["instance"] == TWIN_HOSTNAME
        assert sorted(op["id"] for op in report["ipsla"]) == operations
        assert report["location"]["gps"]["slot"] == "0/1/0", report["location"]  # read from IOS
        assert [p["target"] for p in report["probes"]][-3:] == ["isp-edge", "datacenter",
                                                                  "datacenter-v6"]
        assert "device onbox" in result.stdout.splitlines()[0]
        lines.append("{} ({}): {}".format(applet, report["cycle"]["trigger"], summary(report)))
        lines.extend("  error {}: {}".format(e["where"], e["message"]) for e in report["errors"])
    # The collectors ran at once against the installed module (not one on PYTHONPATH): the
    # device lock let no two IOS calls overlap, which the stand-in would log as "concurrent".
    logged = cli_log(twin)[logged_before:]
    executes = [e for e in logged if "execute" in e]
    assert len(executes) >= 3 * len(operations) and not [e for e in logged if "concurrent" in e]
    lines.append("IOS calls: {} from 3 cycles, none concurrent".format(len(executes)))
    show(capsys, "{}: cycles with the applets' command lines".format(twin["label"]), lines)


def cli_log(twin):
    """The stand-in's log: configure(), execute() and concurrent-use lines (JSON)."""
    if not os.path.exists(twin["log"]):
        return []
    with open(twin["log"], encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize("how", ["missing", "import", "syntax", "noexecute"])
def test_without_a_working_cli_no_router_data(twin, capsys, how):
    if not os.path.exists(twin["venv_python"]):
        install(twin)
    timer = "{} -m guestagent run -c {} --trigger timer".format(twin["venv_python"],
                                                                 twin["config"])
    try:
        if how == "missing":
            fakecli.remove_from(twin["python"])
        else:
            fakecli.break_in(twin["python"], how=how)
        report, _ = run_cycle(twin, timer)
        code, checks = doctor(twin)
    finally:
        fakecli.install_into(twin["python"], fixtures=twin["router"])
    assert_no_router_data(report)
    reason = report["agent"]["device"]["reason"]
    word = "missing" if how == "missing" else "broken"
    assert reason.startswith("'import cli': "), reason
    assert word in reason and "IOS session variables" in reason and "no router data" in reason
    assert code == 1
    assert checks["cli"].startswith("FAIL  cli         {} (".format(word)), checks["cli"]
    assert "-- fix: " in checks["cli"]
    show(capsys, "{}: cli {}: {}".format(twin["label"], how, summary(report)),
         ["error {}: {}".format(e["where"], e["message"]) for e in report["errors"]] +
         [checks["cli"]])


def test_started_outside_ios_no_router_data(twin, capsys):
    """cron or SSH inside Guest Shell: no SHELL_SESSION_* variables, the module fails at import."""
    if not os.path.exists(twin["venv_python"]):
        install(twin)
    timer = "{} -m guestagent run -c {} --trigger timer".format(twin["venv_python"],
                                                                 twin["config"])
    report, _ = run_cycle(twin, timer, session=False)
    assert_no_router_data(report)
    assert "fails at import without the IOS session variables" in \
        report["agent"]["device"]["reason"]
    code, checks = doctor(twin, session=False)
    assert code == 1
    assert checks["cli"].startswith("FAIL  cli         no IOS session ("), checks["cli"]
    assert "guestshell run" in checks["cli"]
    show(capsys, "{}: no IOS session: {}".format(twin["label"], summary(report)),
         [checks["cli"]])


def test_the_venv_of_an_older_installer_is_found_and_recreated(twin, capsys):
    """The defect this twin was built for: a venv that hides the system site-packages cannot see
    `cli`. Its cycle reads nothing from the router, and install.sh replaces that venv."""
    if not os.path.exists(twin["venv_python"]):
        install(twin)
    cfg = os.path.join(twin["prefix"], "venv", "pyvenv.cfg")
    with open(cfg) as f:
        text = f.read()
    assert "include-system-site-packages = true" in text
    with open(cfg, "w") as f:
        f.write(text.replace("include-system-site-packages = true",
                             "include-system-site-packages = false"))
    timer = "{} -m guestagent run -c {} --trigger timer".format(twin["venv_python"],
                                                                 twin["config"])
    report, _ = run_cycle(twin, timer)
    assert_no_router_data(report)
    assert "missing from the path of" in report["agent"]["device"]["reason"]
    out = install(twin)
    assert "recreating {}/venv (it hid the system site-packages".format(twin["prefix"]) in out
    report, _ = run_cycle(twin, timer)
    assert report["agent"]["device"]["kind"] == "onbox"
    assert report["agent"]["hostname"] == TWIN_HOSTNAME
    show(capsys, "{}: venv of an older installer: {}".format(twin["label"], summary(report)), [])


def test_never_simulated_data(twin):
    if not os.path.exists(twin["journal"]):
        pytest.skip("no cycle ran")
    for report in journal(twin):
        agent = report["agent"]
        assert agent["device"]["kind"] in ("onbox", "none")
        assert agent["simulated"] is False
        assert agent["hostname"] != SIMULATED_HOSTNAME and agent["serial"] != SIMULATED_SERIAL
