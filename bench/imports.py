"""What a cycle imports, and what the imports cost in CPU, before and after a change, side by side.

    python bench/imports.py [--old COMMIT] [--python PY ...] [--rounds N] [--top N]

For each interpreter (default: the Guest Shell venv that `bench/cycle.py --deps guestshell`
builds, Python 3.6, and .venv's), a zero-target and a 10-target `run --dry-run` (10 pings each
at 0.2 s, path discovery on toward 127.0.0.1; every test point on loopback, 127.0.0.x) run
with the package of this tree ("new") and of COMMIT ("old", unpacked with `git archive`), both
through PYTHONPATH, interleaved old, new, old, new ... after one warm-up run each (bytecode
written, the config's document cache filled; each tree has its own config path and state).

In the cycle process a hook around importlib's `_load_unlocked` times every module's execution
with the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID: a probe thread's pings do not count into
an import on another thread); a module's own time excludes the modules it imports. Printed:
modules imported (beyond those `python -c pass` has), the CPU of all imports (sum of own
times), the cycle's CPU (user+sys of the process and its waited children, `os.wait4`), medians
over the rounds; then the modules that only one side imports and the costliest modules of the
new side. Asserts nothing.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "imports")
GUESTSHELL_PYTHON = os.path.join(ROOT, "build", "bench", "guestshell", "prefix", "venv", "bin",
                                 "python3")
DEV_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")

# Runs in the cycle process: the hook, then the agent as `python -m guestagent`.
HOOK = r"""
import _thread, sys, time
import _frozen_importlib as bootstrap
baseline = set(sys.modules)
clock = time.CLOCK_THREAD_CPUTIME_ID
timed = {}
stacks = {}
original = bootstrap._load_unlocked

def _load_unlocked(spec):
    stack = stacks.setdefault(_thread.get_ident(), [])
    parent = stack[-1][1] if stack else ""
    stack.append([0.0, spec.name])
    started = time.clock_gettime(clock)
    try:
        return original(spec)
    finally:
        spent = time.clock_gettime(clock) - started
        children = stack.pop()[0]
        if stack:
            stack[-1][0] += spent
        if spec.name not in timed:
            timed[spec.name] = (spent, spent - children, parent)

bootstrap._load_unlocked = _load_unlocked
out = sys.argv.pop(1)
sys.argv[0] = "guestagent"
code = 0
try:
    import runpy
    runpy.run_module("guestagent", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
finally:
    bootstrap._load_unlocked = original
    imported = sorted(set(sys.modules) - baseline)
    import json  # after the list: the agent's own import of json counts, this one not
    with open(out, "w") as f:
        json.dump({"imported": imported, "timed": timed,
                   "file": getattr(sys.modules.get("guestagent"), "__file__", None)}, f)
sys.exit(code)
"""


# Runs in a fresh process: the CPU of loading a config whose document (and, after the change,
# checked config) the runtime cache holds, the imports it makes included.
LOAD = r"""
import sys, time
started = time.process_time()
from guestagent import config
config.load(sys.argv[1])
print(time.process_time() - started)
"""


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def old_tree(commit):
    """The package of `commit`, unpacked under build/imports/old-<commit>/."""
    sha = subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", commit],
                                  universal_newlines=True).strip()
    where = os.path.join(WORK, "old-" + sha)
    if not os.path.isdir(os.path.join(where, "guestagent")):
        shutil.rmtree(where, ignore_errors=True)
        os.makedirs(where)
        archive = subprocess.check_output(["git", "-C", ROOT, "archive", sha, "guestagent"])
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(where)
    return sha, where


def write_config(directory, n_targets):
    targets = "\n".join("  - {{name: lo{0}, host: 127.0.0.{0}}}".format(i + 1)
                        for i in range(n_targets))
    text = """agent: {{state_dir: {state}, deadline_s: 30}}
device: {{kind: simulated}}
path_discovery: {{enabled: {pd}, toward: 127.0.0.1, first_hop: false}}
probes:
  icmp: {{count: 10, interval_s: 0.2, timeout_s: 1.0}}
  traceroute: {{max_hops: 2}}
targets:{targets}
""".format(state=os.path.join(directory, "state-{}".format(n_targets)),
           pd="true" if n_targets else "false",
           targets="\n" + targets if n_targets else " []")
    path = os.path.join(directory, "config-{}.yaml".format(n_targets))
    with open(path, "w") as f:
        f.write(text)
    return path


def baseline_modules(python):
    """The modules `python -c pass` has (printed without importing anything more)."""
    import ast
    return set(ast.literal_eval(subprocess.check_output(
        [python, "-c", "import sys; print(sorted(sys.modules))"],
        env=clean_env(None), universal_newlines=True)))


def clean_env(tree, runtime=None):
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME", "GUESTAGENT_CONFIG"):
        env.pop(key, None)
    if tree:
        env["PYTHONPATH"] = tree
    if runtime:
        env["XDG_RUNTIME_DIR"] = runtime
    return env


def one_run(python, tree, runtime, config, out):
    argv = [python, "-c", HOOK, out, "run", "--dry-run", "--config", config]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=clean_env(tree, runtime), cwd=WORK)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.stderr.close()
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    if code not in (0, 1):
        raise SystemExit("{} failed ({}): {}".format(" ".join(argv[:2] + argv[3:]), code,
                                                     err.decode()[-1500:]))
    with open(out) as f:
        result = json.load(f)
    if not (result["file"] or "").startswith(os.path.join(tree, "guestagent", "")):
        raise SystemExit("guestagent came from {}, not {}".format(result["file"], tree))
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="e3611dd", help="the commit compared (default e3611dd)")
    parser.add_argument("--python", action="append",
                        help="interpreter(s) to run (default: the Guest Shell venv's 3.6 and "
                        ".venv's)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (medians)")
    parser.add_argument("--top", type=int, default=15, help="costliest modules listed")
    parser.add_argument("--sizes", default="0,10", help="test points per cycle")
    parser.add_argument("--load-runs", type=int, default=15,
                        help="runs of config.load alone (medians)")
    parser.add_argument("--list", action="store_true",
                        help="also list every module imported, with its importer and own CPU")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    if args.python:
        pythons = [os.path.abspath(p) for p in args.python]
    else:
        pythons = [p for p in (GUESTSHELL_PYTHON, DEV_PYTHON) if os.path.exists(p)]
    if not pythons:
        raise SystemExit("no interpreter: build the Guest Shell venv with "
                         "`python bench/cycle.py --deps guestshell --repeat 1` or give --python")
    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(WORK, exist_ok=True)
    sha, old = old_tree(args.old)
    trees = [("old " + sha, old), ("new", ROOT)]
    figures = {}
    for python in pythons:
        version = subprocess.check_output(
            [python, "-c", "import platform; print(platform.python_version())"],
            universal_newlines=True).strip()
        base = baseline_modules(python)
        setups = {}
        for label, tree in trees:
            directory = os.path.join(WORK, "py{}-{}".format(version, label.split()[0]))
            os.makedirs(directory, exist_ok=True)
            runtime = os.path.join(directory, "run")
            os.makedirs(runtime, mode=0o700, exist_ok=True)
            for n in sizes:
                setups[label, n] = (tree, runtime, write_config(directory, n),
                                    os.path.join(directory, "imports-{}.json".format(n)))
        samples = dict((key, []) for key in setups)
        log("{} ({}): warm-up, then {} rounds ...".format(python, version, args.rounds))
        for key, setup in sorted(setups.items()):
            one_run(python, *setup)
        for _ in range(args.rounds):
            for n in sizes:
                for label, _tree in trees:
                    samples[label, n].append(one_run(python, *setups[label, n]))
        loads = dict((label, []) for label, _tree in trees)
        for _ in range(args.load_runs):
            for label, _tree in trees:
                tree, runtime, path, _out = setups[label, sizes[-1]]
                loads[label].append(float(subprocess.check_output(
                    [python, "-c", LOAD, path], env=clean_env(tree, runtime), cwd=WORK)))
        print("\nPython {} ({})".format(version, python))
        print("{:>12} {:>12} {:>9} {:>15} {:>14}".format(
            "test points", "package", "modules", "import CPU ms", "cycle CPU ms"))
        for n in sizes:
            for label, _tree in trees:
                runs = samples[label, n]
                modules = statistics.median(len(set(r["imported"]) - base) for r in runs)
                import_ms = statistics.median(
                    1000 * sum(own for _, own, _ in r["timed"].values()) for r in runs)
                cycle_ms = statistics.median(1000 * r["cpu_s"] for r in runs)
                figures["{} {} {}".format(version, n, label)] = {
                    "modules": modules, "import_cpu_ms": round(import_ms, 1),
                    "cycle_cpu_ms": round(cycle_ms, 1)}
                print("{:>12} {:>12} {:>9g} {:>15.1f} {:>14.1f}".format(
                    n, label, modules, import_ms, cycle_ms))
        print("config.load of the {}-test-point config, kept in the runtime cache (median of {}, "
              "CPU ms with its imports): {}".format(sizes[-1], args.load_runs, ", ".join(
                  "{} {:.1f}".format(label, 1000 * statistics.median(loads[label]))
                  for label, _tree in trees)))
        for label, _tree in trees:
            figures["{} config.load {}".format(version, label)] = round(
                1000 * statistics.median(loads[label]), 1)
        for n in sizes:
            before = set(samples[trees[0][0], n][-1]["imported"]) - base
            after = set(samples[trees[1][0], n][-1]["imported"]) - base
            print("\n{} test points: imported only by {}: {}".format(
                n, trees[0][0], " ".join(sorted(before - after)) or "-"))
            print("{} test points: imported only by new: {}".format(
                n, " ".join(sorted(after - before)) or "-"))
            own = {}
            for r in samples["new", n]:
                for name, (_, spent, _) in r["timed"].items():
                    own.setdefault(name, []).append(spent)
            costly = sorted(((statistics.median(v), k) for k, v in own.items()), reverse=True)
            print("{} test points, new: costliest modules (own CPU ms, median): {}".format(
                n, ", ".join("{} {:.1f}".format(k, 1000 * v) for v, k in costly[:args.top])))
        for n in sizes:
            for label, _tree in trees if args.list else ():
                last = samples[label, n][-1]
                print("\n{} test points, {}: every module imported (importer, own CPU ms of the "
                      "last round)".format(n, label))
                for name in sorted(set(last["imported"]) - base):
                    spent = last["timed"].get(name)
                    print("  {:40} {:32} {}".format(name, spent[2] if spent else "(built in)",
                                                    "{:.2f}".format(1000 * spent[1])
                                                    if spent else ""))
    if args.json:
        print(json.dumps(figures, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
