"""The parsers' regular expressions without `re` (guestagent/rx.py): the same pattern objects as
`re.compile` makes, and a cycle without a test point that loads neither `re` nor `json` once its
patterns are kept.

Each check runs in a fresh interpreter: `run` reads the kept programs and hooks `re` for the whole
process, as it does in a cycle, and must not do so in the test runner's.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

from guestagent import rx
from tests.conftest import ROOT, run_agent, write_config

CONFIG = """
agent: {{state_dir: {state}, deadline_s: 20}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
targets: []
"""

# A cycle without a test point in this process, then what it loaded (beyond the interpreter's
# start-up: 3.11's site loads re) and what rx compiled.
CYCLE = """
    import sys
    started_with = set(sys.modules)
    from guestagent import cli, rx
    code = cli.main(["run", "--dry-run", "--config", sys.argv[1]])
    loaded = sorted(set(sys.modules) - started_with)
    import json
    sys.stdout.write("\\n" + json.dumps({
        "code": code, "modules": loaded,
        "compiled": [[p, flags] for (kind, p, flags) in rx._compiled if kind is str]}))
"""

# Every pattern rx built, against `re` compiling it without the kept programs.
VERIFY = """
    import json, re, sys
    from guestagent import regexcache, rx
    regexcache.install()
    bad = []
    for pattern, flags in json.loads(sys.stdin.read()):
        kept, fresh = rx.compile(pattern, flags), re.compile(pattern, flags)
        same = (kept.pattern, kept.flags, kept.groups, kept.groupindex) == (
            fresh.pattern, fresh.flags, fresh.groups, fresh.groupindex)
        if sys.version_info >= (3, 7):
            same = same and kept == fresh  # 3.7+ compares the compiled programs too
        if not same:
            bad.append(pattern)
    print(json.dumps({"bad": bad, "missed": regexcache._state["missed"]}))
"""


def python(code, runtime_dir, *args, **kwargs):
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime_dir),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("GUESTAGENT_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)] + list(args), env=env,
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, **kwargs)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # after what the cycle printed


def test_a_cycle_without_a_test_point_loads_neither_re_nor_json_once_its_patterns_are_kept(
        tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state"))
    first = python(CYCLE, runtime, config)  # nothing kept yet: `re` compiles, and keeps
    assert first["code"] == 0
    second = python(CYCLE, runtime, config)
    assert second["code"] == 0
    loaded = set(second["modules"])
    assert not loaded & {"re", "sre_compile", "sre_parse", "enum", "json", "json.decoder"}, \
        sorted(loaded & {"re", "sre_compile", "sre_parse", "enum", "json", "json.decoder"})
    # The parsers, the schema and the metrics' names: dozens of patterns, none compiled by re.
    assert len(second["compiled"]) > 40
    checked = python(VERIFY, runtime, input=json.dumps(second["compiled"]))
    assert checked == {"bad": [], "missed": 0}


def test_a_cycle_with_a_test_point_keeps_what_re_compiles_too(tmp_path):
    """With a test point the probers load `re`: the compile step is hooked before they do."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state").replace(
        "targets: []", "probes: {icmp: {count: 1, interval_s: 0.2, timeout_s: 1.0}}\n"
                       "targets: [{name: lo, host: 127.0.0.1}]"))
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    first = run_agent(["run", "--dry-run", "--config", config], env=env)
    assert first.returncode in (0, 1), first.stderr
    files = [name for name in os.listdir(str(runtime)) if name.endswith(".regex")]
    assert len(files) == 1
    before = os.stat(os.path.join(str(runtime), files[0]))
    second = run_agent(["run", "--dry-run", "--config", config], env=env)
    assert second.returncode == first.returncode, second.stderr
    after = os.stat(os.path.join(str(runtime), files[0]))
    # Nothing compiled anew: the file is not written again.
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_rx_answers_as_re():
    samples = [(r"^(\d+) (\w+)$", 0, "12 ab"), (r"up\s+(\d+)", rx.IGNORECASE, "UP 5"),
               (r"(?P<a>x)|y", 0, "zy")]
    for pattern, flags, text in samples:
        assert rx.compile(pattern, flags).pattern == pattern
        assert repr(rx.search(pattern, text, flags)) == repr(re.search(pattern, text, flags))
        assert repr(rx.match(pattern, text, flags)) == repr(re.match(pattern, text, flags))
        assert rx.findall(pattern, text, flags) == re.findall(pattern, text, flags)
        assert rx.split(pattern, text, flags=flags) == re.split(pattern, text, flags=flags)
        assert rx.sub(pattern, "-", text, flags=flags) == re.sub(pattern, "-", text, flags=flags)
        assert rx.split(pattern, text, 1, flags) == re.split(pattern, text, 1, flags)
        assert rx.sub(pattern, "-", text, 1, flags) == re.sub(pattern, "-", text, 1, flags)
    assert (rx.IGNORECASE, rx.MULTILINE, rx.DOTALL, rx.VERBOSE, rx.ASCII) == (
        int(re.IGNORECASE), int(re.MULTILINE), int(re.DOTALL), int(re.VERBOSE), int(re.ASCII))


def test_escape_matches_exactly_the_text():
    texts = ["=", ":", "a.b*c", "(x)[y]{z}", "\\", "^$|?+", "tab\there", "é ü", "\x00nul", "_w0"]
    texts.append("".join(chr(c) for c in range(1, 128)))
    for text in texts:
        assert re.fullmatch(rx.escape(text), text), text
        assert not re.fullmatch(rx.escape(text), text + "x")
    assert rx.escape("a_1") == "a_1"
    assert rx.escape("=") == "\\=" and rx.escape("\x00") == "\\000"
