"""The command line under the environment EEM gives it: no locale variables (C locale: Python
3.6 then has an ASCII stdout and opens files as ASCII, platform.md), no stdin, a reader that may
go away (`| head -1`).

Every run is `env -i PATH=...` from `/`. On Python 3.7+ the interpreter coerces the C locale to
UTF-8 itself (PEP 538/540); the `ascii` variant turns that off, so that current Python meets
what 3.6 meets on the router.
"""

import io
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from guestagent import cli as command_line
from tests.conftest import ROOT, fixture_path

BARE = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": ROOT}
LOCALES = {"c": BARE}
if sys.version_info >= (3, 7):
    LOCALES["ascii"] = dict(BARE, PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")


@pytest.fixture(params=sorted(LOCALES))
def c_env(request):
    return dict(LOCALES[request.param])


def run(args, env, stdin=subprocess.DEVNULL, **kw):
    return subprocess.run([sys.executable, "-m", "guestagent"] + list(args), env=env, cwd="/",
                          stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120, **kw)


def test_the_c_locale_really_is_ascii_here(c_env):
    """The premise: this interpreter's stdout under this environment cannot encode 'é' (3.6,
    or 3.7+ without coercion), or it coerces to UTF-8 (3.7+ `c`)."""
    result = subprocess.run([sys.executable, "-c", "import sys; print(sys.stdout.encoding)"],
                            env=c_env, stdout=subprocess.PIPE, universal_newlines=True)
    encoding = result.stdout.strip().lower()
    if sys.version_info < (3, 7) or "PYTHONUTF8" in c_env:
        assert encoding in ("ansi_x3.4-1968", "ascii", "us-ascii")
    else:
        assert encoding == "utf-8"


# -- parse reads UTF-8, refuses anything else ---------------------------------------------------

def _ping_text():
    with open(fixture_path("linux_ping", "pingparsing__10.txt"), "rb") as f:
        return f.read()


def test_parse_reads_a_file_as_utf8_whatever_the_locale(tmp_path, c_env):
    path = tmp_path / "ping-café.txt"
    path.write_bytes(_ping_text() + u"\n# relevé à 06:37, hôte «site-7»\n".encode("utf-8"))
    result = run(["parse", "linux-ping", str(path)], c_env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert json.loads(result.stdout.decode("ascii"))["received"] == 9


def test_parse_reads_stdin_as_utf8(tmp_path, c_env):
    path = tmp_path / "ping.txt"
    path.write_bytes(u"# hôte\n".encode("utf-8") + _ping_text())
    with open(str(path), "rb") as f:
        result = run(["parse", "linux-ping"], c_env, stdin=f)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.decode("ascii"))["received"] == 9


def test_parse_refuses_what_is_not_utf8(tmp_path, c_env):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"PING 127.0.0.1\n\nh\xf4te r\xe9pond\n")
    result = run(["parse", "linux-ping", str(path)], c_env)
    assert result.returncode == 2
    stderr = result.stderr.decode("ascii")
    assert stderr == ("guestagent: {}:3: not UTF-8: byte 0xf4 at column 2; save the file as "
                      "UTF-8\n".format(path))
    assert result.stdout == b""
    with open(str(path), "rb") as f:
        result = run(["parse", "linux-ping"], c_env, stdin=f)
    assert result.returncode == 2
    assert result.stderr.decode("ascii").startswith("guestagent: <stdin>:3: not UTF-8: byte 0xf4")


def test_parse_without_stdin_is_a_usage_error(c_env):
    """EEM may start us with no stdin at all (descriptor 0 closed)."""
    result = run(["parse", "linux-ping"], c_env, stdin=None,
                 preexec_fn=lambda: os.close(0))
    assert result.returncode == 2
    assert result.stderr == b"guestagent: no stdin to read; give FILE\n"


# -- what we print survives the C locale --------------------------------------------------------

def test_non_ascii_config_path_and_messages(tmp_path, c_env):
    directory = tmp_path / "réseau"
    directory.mkdir()
    config = directory / "config.yaml"
    config.write_text("targets: [{host: 127.0.0.1}]\n")
    result = run(["check-config", "-c", str(config)], c_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(b": ok (1 test point(s))\n")
    missing = run(["check-config", "-c", str(directory / "absent.yaml")], c_env)
    assert missing.returncode == 2
    assert b"Traceback" not in missing.stderr and b"cannot read" in missing.stderr


def _hostname_journal(tmp_path):
    """A journal whose report carries a non-ASCII host name, from a cycle of the simulated
    router whose `show version` says so (run under UTF-8: reading that is not under test)."""
    fixtures = tmp_path / "router"
    shutil.copytree(os.path.join(ROOT, "guestagent", "device", "ir1101"), str(fixtures))
    version = fixtures / "show_version__ir1101-synthetic.txt"
    version.write_bytes(version.read_bytes().replace(b"ir1101-site7", u"routeur-gen\u00e8ve"
                                                     .encode("utf-8")))
    config = tmp_path / "config.yaml"
    config.write_text("agent: {{state_dir: {}}}\ndevice: {{kind: simulated, fixtures: {}}}\n"
                      "path_discovery: {{enabled: false}}\n"
                      "probes: {{icmp: {{count: 1, interval_s: 0.2, timeout_s: 1}}}}\n"
                      "targets: [{{host: 127.0.0.1}}]\n".format(tmp_path / "state", fixtures))
    result = run(["run", "-c", str(config), "--json"], dict(BARE, LC_ALL="C.UTF-8"))
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(result.stdout.decode("utf-8"))["agent"]["hostname"] == u"routeur-gen\u00e8ve"
    return tmp_path / "state" / "journal"


def test_non_ascii_hostname_is_printed_escaped(tmp_path, c_env):
    journal = _hostname_journal(tmp_path)
    result = run(["status", "--journal", str(journal)], c_env)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    if "PYTHONUTF8" in c_env or sys.version_info < (3, 7):
        first = result.stdout.decode("ascii").splitlines()[0]
        assert "on routeur-gen\\xe8ve" in first  # escaped, not an exception
    else:  # coerced to UTF-8 by the interpreter
        assert u"on routeur-gen\u00e8ve" in result.stdout.decode("utf-8").splitlines()[0]


def test_every_stream_survives_a_strict_ascii_console(tmp_path, monkeypatch, capfdbinary):
    """In process, with stdout and stderr as Python 3.6 opens them under C: ASCII, strict."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    directory = tmp_path / u"r\u00e9seau"
    directory.mkdir()
    config = directory / "config.yaml"
    config.write_text("targets: [{host: 127.0.0.1}]\n")
    assert command_line.main(["check-config", "-c", str(config)]) == 0
    assert command_line.main(["check-config", "-c", str(directory / u"\u00e9.yaml")]) == 2
    out.flush()
    err.flush()
    assert out.buffer.getvalue().endswith(b"r\\xe9seau/config.yaml: ok (1 test point(s))\n")
    assert b"r\\xe9seau/\\xe9.yaml: cannot read" in err.buffer.getvalue()
    assert sys.stdout is out and sys.stderr is err  # given back as they were


# -- a closed stdout ends quietly ---------------------------------------------------------------

def _with_closed_stdout(args, env):
    """Run with a stdout pipe whose reader is gone before the first byte is written."""
    proc = subprocess.Popen([sys.executable, "-m", "guestagent"] + list(args), env=env, cwd="/",
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.wait(120)
    return proc.returncode, stderr


@pytest.mark.parametrize("args", [["parse", "--list"], ["--help"], ["--version"],
                                  ["eem", "render"],
                                  ["parse", "linux-ping", "FIXTURE"]])
def test_closed_stdout_ends_quietly(c_env, args):
    args = [fixture_path("linux_ping", "pingparsing__10.txt") if a == "FIXTURE" else a
            for a in args]
    code, stderr = _with_closed_stdout(args, c_env)
    assert stderr == b""
    # As `cat` or `seq` would be seen by the shell: 128 + SIGPIPE.
    assert code == 128 + signal.SIGPIPE == command_line.EXIT_BROKEN_PIPE


def test_a_cycle_with_closed_stdout_still_journals_its_report(tmp_path, c_env):
    config = tmp_path / "config.yaml"
    config.write_text("agent: {{state_dir: {}}}\ndevice: {{kind: simulated}}\n"
                      "path_discovery: {{enabled: false}}\n"
                      "probes: {{icmp: {{count: 1, interval_s: 0.2, timeout_s: 1}}}}\n"
                      "targets: [{{host: 127.0.0.1}}]\n".format(tmp_path / "state"))
    code, stderr = _with_closed_stdout(["run", "-c", str(config), "-v", "--json"], c_env)
    assert b"Traceback" not in stderr and b"Error" not in stderr, stderr  # -v says on stderr
    assert code == command_line.EXIT_BROKEN_PIPE
    journal = tmp_path / "state" / "journal" / "reports.jsonl"
    report = json.loads(journal.read_text().splitlines()[-1])
    assert report["probes"][0]["reachable"]


def test_piped_into_head(c_env, tmp_path):
    """The shell's own `| head -1`: head may leave before or after we write; either way one line
    arrives, nothing on stderr, and our status is 0 or the broken pipe's."""
    big = tmp_path / "traceroute.txt"
    # Hundreds of KB of JSON: stdout's buffer is flushed many times, head is gone for most.
    big.write_text("".join(" {}  198.18.1.1  0.050 ms\n".format(i) for i in range(1, 3000)))
    script = ('"$0" -m guestagent parse linux-traceroute "$1" | head -1; '
              'echo "status ${PIPESTATUS[0]}" >&2')
    result = subprocess.run(["bash", "-c", script, sys.executable, str(big)], env=c_env, cwd="/",
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=120)
    assert result.stdout == b"{\n"
    assert result.stderr in (b"status 0\n", b"status 141\n"), result.stderr
