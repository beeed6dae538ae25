"""`guestagent doctor` on the environment Guest Shell gives the agent: which way ping works as
this user, traceroute present or not, the locale, secret files, and nothing secret printed.

The non-root runs reproduce Guest Shell's user (uid 1000, platform.md): in a network namespace of
the test's own, where `net.ipv4.ping_group_range` (per namespace) refuses or allows unprivileged
ICMP, with a copy of ping that has no file capabilities.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

import pytest

from guestagent import cli as command_line
from tests import fakecli_env
from tests.conftest import ROOT, is_root

BASE = """
agent: {deadline_s: 14, state_dir: STATE}
device: {kind: KIND}
path_discovery: {enabled: true, toward: 127.0.0.1}
targets: [{name: lo4, host: 127.0.0.1}]
"""
BARE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
GUESTSHELL_UID = 1000


def write(path, text, mode=0o600):
    with open(str(path), "w") as f:
        f.write(text)
    os.chmod(str(path), mode)
    return str(path)


def doctor_json(tmp_path, capsys, text, kind="simulated", mode=0o600):
    path = write(tmp_path / "config.yaml", text.replace("STATE", str(tmp_path / "state"))
                 .replace("KIND", kind), mode)
    code = command_line.main(["doctor", "-c", path, "--json"])
    out = capsys.readouterr().out
    return code, dict((c["name"], c) for c in json.loads(out)), out


def _sudo_option_exists():
    from guestagent import probes
    return "sudo" in probes.options("icmp").fields


# -- ping --------------------------------------------------------------------------------------

@pytest.mark.skipif(not is_root(), reason="root's ping")
def test_plain_ping_works_as_root(tmp_path, capsys):
    code, checks, _ = doctor_json(tmp_path, capsys, BASE)
    assert checks["ping"]["status"] == "PASS"
    assert checks["ping"]["message"] == ("plain ping works as root (uid 0): "
                                         "`ping -c 1 -W 1 127.0.0.1`")


class GuestShellUser(object):
    """Runs `python -m guestagent ...` as uid 1000 in a new network namespace, with a ping
    copy that lost its file capabilities first on PATH and `env -i` (C locale)."""

    def __init__(self):
        self.created_user = False
        try:
            self.name = pwd.getpwuid(GUESTSHELL_UID).pw_name
        except KeyError:
            subprocess.check_call(["useradd", "-u", str(GUESTSHELL_UID), "-M", "guestshell"])
            self.created_user = True
            self.name = "guestshell"
        self.gid = pwd.getpwuid(GUESTSHELL_UID).pw_gid
        self.dir = tempfile.mkdtemp(prefix="ga-guestshell-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.bin = os.path.join(self.dir, "bin")
        os.mkdir(self.bin)
        shutil.copy("/usr/bin/ping", os.path.join(self.bin, "ping"))  # no xattrs: no caps
        self.state = os.path.join(self.dir, "state")
        os.mkdir(self.state)
        os.chown(self.state, GUESTSHELL_UID, self.gid)
        self.sudoers = None

    def config(self, text):
        path = write(os.path.join(self.dir, "config.yaml"),
                     text.replace("STATE", self.state).replace("KIND", "simulated"))
        os.chown(path, GUESTSHELL_UID, self.gid)
        return path

    def allow_sudo(self):
        """Passwordless sudo, as Guest Shell's user has it; removed by close()."""
        self.sudoers = "/etc/sudoers.d/zz-guestagent-test-{}".format(os.getpid())
        write(self.sudoers, "{} ALL=(root) NOPASSWD: ALL\n".format(self.name), 0o440)

    def _hidden(self):
        """Paths under /root (0700) that the user must reach: the interpreter and the venv.
        They are bound again inside a tmpfs over /root, in the test's own mount namespace."""
        paths = set()
        for path in (sys.base_prefix, sys.prefix, os.path.realpath(sys.executable), ROOT):
            if path.startswith("/root/"):
                parts = path.split("/")
                paths.add("/".join(parts[:3]))  # /root/<first level>
        return sorted(paths)

    def run(self, args, ping_group_range):
        script = ["set -e", "ip link set lo up",
                  "echo '{}' > /proc/sys/net/ipv4/ping_group_range".format(ping_group_range)]
        hidden = self._hidden()
        for i, path in enumerate(hidden):
            keep = os.path.join(self.dir, "keep{}".format(i))
            os.mkdir(keep)
            script.append("mount --bind '{}' '{}'".format(path, keep))
        if hidden:
            script.append("mount -t tmpfs -o mode=0755 tmpfs /root")
            for i, path in enumerate(hidden):
                script.append("mkdir -p '{0}' && mount --bind '{1}/keep{2}' '{0}'".format(
                    path, self.dir, i))
        argv = ["setpriv", "--reuid", str(GUESTSHELL_UID), "--regid", str(self.gid),
                "--init-groups", "env", "-i", "PATH={}:{}".format(self.bin, BARE_PATH),
                "PYTHONPATH=" + ROOT, sys.executable, "-m", "guestagent"] + list(args)
        script.append("cd / && exec " + " ".join("'{}'".format(a) for a in argv))
        return subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "sh", "-c",
                               "\n".join(script)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120)

    def close(self):
        if self.sudoers and os.path.exists(self.sudoers):
            os.remove(self.sudoers)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.created_user:
            subprocess.call(["userdel", "guestshell"])


@pytest.fixture
def guestshell_user():
    if not is_root():
        pytest.skip("running as uid 1000 in a new network namespace needs root")
    for program in ("unshare", "setpriv", "ip"):
        if not shutil.which(program):
            pytest.skip("{} is not installed".format(program))
    user = GuestShellUser()
    try:
        yield user
    finally:
        user.close()


def _doctor_as(user, ping_group_range):
    path = user.config(BASE.replace("enabled: true", "enabled: false"))
    result = user.run(["doctor", "-c", path, "--json"], ping_group_range)
    assert "Traceback" not in result.stderr, result.stderr
    checks = dict((c["name"], c) for c in json.loads(result.stdout))
    return result, checks


def test_plain_ping_works_for_the_user_when_ping_group_range_allows_it(guestshell_user):
    result, checks = _doctor_as(guestshell_user, "0 2147483647")
    assert checks["ping"] == {
        "name": "ping", "status": "PASS", "fix": None,
        "message": "plain ping works as {} (uid 1000): `ping -c 1 -W 1 127.0.0.1`".format(
            guestshell_user.name)}
    # The same run as Guest Shell's user: a C locale, and its own files.
    assert checks["locale"]["message"].startswith("C locale, no LANG/LC_ALL")
    assert checks["secrets"]["status"] == "PASS"
    assert checks["state dir"]["status"] == "PASS"


def test_neither_plain_nor_sudo_ping(guestshell_user):
    result, checks = _doctor_as(guestshell_user, "1 0")
    ping = checks["ping"]
    assert ping["status"] == "FAIL" and result.returncode == 1
    assert ping["message"].startswith(
        "neither plain ping nor sudo -n ping works: plain ping is refused as {} (uid 1000): "
        "ping: socket: Operation not permitted; `sudo -n ping -c 1 -W 1 127.0.0.1`: ".format(
            guestshell_user.name))
    assert ping["message"].endswith(("sudo: a password is required", "sudo is not installed"))
    assert "ping_group_range='0 2147483647'" in ping["fix"]
    assert "passwordless sudo" in ping["fix"]


def test_ping_that_needs_sudo(guestshell_user):
    if not shutil.which("sudo"):
        pytest.skip("sudo is not installed")
    guestshell_user.allow_sudo()
    result, checks = _doctor_as(guestshell_user, "1 0")
    ping = checks["ping"]
    assert ping["message"].startswith(
        "ping needs sudo: works with sudo -n (probes.icmp.sudo: auto does it); plain ping is "
        "refused as {} (uid 1000): ping: socket: Operation not permitted".format(
            guestshell_user.name))
    # With the prober's sudo option that is how cycles ping; without it, they cannot.
    assert ping["status"] == ("PASS" if _sudo_option_exists() else "FAIL")


# -- traceroute ----------------------------------------------------------------------------------

def _path_without_traceroute(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("ping"), str(bin_dir / "ping"))
    monkeypatch.setenv("PATH", str(bin_dir))


def test_traceroute_present(tmp_path, capsys):
    if not shutil.which("traceroute"):
        pytest.skip("traceroute is not installed")
    code, checks, _ = doctor_json(tmp_path, capsys, BASE)
    assert checks["traceroute"]["status"] == "PASS"
    assert checks["traceroute"]["message"] == "`traceroute -n -m 1 -q 1 -w 1 127.0.0.1` works"


def test_traceroute_absent_on_a_router_goes_via_ios(tmp_path, capsys, monkeypatch):
    fakecli_env.importable(monkeypatch, FAKECLI_LOG=str(tmp_path / "configure.log"))
    _path_without_traceroute(tmp_path, monkeypatch)
    try:
        code, checks, _ = doctor_json(tmp_path, capsys, BASE, kind="onbox")
    finally:
        fakecli_env.forget()
    assert checks["cli"]["status"] == "PASS"
    assert checks["traceroute"]["status"] == "WARN"
    assert checks["traceroute"]["message"] == (
        "traceroute is not installed: path discovery goes via IOS (`via: ios` traceroute, the "
        "router's path without Guest Shell's NAT hop)")
    assert checks["traceroute"]["fix"].startswith("`sudo yum install traceroute`")


def test_traceroute_absent_off_a_router_fails(tmp_path, capsys, monkeypatch):
    _path_without_traceroute(tmp_path, monkeypatch)
    code, checks, _ = doctor_json(tmp_path, capsys, BASE)
    assert code == 1
    assert checks["traceroute"]["status"] == "FAIL"
    assert checks["traceroute"]["message"].startswith("traceroute is not installed and there is "
                                                      "no router to trace from")


# -- locale ----------------------------------------------------------------------------------

def test_locale_line_under_eems_bare_environment(tmp_path):
    config = write(tmp_path / "config.yaml", BASE.replace("STATE", str(tmp_path / "state"))
                   .replace("KIND", "simulated"))
    runs = {}
    for name, extra in (("c", {}), ("utf8", {"LANG": "C.UTF-8"})):
        env = dict({"PATH": BARE_PATH, "PYTHONPATH": ROOT}, **extra)
        result = subprocess.run([sys.executable, "-m", "guestagent", "doctor", "-c", config],
                                env=env, cwd="/", stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        assert b"Traceback" not in result.stderr, result.stderr
        runs[name] = [line for line in result.stdout.decode("ascii").splitlines()
                      if line.startswith("PASS  locale")][0]
    assert runs["c"].startswith("PASS  locale      C locale, no LANG/LC_ALL")
    assert runs["c"].endswith("fine, the agent reads its files as UTF-8 and escapes what the "
                              "console cannot print")
    assert runs["utf8"].startswith("PASS  locale      LANG=C.UTF-8 (UTF-8)")


# -- secret files and secrets in the output ----------------------------------------------------

SINK = ("sinks: {pushgateway: {url: 'http://127.0.0.1:9', timeout_s: 1, username: fleet, "
        "password_file: PWFILE}}\n")


def test_config_readable_by_others_fails_with_the_fix(tmp_path, capsys):
    code, checks, _ = doctor_json(tmp_path, capsys, BASE, mode=0o644)
    path = str(tmp_path / "config.yaml")
    assert code == 1
    assert checks["secrets"] == {
        "name": "secrets", "status": "FAIL", "fix": "`chmod 600 {}`".format(path),
        "message": "config {} is readable by group and others (mode 0644)".format(path)}


def test_secret_files_readable_by_group_or_missing_fail(tmp_path, capsys):
    password = write(tmp_path / "pw", "s3cret-pw\n", 0o640)
    code, checks, out = doctor_json(tmp_path, capsys, BASE + SINK.replace("PWFILE", password))
    assert checks["secrets"]["status"] == "FAIL"
    assert checks["secrets"]["message"] == (
        "sinks.pushgateway.password_file {} is readable by group (mode 0640)".format(password))
    assert checks["secrets"]["fix"] == "`chmod 600 {}`".format(password)
    assert "s3cret" not in out

    missing = str(tmp_path / "nowhere")
    code, checks, out = doctor_json(tmp_path, capsys, BASE + SINK.replace("PWFILE", missing))
    assert checks["secrets"]["status"] == "FAIL"
    assert checks["secrets"]["message"] == (
        "sinks.pushgateway.password_file {} cannot be read: No such file or "
        "directory".format(missing))


def test_secret_files_owner_only_pass(tmp_path, capsys):
    password = write(tmp_path / "pw", "s3cret-pw\n")
    token = write(tmp_path / "token", "t0ken-value\n")
    text = BASE + (
        "sinks:\n"
        "  pushgateway: {url: 'http://127.0.0.1:9', timeout_s: 1, username: fleet,\n"
        "                password_file: %s}\n"
        "  victoriametrics: {url: 'http://127.0.0.1:9', bearer_token_file: %s}\n" % (password,
                                                                                  token))
    code, checks, out = doctor_json(tmp_path, capsys, text)
    assert checks["secrets"]["status"] == "PASS", checks["secrets"]
    assert checks["secrets"]["message"] == "{}, {}, {} readable by the owner only".format(
        tmp_path / "config.yaml", password, token)
    assert "s3cret" not in out and "t0ken" not in out


def test_no_secret_in_any_doctor_line(tmp_path, capsys):
    """Inline secrets, secret files' contents and URL credentials never reach the output, in
    text or JSON, even where a message would quote them."""
    password = write(tmp_path / "pw", "s3cret-file\n", 0o644)
    text = BASE + ("sinks: {pushgateway: {url: 'http://127.0.0.1:9', timeout_s: 1, "
                   "username: fleet, password_file: %s},\n"
                   "  victoriametrics: {url: 'http://127.0.0.1:9', bearer_token: s3cret-inline}}"
                   "\n" % password)
    code, checks, out = doctor_json(tmp_path, capsys, text, mode=0o644)
    assert "s3cret" not in out
    path = write(tmp_path / "config.yaml", text.replace("STATE", str(tmp_path / "s"))
                 .replace("KIND", "simulated"), 0o644)
    assert command_line.main(["doctor", "-c", path]) == 1
    assert "s3cret" not in capsys.readouterr().out
    # A config that does not load: its problems quote values; the secret ones are masked.
    for bad in ("sinks: {pushgateway: {url: 'ftp://fleet:s3cret-url@127.0.0.1/'}}\n",
                "sinks: {pushgateway: {url: 'http://127.0.0.1:9', bearer_token: [s3cret-list]}}\n"):
        path = write(tmp_path / "bad.yaml", bad)
        assert command_line.main(["doctor", "-c", path]) == 1
        out = capsys.readouterr().out
        assert "FAIL  config" in out and "s3cret" not in out, out
