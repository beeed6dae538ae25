"""The compiled-pattern cache of `run` (guestagent/regexcache.py).

Every check runs in a fresh interpreter: the cache hooks `re` for the whole process, as it does
in a cycle, and must not do so in the test runner's.
"""

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT, run_agent, write_config

CONFIG = """
agent: {{state_dir: {state}, deadline_s: 20}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 2, interval_s: 0.2, timeout_s: 1.0}}}}
targets: [{{name: lo, host: 127.0.0.1}}]
"""


def python(code, runtime_dir):
    """Run `code` in a fresh interpreter with the cache in `runtime_dir`; its stdout's JSON."""
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime_dir),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cache_files(runtime_dir):
    return sorted(name for name in os.listdir(str(runtime_dir)) if name.endswith(".regex"))


# Every entry of the file against `re` compiling the same pattern without the cache.
VERIFY = """
    import json, re, sys
    from guestagent import regexcache
    path = regexcache.cache_path()
    entries = regexcache._load(path)
    import _sre
    build = regexcache._builder(_sre)
    bad = []
    for (kind, pattern, flags), entry in sorted(entries.items(), key=repr):
        kept, fresh = build(pattern, entry), re.compile(pattern, flags)
        same = (kept.pattern, kept.flags, kept.groups, kept.groupindex) == (
            fresh.pattern, fresh.flags, fresh.groups, fresh.groupindex)
        if sys.version_info >= (3, 7):
            same = same and kept == fresh  # 3.7+ compares the compiled programs too
        if not same:
            bad.append(repr(pattern))
    print(json.dumps({"entries": len(entries), "bad": bad}))
"""


def test_a_cycle_keeps_its_patterns_and_the_next_writes_nothing(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir()
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state"))
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    first = run_agent(["run", "--dry-run", "--config", config], env=env)
    assert first.returncode in (0, 1), first.stderr
    files = cache_files(runtime)
    assert len(files) == 1
    path = runtime / files[0]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    kept = python(VERIFY, runtime)
    # The IOS parsers, the ping parser, the schema: about a hundred patterns.
    assert kept["entries"] > 50 and kept["bad"] == []
    before = path.stat()
    second = run_agent(["run", "--dry-run", "--config", config], env=env)
    assert second.returncode == first.returncode, second.stderr
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino, before.st_mtime_ns, before.st_size)
    assert second.stdout.startswith("cycle ")


PATTERNS = """
    import json, re
    from guestagent import regexcache
    regexcache.install()
    probes = [(r"^(?P<hop>\\d+)\\s+(\\S+)(?:\\s+(\\d+) ms)?$", 0, "3  10.0.0.1  7 ms"),
              (r"fail(ed|ure)", re.IGNORECASE, "Link FAILED"),
              (rb"\\x02(..)\\x03", 0, b"\\x01\\x02ab\\x03")]
    found = []
    for pattern, flags, text in probes:
        match = re.compile(pattern, flags).search(text)
        found.append([repr(g) for g in match.groups()] + [match.start(), match.end()])
    try:
        re.compile("(unclosed")
        error = None
    except re.error as exc:
        error = str(exc)
    saved = regexcache.save()
    print(json.dumps({"found": found, "error": error, "saved": saved,
                      "missed": regexcache._state["missed"]}))
"""


def test_patterns_from_the_cache_match_as_compiled_ones_and_errors_stay_errors(tmp_path):
    first = python(PATTERNS, tmp_path)
    assert first["saved"] is True
    assert first["error"] and "missing )" in first["error"]
    second = python(PATTERNS, tmp_path)  # every pattern from the file now
    assert second["found"] == first["found"]
    assert second["error"] == first["error"]
    assert second["saved"] is False and second["missed"] == 0
    assert first["found"][0][:3] == ["'3'", "'10.0.0.1'", "'7'"]


DAMAGE = """
    import array, json, marshal, re
    from guestagent import regexcache
    path = regexcache.cache_path()
    with open(path, "rb") as f:
        kept = marshal.loads(f.read())
    for key, entry in list(kept["entries"].items()):
        if key[1] == "fail(ed|ure)":
            flags, code, groups, groupindex, indexgroup = entry
            # A program `_sre` refuses (it checks every program it is given).
            bad = memoryview(code).cast("I").tolist()
            bad.insert(0, 99999)
            kept["entries"][key] = (flags, array.array("I", bad).tobytes(), groups, groupindex,
                                    indexgroup)
    with open(path, "wb") as f:
        f.write(marshal.dumps(kept))
    print("{}")
"""


def test_a_damaged_entry_is_compiled_again_and_replaced(tmp_path):
    first = python(PATTERNS, tmp_path)
    python(DAMAGE, tmp_path)
    again = python(PATTERNS, tmp_path)
    assert again["found"] == first["found"]
    assert again["missed"] == 0 and again["saved"] is True  # compiled, and the file mended
    mended = python(PATTERNS, tmp_path)
    assert mended["found"] == first["found"] and mended["saved"] is False


def test_a_file_that_is_not_ours_is_not_read(tmp_path):
    python(PATTERNS, tmp_path)
    path = tmp_path / cache_files(tmp_path)[0]
    os.chmod(str(path), 0o666)  # writable by others: anybody could have put code there
    shared = python(PATTERNS, tmp_path)
    assert shared["saved"] is True  # nothing read from it: compiled, and written anew
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    target = tmp_path / "elsewhere"
    os.rename(str(path), str(target))
    os.symlink(str(target), str(path))
    linked = python(PATTERNS, tmp_path)
    assert linked["saved"] is True and not os.path.islink(str(path))
    with open(str(path), "wb") as f:
        f.write(b"\x00 torn")
    torn = python(PATTERNS, tmp_path)
    assert torn["found"] == shared["found"] and torn["saved"] is True
