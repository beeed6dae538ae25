"""A ping that could not measure is a measurement error, never loss; ping's whole output is read;
and a ping refused for permission is retried through `sudo -n` as Guest Shell's user would.

All runs use the real iputils ping, against 127.0.0.1 or inside network namespaces the tests
create (no route out of them).
"""

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid

import pytest

from guestagent import proc
from guestagent.deadline import Deadline
from guestagent.probes import icmp, icmp_text
from guestagent.schema import Namespace
from tests.conftest import ROOT

PING = shutil.which("ping")
pytestmark = pytest.mark.skipif(PING is None, reason="iputils ping is not installed")


def target(host="127.0.0.1"):
    return Namespace(dict(name=host, host=host, kind="icmp", role="target", group=None,
                          via="guestshell", vrf=None))


def options(**kw):
    values = dict(count=3, interval_s=0.2, timeout_s=1.0, size=56, sudo="never")
    values.update(kw)
    return Namespace(values)


def read(result, count=2):
    sample = {"count": count, "error": None}
    icmp.read_result(sample, result, 1.0)
    return sample


# ---------------------------------------------------------------------------------------------
# ping refusing its own arguments (messages of iputils 20221126, run here)

@pytest.mark.parametrize("extra,said", [
    (["-W", "-1"], "bad linger time"),
    (["-i", "99999999999"], "bad timing interval"),
    (["-s", "-1"], "invalid argument"),
    (["-c", "0"], "invalid argument"),
])
def test_ping_refusing_its_arguments_is_a_measurement_error(extra, said):
    result = proc.run([PING, "-n", "-c", "2"] + extra + ["127.0.0.1"], timeout_s=10)
    assert said in result.stderr  # the real message, whatever the exit code (1 or 2)
    sample = read(result)
    assert sample["error"].startswith("ping refused its arguments: "), sample
    assert said in sample["error"]
    assert "sent" not in sample and "loss_ratio" not in sample  # no invented loss


@pytest.mark.parametrize("opts", [dict(size=-1), dict(count=0)])
def test_probe_with_arguments_ping_refuses_records_an_error_not_loss(opts):
    sample = icmp.probe(target(), options(**opts), Deadline(10))
    assert sample["error"].startswith("ping refused its arguments"), sample
    assert "sent" not in sample


def test_unrecognised_failure_is_an_error_that_says_what_ping_said(tmp_path, monkeypatch):
    # A ping that exits non-zero without a statistics block, with stderr text we do not know
    # (iputils exits 1 or 2 for any failure to start: see the argument cases above).
    standin = tmp_path / "ping"
    standin.write_text("#!/bin/sh\necho 'ping: something we never saw' >&2\nexit 2\n")
    standin.chmod(0o755)
    monkeypatch.setattr(icmp, "PING", str(standin))
    sample = icmp.probe(target(), options(), Deadline(10))
    assert sample["error"] == ("ping ended without statistics (not understood): "
                               "ping: something we never saw")
    assert "sent" not in sample

    standin.write_text("#!/bin/sh\nexit 2\n")
    sample = icmp.probe(target(), options(), Deadline(10))
    assert sample["error"] == "ping ended without statistics (not understood): exit 2, no output"


# ---------------------------------------------------------------------------------------------
# network namespaces the tests create

def _run(*argv, **kw):
    return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kw)


class NetNs(object):
    """A fresh namespace with only `lo` up: nothing it sends can leave the machine."""

    def __init__(self):
        self.name = "ga-icmp-" + uuid.uuid4().hex[:8]
        self.etc = os.path.join("/etc/netns", self.name)

    def __enter__(self):
        _run("ip", "netns", "add", self.name, check=True)
        self.exec("ip", "link", "set", "lo", "up", check=True)
        return self

    def exec(self, *argv, **kw):
        return _run("ip", "netns", "exec", self.name, *argv, **kw)

    def etc_file(self, name, text):
        # `ip netns exec` bind-mounts /etc/netns/<ns>/<file> over /etc/<file> for the command.
        if not os.path.isdir(self.etc):
            os.makedirs(self.etc)
        with open(os.path.join(self.etc, name), "w") as f:
            f.write(text)

    def __exit__(self, *exc):
        _run("ip", "netns", "del", self.name)
        shutil.rmtree(self.etc, ignore_errors=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2 to create network namespaces")


@needs_root
def test_unresolvable_name_is_a_measurement_error():
    # Resolution stays local: hosts come from files only (no DNS query at all), and the
    # namespace has no route out anyway.
    with NetNs() as ns:
        ns.etc_file("nsswitch.conf", "hosts: files\n")
        ns.etc_file("hosts", "127.0.0.1 localhost\n")
        ns.etc_file("resolv.conf", "nameserver 127.0.0.1\n")
        completed = ns.exec(PING, "-n", "-c", "1", "nonexistent.invalid")
    assert "Name or service not known" in completed.stderr
    result = proc.Result([PING], completed.returncode, completed.stdout, completed.stderr, False)
    sample = read(result)
    assert sample["error"].startswith("ping could not resolve the address: ")
    assert sample["error"].endswith("ping: nonexistent.invalid: Name or service not known")
    assert "sent" not in sample


# ---------------------------------------------------------------------------------------------
# reading the whole output of a real ping

def _loopback_ping(count=5):
    result = proc.run([PING, "-n", "-c", str(count), "-i", "0.2", "127.0.0.1"], timeout_s=10)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_summary_line_gives_min_avg_max_mdev_and_reply_lines_the_median():
    text = _loopback_ping()
    summary = re.search(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", text)
    replies = [float(t) for t in re.findall(r"time=([\d.]+) ms", text)]
    sample = icmp_text.parse(text, timeout_s=1.0)
    assert (sample["sent"], sample["received"], sample["late"]) == (5, 5, 0)
    stats = sample["rtt_ms"]
    assert [stats["min"], stats["avg"], stats["max"], stats["mdev"]] == [
        float(v) for v in summary.groups()]
    assert stats["median"] == sorted(replies)[2]
    assert "notes" not in sample


def test_garbled_or_missing_reply_lines_leave_the_counts_to_the_statistics():
    lines = _loopback_ping().splitlines()
    replies = [i for i, line in enumerate(lines) if " bytes from " in line]
    lines[replies[0]] = lines[replies[0]][:22]  # cut mid-line: `64 bytes from 127.0.0.1:`
    del lines[replies[1]]  # and one reply line lost
    sample = icmp_text.parse("\n".join(lines), timeout_s=1.0)
    assert (sample["sent"], sample["received"], sample["loss_ratio"]) == (5, 5, 0.0)
    assert sample["notes"] == ["1 reply line(s) could not be read",
                               "3 of 5 replies read from reply lines; counts from ping's "
                               "statistics"]
    assert sample["rtt_ms"]["median"] is not None  # from the 3 replies that were read


def test_a_header_with_an_empty_host_name_is_still_ping_output():
    # Real output with its host name removed, as ping prints it for an empty name.
    text = _loopback_ping(3).replace("PING 127.0.0.1 (", "PING  (").replace(
        "--- 127.0.0.1 ping statistics", "---  ping statistics")
    assert "PING  (127.0.0.1) 56(84) bytes of data." in text
    printed = icmp_text.read(text)
    assert printed["recognized"] and printed["host"] == "" and printed["address"] == "127.0.0.1"
    sample = icmp_text.parse(text)
    assert sample["recognized"] and (sample["sent"], sample["received"]) == (3, 3)


# ---------------------------------------------------------------------------------------------
# ping as Guest Shell's user: uid 1000, plain ICMP refused, passwordless sudo

CHILD = r"""
import json, sys
from guestagent.deadline import Deadline
from guestagent.probes import icmp
from guestagent.schema import Namespace
icmp.PING = sys.argv[1]
target = Namespace(dict(name="lo", host="127.0.0.1", kind="icmp", role="target", group=None,
                        via="guestshell", vrf=None))
options = Namespace(dict(count=3, interval_s=0.2, timeout_s=1.0, size=56, sudo=sys.argv[2]))
print(json.dumps(icmp.probe(target, options, Deadline(10))))
"""


@pytest.fixture
def guestshell_user():
    """The name of uid 1000 (created for the test when absent)."""
    try:
        yield pwd.getpwuid(1000).pw_name
        return
    except KeyError:
        pass
    _run("useradd", "-u", "1000", "-M", "-s", "/bin/sh", "guestshell", check=True)
    try:
        yield "guestshell"
    finally:
        _run("userdel", "guestshell")


@needs_root
@pytest.mark.skipif(not shutil.which("sudo") or not shutil.which("runuser")
                    or not os.access("/usr/bin/python3", os.X_OK),
                    reason="needs sudo, runuser and a system python3 the user can run")
def test_ping_refused_for_permission_is_retried_through_sudo(guestshell_user):
    workdir = tempfile.mkdtemp(prefix="ga-ping-", dir="/tmp")
    sudoers = "/etc/sudoers.d/guestagent-test-" + uuid.uuid4().hex[:8]
    try:
        os.chmod(workdir, 0o755)
        # A copy loses the file capability (cap_net_raw) of /usr/bin/ping; with
        # ping_group_range `1 0` nobody may open an ICMP datagram socket either.
        ping_copy = os.path.join(workdir, "ping")
        shutil.copy(PING, ping_copy)
        os.chmod(ping_copy, 0o755)
        with NetNs() as ns:
            ns.exec("sysctl", "-qw", "net.ipv4.ping_group_range=1 0", check=True)

            def probe_as_user(mode):
                completed = ns.exec(
                    "runuser", "-u", guestshell_user, "--", "env", "-i", "PATH=/usr/bin:/bin",
                    "PYTHONPATH=" + ROOT, "/usr/bin/python3", "-c", CHILD, ping_copy, mode,
                    cwd="/")
                assert completed.returncode == 0, completed.stderr
                return json.loads(completed.stdout)

            refused = probe_as_user("never")
            assert refused["error"].startswith("ping refused for permission: "), refused
            assert "Operation not permitted" in refused["error"]
            assert refused["via_sudo"] is False and "sent" not in refused

            no_rule = probe_as_user("auto")  # no sudoers rule yet: sudo wants a password
            assert no_rule["error"].startswith("ping refused for permission ("), no_rule
            assert "Operation not permitted" in no_rule["error"]
            assert "sudo -n ping failed too (sudo: a password is required)" in no_rule["error"]
            assert "sent" not in no_rule

            with open(sudoers, "w") as f:
                f.write("{} ALL=(root) NOPASSWD: {}\n".format(guestshell_user, ping_copy))
            os.chmod(sudoers, 0o440)
            for mode in ("auto", "always"):
                sample = probe_as_user(mode)
                assert sample["error"] is None, sample
                assert sample["via_sudo"] is True
                assert (sample["sent"], sample["received"]) == (3, 3)
    finally:
        if os.path.exists(sudoers):
            os.remove(sudoers)
        shutil.rmtree(workdir, ignore_errors=True)


def test_captured_iputils_output_takes_the_summary_line():
    from tests.conftest import read_fixture
    sample = icmp_text.parse(read_fixture("linux_ping", "iputils-loopback__1.txt"), 1.0)
    assert (sample["sent"], sample["received"]) == (5, 5)
    # `rtt min/avg/max/mdev = 0.026/0.036/0.041/0.005 ms`; replies 0.026 0.041 0.040 0.037 0.039
    assert sample["rtt_ms"] == {"min": 0.026, "avg": 0.036, "max": 0.041, "mdev": 0.005,
                                "median": 0.039, "p95": 0.041}
    stamped = icmp_text.parse(read_fixture("linux_ping", "iputils-loopback__2.txt"), 1.0)
    assert (stamped["sent"], stamped["received"]) == (3, 3) and "notes" not in stamped
