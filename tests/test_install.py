"""install.sh from an unpacked bundle into a scratch prefix, the way it runs in Guest Shell:
offline from the bundle's wheels (with `--wheels DIR` adding a PyYAML wheel for this machine, since
the bundle's is aarch64), config created once and kept, doctor, the applets applied through the
fake cli module, one cycle started as EEM starts it, upgrade and uninstall."""

import functools
import glob
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import ROOT
from tests.fakecli.install import session_env
from tests.test_bundle import NAME, build_bundle

FAKECLI = os.path.join(ROOT, "tests", "fakecli")
BARE_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


@functools.lru_cache(maxsize=None)
def python36():
    """Guest Shell runs 3.6: use a 3.6 here when there is one, else this interpreter."""
    for candidate in sorted(glob.glob("/root/.pyenv/versions/3.6*/bin/python3.6")) + ["python3.6"]:
        found = shutil.which(candidate)
        # A pyenv shim exists without a 3.6 behind it: ask the interpreter itself.
        if found and subprocess.run([found, "-c", "import venv"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL).returncode == 0:
            return found
    return sys.executable


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    tarball, _ = build_bundle(tmp_path_factory.mktemp("dist"))
    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(tarball) as tar:
        tar.extractall(str(unpacked))
    return os.path.join(str(unpacked), NAME)


@pytest.fixture(scope="module")
def local_wheels(tmp_path_factory):
    """PyYAML (the one binary dependency) at the bundle's version, for this machine's Python,
    as `./install.sh --dev` fetched it (the tests download nothing)."""
    return pyyaml_wheel_dir(python36(), str(tmp_path_factory.mktemp("local-wheels")))


def pyyaml_wheel_dir(py, directory):
    """`directory` holding the fetched PyYAML wheel for interpreter `py`, or a skip."""
    source = os.path.join(ROOT, ".cache", "wheels", "local")
    version = subprocess.check_output([py, "-c", "import sys; print('%d%d' % "
                                       "sys.version_info[:2])"], universal_newlines=True).strip()
    with open(os.path.join(ROOT, "constraints", "guestshell.txt")) as f:
        pin = [line.strip() for line in f if line.startswith("PyYAML==")][0]
    prefix = "PyYAML-{}-cp{}-".format(pin.split("==")[1], version)
    found = sorted(n for n in (os.listdir(source) if os.path.isdir(source) else [])
                   if n.startswith(prefix) and platform.machine() in n)
    if not found:
        pytest.skip("no {} wheel for cp{} in {}: ./install.sh --dev fetches it".format(
            pin, version, source))
    shutil.copy(os.path.join(source, found[0]), directory)
    return directory


def install(bundle_dir, prefix, *args, **kw):
    env = {"PATH": BARE_PATH, "HOME": str(prefix) + ".home"}
    env.update(kw.pop("env", {}))
    return subprocess.run([os.path.join(bundle_dir, "install.sh"), "--prefix", str(prefix),
                           "--python", python36()] + list(args),
                          env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)


# For each module of the agent and its dependencies in the venv: whether the interpreter would
# load its bytecode as it is (magic number, source mtime and size in the .pyc header, PEP 552
# flags 0) rather than compile the source again.
_STALE = r"""
import importlib.util, os, struct, sys, sysconfig
site = sysconfig.get_paths()["purelib"]
stale = []
for package in ("guestagent", "yaml", "requests", "prometheus_client", "dns", "urllib3"):
    for directory, dirs, names in os.walk(os.path.join(site, package)):
        for name in names:
            if not name.endswith(".py"):
                continue
            source = os.path.join(directory, name)
            cached = importlib.util.cache_from_source(source)
            try:
                with open(cached, "rb") as f:
                    header = f.read(16)
            except OSError:
                stale.append(source + ": no bytecode")
                continue
            info = os.stat(source)
            if sys.version_info >= (3, 7):
                magic, flags, mtime, size = struct.unpack("<4sIII", header)
            else:
                (magic, mtime, size), flags = struct.unpack("<4sII", header[:12]), 0
            if (magic, flags, mtime, size) != (importlib.util.MAGIC_NUMBER, 0,
                                               int(info.st_mtime) & 0xFFFFFFFF,
                                               info.st_size & 0xFFFFFFFF):
                stale.append(source + ": bytecode does not match")
print("\n".join(stale))
"""


def stale_bytecode(venv_python):
    """The modules of the venv that an import would compile again (none, after the installer)."""
    out = subprocess.run([venv_python, "-c", _STALE], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, cwd="/",
                         env={"PATH": BARE_PATH, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line]


def fake_cli_env(tmp_path):
    env = {"PYTHONPATH": FAKECLI, "FAKECLI_LOG": str(tmp_path / "configure.log")}
    env.update(session_env())
    return env


def site_config(prefix, device="onbox"):
    return """
agent: {{deadline_s: 14, state_dir: {p}/state}}
device: {{kind: {device}}}
journal: {{dir: {p}/journal}}
path_discovery: {{enabled: true, toward: 127.0.0.1}}
probes: {{icmp: {{count: 2, interval_s: 0.2, timeout_s: 1}}, traceroute: {{max_hops: 2}}}}
targets: [{{name: lo4, host: 127.0.0.1}}]
eem: {{python: {p}/venv/bin/python3, tracks: [10]}}
""".format(p=prefix, device=device)


def test_fresh_install_creates_the_layout_and_a_private_config(bundle_dir, local_wheels,
                                                               tmp_path):
    prefix = tmp_path / "guestagent"
    # A shell that writes no bytecode (some set PYTHONDONTWRITEBYTECODE=1): the install still
    # leaves it, so that no cycle compiles the agent again.
    result = install(bundle_dir, prefix, "--wheels", local_wheels, "--no-doctor",
                     env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stdout
    assert "== bundle checksums verified" in result.stdout
    assert "== installed guestagent" in result.stdout
    assert "== bytecode compiled for Python 3." in result.stdout
    stale = stale_bytecode(str(prefix / "venv" / "bin" / "python3"))
    assert stale == [], stale
    # The command is the plain script, started by the venv's Python.
    command = prefix / "venv" / "bin" / "guestagent"
    assert command.read_text().splitlines()[0] == "#!{}".format(prefix / "venv" / "bin" /
                                                                "python3")
    version = subprocess.run([str(command), "--version"], stdout=subprocess.PIPE, cwd="/",
                             universal_newlines=True, env={"PATH": BARE_PATH})
    assert version.returncode == 0 and version.stdout.startswith("guestagent ")
    config = prefix / "config.yaml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert (prefix / "state").is_dir() and (prefix / "journal").is_dir()
    text = config.read_text()
    # The example's paths follow the prefix; so does the applets' Python.
    assert "state_dir: {}/state".format(prefix) in text
    assert "/bootflash/guest-share/guestagent" not in text
    assert text.endswith("eem:\n  python: {}/venv/bin/python3\n".format(prefix))
    venv_python = str(prefix / "venv" / "bin" / "python3")

    def check_config():
        return subprocess.run([venv_python, "-m", "guestagent", "check-config", "-c",
                               str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              cwd="/", universal_newlines=True, env={"PATH": BARE_PATH})

    # The example names the Pushgateway's password and CA files, which the operator provides.
    check = check_config()
    assert check.returncode == 2, check.stdout
    assert "sinks.pushgateway.password_file: expected a readable file" in check.stdout
    assert "sinks.pushgateway.ca_file: expected a CA bundle" in check.stdout
    (prefix / "pushgateway.password").write_text("secret\n")
    import ssl
    paths = ssl.get_default_verify_paths()
    shutil.copy(paths.cafile or paths.openssl_cafile, str(prefix / "ca.pem"))
    check = check_config()
    assert check.returncode == 0, check.stdout
    import yaml
    with open(os.path.join(ROOT, "examples", "router.yaml")) as f:
        targets = len(yaml.safe_load(f)["targets"])
    assert check.stdout == "{}: ok ({} test point(s))\n".format(config, targets)
    # Installed from the bundle, at the bundle's pinned versions, into the venv only.
    listing = subprocess.run([venv_python, "-c", (
        "import yaml, requests, prometheus_client, dns, guestagent; "
        "print(yaml.__version__, requests.__version__, guestagent.__file__)")],
        universal_newlines=True, env={"PATH": BARE_PATH}, cwd="/", stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    # Nothing to stderr: requests warns there when its dependencies' versions do not suit it.
    assert listing.stderr == ""
    listing = listing.stdout
    yaml_version, requests_version, location = listing.split()
    assert (yaml_version, requests_version) == ("6.0.1", "2.27.1")
    assert location.startswith(str(prefix / "venv"))


def test_install_doctor_applets_cycle_upgrade_uninstall(bundle_dir, local_wheels, tmp_path):
    prefix = tmp_path / "guestagent"
    prefix.mkdir()
    config = prefix / "config.yaml"
    config.write_text(site_config(prefix))
    (prefix / "journal").mkdir()
    (prefix / "journal" / "reports.jsonl").write_text('{"earlier": "report"}\n')
    env = fake_cli_env(tmp_path)

    result = install(bundle_dir, prefix, "--wheels", local_wheels, "--apply-eem", env=env)
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert "== keeping {}".format(config) in out
    assert config.read_text() == site_config(prefix)  # never overwritten
    # doctor ran inside the install, through the fake cli.
    assert "PASS  config      {}: 1 test point(s)".format(config) in out
    assert "PASS  cli         show clock: *" in out
    # The applets went in through cli.configure(), exactly as rendered.
    venv_python = str(prefix / "venv" / "bin" / "python3")
    calls = [json.loads(line)["configure"]
             for line in (tmp_path / "configure.log").read_text().splitlines()]
    rendered = subprocess.check_output(
        [venv_python, "-m", "guestagent", "eem", "render", "-c", str(config)],
        universal_newlines=True, env={"PATH": BARE_PATH}, cwd="/").splitlines()
    assert calls == [rendered]
    assert (' action 2.0 cli command "guestshell run {} -m guestagent run -c {} --trigger '
            'timer"'.format(venv_python, config)) in rendered

    # The timer applet's command, as EEM runs it: from /, no TTY, a bare environment.
    command = rendered[3].split('"guestshell run ', 1)[1].rstrip('"').split()
    cycle = subprocess.run(command, cwd="/", stdin=subprocess.DEVNULL,
                           env=dict(session_env(), PATH=BARE_PATH, PYTHONPATH=FAKECLI),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
    assert cycle.returncode in (0, 1), cycle.stderr
    assert "device onbox" in cycle.stdout.splitlines()[0]
    lines = (prefix / "journal" / "reports.jsonl").read_text().splitlines()
    assert lines[0] == '{"earlier": "report"}'
    report = json.loads(lines[-1])
    assert report["cycle"]["trigger"] == "timer"
    assert report["agent"]["device"]["kind"] == "onbox"
    assert report["agent"]["python"].startswith(
        subprocess.check_output([python36(), "-c", "import platform; "
                                 "print(platform.python_version())"],
                                universal_newlines=True).strip())
    assert [p["target"] for p in report["probes"]][-1] == "lo4"

    # doctor now sees the applets; status answers from the journal.
    doctor = subprocess.run([venv_python, "-m", "guestagent", "doctor", "-c", str(config)],
                            env=dict(env, PATH=BARE_PATH), stdout=subprocess.PIPE, cwd="/",
                            universal_newlines=True)
    assert "PASS  eem         3 applet(s) match the config" in doctor.stdout

    # Upgrade (the same bundle again): config, state and journal stay; nothing else is sent.
    again = install(bundle_dir, prefix, "--wheels", local_wheels, "--apply-eem", env=env)
    assert again.returncode == 0, again.stdout
    assert "reusing" in again.stdout
    assert "already match the config; nothing sent" in again.stdout
    assert (prefix / "journal" / "reports.jsonl").read_text().splitlines() == lines
    assert config.read_text() == site_config(prefix)
    assert len((tmp_path / "configure.log").read_text().splitlines()) == 1

    # Uninstall: applets and code go, config, state and journal stay; twice is fine.
    gone = install(bundle_dir, prefix, "--uninstall", env=env)
    assert gone.returncode == 0, gone.stdout
    last = json.loads((tmp_path / "configure.log").read_text().splitlines()[-1])["configure"]
    assert last == ["no event manager applet QOE_TIMER", "no event manager applet QOE_TRACK_10",
                    "no event manager applet QOE_NOW"]
    assert not (prefix / "venv").exists()
    assert config.exists() and (prefix / "journal" / "reports.jsonl").exists()
    assert (prefix / "state").is_dir()
    assert install(bundle_dir, prefix, "--uninstall", env=env).returncode == 0
    purged = install(bundle_dir, prefix, "--uninstall", "--purge", env=env)
    assert purged.returncode == 0, purged.stdout
    assert not prefix.exists()


def test_a_damaged_bundle_is_refused(bundle_dir, local_wheels, tmp_path):
    copy = str(tmp_path / "bundle")
    shutil.copytree(bundle_dir, copy)
    with open(os.path.join(copy, "examples", "router.yaml"), "a") as f:
        f.write("# changed\n")
    result = install(copy, tmp_path / "ga", "--wheels", local_wheels)
    assert result.returncode == 1
    assert "examples/router.yaml: FAILED" in result.stdout
    assert "the bundle is damaged" in result.stdout
    assert not (tmp_path / "ga" / "venv").exists()


@pytest.mark.skipif(platform.machine() == "aarch64", reason="the refusal is for other machines")
def test_other_platforms_need_local_wheels(bundle_dir, tmp_path):
    result = install(bundle_dir, tmp_path / "ga")
    assert result.returncode == 1
    assert "the bundle's wheels are for aarch64 (IR1101 Guest Shell) and this is {}".format(
        platform.machine()) in result.stdout


def test_the_default_prefix_needs_guest_share(tmp_path):
    if os.path.isdir("/bootflash/guest-share"):
        pytest.skip("this machine has /bootflash/guest-share")
    result = subprocess.run([os.path.join(ROOT, "install.sh"), "--wheels", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    assert result.returncode == 1
    assert "/bootflash/guest-share is missing" in result.stdout


def test_usage_keeps_the_dev_mode():
    result = subprocess.run([os.path.join(ROOT, "install.sh"), "--bogus"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    assert result.returncode == 2
    assert "usage: " in result.stdout and " --dev\n" in result.stdout
