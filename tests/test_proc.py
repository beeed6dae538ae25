"""proc.run against real scripts whose children misbehave: a grandchild that holds stdout open
after its parent exits, one that leaves the process group, a child that ignores SIGINT. Each run
ends within timeout + grace + proc.KILL_WAIT_S (+1 s), and what stays in the group is killed."""

import os
import signal
import time

import pytest

from guestagent import proc

BOUND_S = 1.0


def script(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def gone(pid):
    """Whether a process no longer runs (a zombie waiting for init counts as gone)."""
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (IOError, OSError):
        return True


def wait_gone(pid, wait_s=2.0):
    until = time.monotonic() + wait_s
    while time.monotonic() < until and not gone(pid):
        time.sleep(0.02)
    return gone(pid)


def read_pid(path):
    with open(str(path)) as f:
        return int(f.read().strip())


@pytest.fixture(autouse=True, params=["posix_spawn", "subprocess"])
def starter(request, monkeypatch):
    """Every test with both ways of starting a program: glibc's posix_spawn (what Python 3.6
    to 3.9 use here) and subprocess (3.10 and later, and where posix_spawn is not usable)."""
    monkeypatch.setattr(proc, "POSIX_SPAWN", request.param == "posix_spawn")
    monkeypatch.setattr(proc, "_spawn_lib", [])
    if request.param == "posix_spawn" and not proc._use_posix_spawn():
        pytest.skip("no glibc posix_spawn with POSIX_SPAWN_SETSID here")
    return request.param


def timed(argv, timeout_s, grace_s=0.5):
    started = time.monotonic()
    result = proc.run(argv, timeout_s=timeout_s, grace_s=grace_s)
    return result, time.monotonic() - started


def test_a_grandchild_holding_stdout_does_not_keep_us_waiting(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    argv = [script(tmp_path, "forks.sh", 'echo "64 bytes from 127.0.0.1"\n'
                   'sleep 30 &\necho $! > {}\necho "done"\nexit 0\n'.format(pidfile))]
    result, elapsed = timed(argv, timeout_s=10.0)
    assert elapsed < 10.0 / 2  # it did not wait for the grandchild's 30 s, nor the timeout
    assert result.returncode == 0 and result.timed_out is False
    assert result.stdout == "64 bytes from 127.0.0.1\ndone\n"
    assert wait_gone(read_pid(pidfile)), "the grandchild left in our process group was killed"


def test_a_grandchild_that_left_the_group_does_not_keep_us_waiting(tmp_path):
    pidfile = tmp_path / "escaped.pid"
    argv = [script(tmp_path, "escapes.sh", 'echo "summary"\nsetsid sleep 30 &\n'
                   'echo $! > {}\nexit 3\n'.format(pidfile))]
    try:
        result, elapsed = timed(argv, timeout_s=10.0)
        assert elapsed < 10.0 / 2
        assert result.returncode == 3 and result.stdout == "summary\n"
    finally:
        if pidfile.exists():  # out of our group's reach: the test cleans up after itself
            try:
                os.kill(read_pid(pidfile), signal.SIGKILL)
            except OSError:
                pass


def test_a_child_that_ignores_sigint_is_killed_with_its_group_at_the_deadline(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    # Ignored signals are inherited: the sleeping grandchild ignores SIGINT too.
    argv = [script(tmp_path, "stubborn.sh", 'trap "" INT\necho started\nsleep 30 &\n'
                   'echo $! > {}\nwait\n'.format(pidfile))]
    result, elapsed = timed(argv, timeout_s=1.0, grace_s=0.3)
    assert elapsed <= 1.0 + 0.3 + proc.KILL_WAIT_S + BOUND_S
    assert result.timed_out is True and result.returncode == -signal.SIGKILL
    assert result.stdout == "started\n"
    assert wait_gone(read_pid(pidfile))


@pytest.fixture
def sigint_not_ignored():
    """A shell cannot trap a signal that was ignored when it started (POSIX), and a test run
    started in the background by a shell without job control has SIGINT ignored, which every
    child inherits; a handler here gives the child the default instead (ping sets its own
    handler, so the agent needs none of this)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupted_child_prints_its_summary_though_a_grandchild_holds_stdout(
        tmp_path, sigint_not_ignored):
    # As ping does on SIGINT: print the statistics, exit. The grandchild ignores SIGINT and
    # keeps the pipe open; it goes with the group's SIGKILL.
    pidfile = tmp_path / "grandchild.pid"
    argv = [script(tmp_path, "pinglike.sh",
                   '(trap "" INT; exec sleep 30) &\necho $! > {}\n'
                   'trap \'echo "--- 127.0.0.1 ping statistics ---"; exit 0\' INT\n'
                   'echo "64 bytes from 127.0.0.1"\n'
                   'while :; do sleep 0.1; done\n'.format(pidfile))]
    result, elapsed = timed(argv, timeout_s=1.0, grace_s=1.0)
    assert elapsed <= 1.0 + 1.0 + proc.KILL_WAIT_S + BOUND_S
    assert result.timed_out is True and result.returncode == 0
    assert result.stdout.splitlines() == ["64 bytes from 127.0.0.1",
                                          "--- 127.0.0.1 ping statistics ---"]
    assert wait_gone(read_pid(pidfile))


def test_output_that_is_not_utf8_is_read_not_raised(tmp_path):
    argv = [script(tmp_path, "bytes.sh", "printf 'caf\\351\\r\\nok\\n'; printf 'err\\n' >&2\n")]
    result = proc.run(argv, timeout_s=5.0)
    assert result.stdout == "caf\ufffd\nok\n" and result.stderr == "err\n"


def test_a_missing_program_is_missing(tmp_path):
    result = proc.run([str(tmp_path / "no-such-program")], timeout_s=1.0)
    assert result.missing is True and result.returncode is None
    assert "No such file" in result.stderr


def test_the_program_gets_what_popen_gives_it(tmp_path, monkeypatch):
    """Its own session, stdin from /dev/null, SIGPIPE back to its default (Python ignores it),
    the environment asked for, the PATH of that environment, and none of our descriptors: not
    even one this process was given open and inheritable."""
    inherited_read, inherited_write = os.pipe()
    os.set_inheritable(inherited_write, True)
    monkeypatch.setattr(proc, "_spawn_lib", [])  # as if given at start: seen at the first start
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script(bin_dir, "only-here", "echo found\n")
    probe = script(tmp_path, "probe.sh", "\n".join([
        "read line; echo stdin=[$line]",
        "echo session=$(cut -d' ' -f6 /proc/$$/stat) pid=$$",
        "grep SigIgn /proc/$$/status",
        "echo fds=$(ls /proc/$$/fd | sort -n | tr '\\n' ' ')",
        "echo var=$GIVEN",
        "only-here", ""]))
    try:
        result = proc.run([probe], timeout_s=5.0,
                          env={"GIVEN": "yes", "PATH": str(bin_dir) + ":/usr/bin:/bin"})
    finally:
        os.close(inherited_read)
        os.close(inherited_write)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert lines[0] == "stdin=[]"
    session, pid = [part.split("=")[1] for part in lines[1].split()]
    assert session == pid
    ignored = int(lines[2].split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert str(inherited_write) not in lines[3].split("=")[1].split(), lines[3]
    assert lines[4:] == ["var=yes", "found"]


def test_real_ping_still_reads_whole():
    import shutil
    count = 3
    if not shutil.which("ping"):
        pytest.skip("no ping")
    result = proc.run(["ping", "-n", "-c", str(count), "-i", "0.2", "127.0.0.1"],
                      timeout_s=10.0)
    if "Operation not permitted" in result.stderr:
        pytest.skip("ping needs privileges here")
    assert result.returncode == 0 and not result.timed_out
    assert "{} packets transmitted, {} received".format(count, count) in result.stdout


def test_the_icmp_prober_is_not_held_by_a_grandchild_of_ping(tmp_path, monkeypatch):
    """A `ping` that prints its output (a real capture), leaves a sleeping grandchild on its
    stdout, and exits: the sample is taken from the output at once."""
    from guestagent.deadline import Deadline
    from guestagent.probes import icmp
    from guestagent.schema import Namespace
    from tests.conftest import fixture_path
    pidfile = tmp_path / "grandchild.pid"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script(bindir, "ping", 'cat "{}"\nsleep 30 &\necho $! > {}\nexit 0\n'.format(
        fixture_path("linux_ping", "pingparsing__2.txt"), pidfile))
    monkeypatch.setenv("PATH", "{}:{}".format(bindir, os.environ.get("PATH", "")))
    options = icmp.OPTIONS.defaults()
    options.update(count=5, interval_s=0.2, timeout_s=1.0)
    target = Namespace(name="held", host="127.0.0.1", kind="icmp", role="target", group=None,
                       via="guestshell", vrf=None)
    started = time.monotonic()
    sample = icmp.probe(target, Namespace(options), Deadline(10))
    assert time.monotonic() - started < 10.0 / 2
    assert sample["received"] and sample["sent"]
    assert wait_gone(read_pid(pidfile))
