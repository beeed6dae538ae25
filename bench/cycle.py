"""What one cycle costs on this machine, beside the paper's method and fping, in one run.

    python bench/cycle.py [--deps guestshell|dev|both] [--python PATH] [--interval S] [--repeat N]

Every figure is measured on an install that is not editable (an editable install's import hook
slows every start-up), and every venv sits on a base interpreter built under build/bench/base-*
from the chosen interpreter: its binary (copied: Python finds its prefix from the binary's own
path, and would follow a symlink back to the original) and its standard library (symlinked),
with an empty site-packages. The interpreter as installed here may hold .pth files in its
site-packages that the router's Python has not (one of this machine's imports certifi at
every start-up, which a --system-site-packages venv holding certifi pays on every run); the output names the files left out, and prints, once, `python -c pass` of the
interpreter as installed for reference.
- `--deps guestshell` (the router's): the offline bundle (`guestagent bundle`, the Guest Shell
  wheels of .cache/wheels/guestshell) installed by the bundle's own install.sh into a venv of
  `--python` (default /root/.pyenv/versions/3.6.15, the router's 3.6 line), PyYAML from
  .cache/wheels/local for this machine. The paper's method runs in a venv beside it with
  pingparsing 1.4.1 and what it pulls in (constraints/guestshell-test.txt).
- `--deps dev`: the guestagent wheel in a venv of the development interpreter (.venv's base)
  whose dependencies are the development venv's (.venv, constraints/dev.txt, pingparsing
  included).
- `--deps both`: both sets on the development interpreter, every row of both interleaved in one
  run: a table for each, then the goals side by side, with the development set's peak RSS as a
  ratio of the Guest Shell set's (P4).
All are built under build/bench/ and reused while the source, the wheels and the interpreter
stay the same.

Rows, interleaved (one of each per round, medians over `--repeat` rounds; the CPU's minimum
too, which a busy machine inflates least):
- the agent's `run --dry-run` with 1, 10 and 50 loopback test points (10 pings each at
  `--interval`, path discovery on): wall, CPU (user+sys of the cycle process and every child it
  waited for: `os.wait4`), peak RSS (reported by /usr/bin/time, Debian's `time`), and flash
  bytes written (`ru_oublock` x 512, state and journal in build/bench/ on this disk, not
  tmpfs), after one warm-up cycle per size;
- the paper's method at 10 test points: pingparsing's PingTransmitter, one test point after
  another, each result as JSON;
- `fping -C 10` at 10 test points;
- start-up: `python -c pass` of the same venv, `python -m guestagent --version`, the console
  script `guestagent --version`, and `run --dry-run` with no test point; beside them the floors
  of the last two: `-m`'s own import of runpy, and the standard library a cycle without a test
  point needs, each ending by os._exit as the agent does.

Every target is on loopback (127.0.0.x); nothing leaves the machine. Asserts nothing.
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "bench")
WHEELS = os.path.join(ROOT, ".cache", "wheels")
TIME = "/usr/bin/time"
RSS_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
PYTHON36 = "/root/.pyenv/versions/3.6.15/bin/python3.6"
SIZES = (1, 10, 50)
PAPER_TARGETS = 10

# The paper's method: ping each test point in turn with pingparsing, print the results as JSON.
PAPER = r"""
import json, sys
import pingparsing
count, interval, hosts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
parser = pingparsing.PingParsing()
results = {}
for host in hosts:
    transmitter = pingparsing.PingTransmitter()
    transmitter.destination = host
    transmitter.count = count
    transmitter.ping_option = "-i " + interval
    results[host] = parser.parse(transmitter.ping()).as_dict()
print(json.dumps(results))
"""


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def call(argv, **kwargs):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit("{} failed:\n{}".format(" ".join(argv), result.stdout[-3000:]))
    return result.stdout


def source_digest(*extra):
    """A digest of the package source (and extra strings): a changed tree rebuilds the venv."""
    digest = hashlib.sha256()
    for directory, dirs, names in os.walk(os.path.join(ROOT, "guestagent")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".pyc"):
                continue
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, ROOT).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    for name in ("setup.py", "install.sh", os.path.join("constraints", "guestshell.txt")):
        with open(os.path.join(ROOT, name), "rb") as f:
            digest.update(f.read())
    for text in extra:
        digest.update(text.encode())
    return digest.hexdigest()[:16]


def fresh(directory, stamp):
    path = os.path.join(directory, ".stamp")
    try:
        with open(path) as f:
            return f.read() == stamp
    except IOError:
        return False


def mark(directory, stamp):
    with open(os.path.join(directory, ".stamp"), "w") as f:
        f.write(stamp)


def build_bundle(out_dir):
    """The offline bundle from this tree and the cached Guest Shell wheels, unpacked."""
    dist = os.path.join(out_dir, "dist")
    shutil.rmtree(dist, ignore_errors=True)
    call([sys.executable, "-m", "guestagent", "bundle", "--source", ROOT, "--output", dist,
          "--wheels-from", os.path.join(WHEELS, "guestshell")],
         env=dict(os.environ, PYTHONPATH=ROOT))
    tarball = [n for n in os.listdir(dist) if n.endswith(".tar.gz")][0]
    with tarfile.open(os.path.join(dist, tarball)) as tar:
        tar.extractall(dist)
    return os.path.join(dist, tarball[:-len("-guestshell.tar.gz")])


# What the base interpreter is, asked of the interpreter itself (a venv's python gives its base).
BASE_INFO = r"""
import json, os, sys, sysconfig
base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix,
        "installed_base": sys.base_prefix, "installed_platbase": sys.base_exec_prefix}
print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "full_version": sys.version.split()[0],
    "prefix": sys.base_prefix,
    "exec_prefix": sys.base_exec_prefix,
    "binary": os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable),
    "stdlib": sysconfig.get_paths(vars=base)["stdlib"],
    "site": sorted(set(sysconfig.get_paths(vars=base)[k] for k in ("purelib", "platlib"))),
}))
"""

# How the base built from it sees itself: prefix, path, and the modules a cycle's imports need.
BASE_CHECK = r"""
import json, sys, sqlite3, zlib, ssl
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix,
                  "exec_prefix": sys.exec_prefix, "path": sys.path,
                  "files": sorted(m.__file__ for m in list(sys.modules.values())
                                  if getattr(m, "__file__", None))}))
"""


def interpreter_info(python):
    info = json.loads(call([python, "-c", BASE_INFO], env=clean_env()))
    if info["prefix"] != info["exec_prefix"]:
        raise SystemExit("{}: prefix {} and exec_prefix {} differ: not supported".format(
            python, info["prefix"], info["exec_prefix"]))
    return info


def stripped_base(python):
    """A base interpreter with the binary and standard library of `python`'s base, and an empty
    site-packages: none of the .pth files (nor packages) of this machine's install.

    The binary is copied, not linked: Python looks for its prefix from the binary's path (the
    landmark lib/pythonX.Y/os.py) and resolves a symlinked binary to the original first. It
    finds libpython by the absolute RUNPATH built into it (checked with ldd). The standard
    library's entries are symlinks, its top-level __pycache__ a directory of symlinks (bytecode
    that had to be rewritten would go here, never into the original). Returns (python of the
    base, info dict: left-out files and the original's paths)."""
    info = interpreter_info(python)
    version = info["version"]
    stdlib = info["stdlib"]
    if os.path.realpath(stdlib) != os.path.realpath(
            os.path.join(info["prefix"], "lib", "python" + version)):
        raise SystemExit("{}: standard library {} is not under lib/ of its prefix".format(
            python, stdlib))
    binary = info["binary"]
    site_dirs = [s for s in info["site"] if os.path.isdir(s)]
    left_out = sorted(name for s in site_dirs for name in os.listdir(s) if name.endswith(".pth"))
    others = sum(1 for s in site_dirs for name in os.listdir(s) if not name.endswith(".pth"))
    stat = os.stat(binary)
    stamp = json.dumps([binary, stat.st_size, stat.st_mtime, sorted(os.listdir(stdlib)),
                        "stripped-base-1"])
    root = os.path.join(WORK, "base-{}-{}".format(
        info["full_version"], hashlib.sha256(binary.encode()).hexdigest()[:8]))
    base_python = os.path.join(root, "bin", "python" + version)
    if not fresh(root, stamp):
        log("building the base interpreter {} (binary of {}, empty site-packages) ...".format(
            root, binary))
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(os.path.join(root, "bin"))
        shutil.copy2(binary, base_python)
        for alias in ("python3", "python"):
            os.symlink("python" + version, os.path.join(root, "bin", alias))
        lib = os.path.join(root, "lib", "python" + version)
        os.makedirs(lib)
        for name in sorted(os.listdir(stdlib)):
            here = os.path.join(lib, name)
            if name == "site-packages":
                os.mkdir(here)
            elif name == "__pycache__":
                os.mkdir(here)
                for pyc in os.listdir(os.path.join(stdlib, name)):
                    os.symlink(os.path.join(stdlib, name, pyc), os.path.join(here, pyc))
            else:
                os.symlink(os.path.join(stdlib, name), here)
        include = os.path.join(info["prefix"], "include")
        if os.path.isdir(include):  # headers, should a package ever build against them
            os.symlink(include, os.path.join(root, "include"))
        check_base(base_python, root, info)
        mark(root, stamp)
    ldd = ""
    if shutil.which("ldd"):
        ldd = " ".join(line.split()[2] for line in call(["ldd", base_python]).splitlines()
                       if "libpython" in line and len(line.split()) > 2)
    return base_python, {"root": root, "python": base_python, "copied_from": binary,
                         "stdlib": stdlib, "libpython": ldd, "site_packages": site_dirs,
                         "left_out_pth": left_out, "left_out_other_entries": others,
                         "original_python": os.path.join(info["prefix"], "bin",
                                                         "python" + version),
                         "version": info["full_version"]}


def check_base(base_python, root, info):
    """The base is its own prefix, finds its standard library and extension modules, and sees
    none of the original's site-packages."""
    seen = json.loads(call([base_python, "-c", BASE_CHECK], env=clean_env()))
    real_root = os.path.realpath(root)
    for key in ("prefix", "base_prefix", "exec_prefix"):
        if os.path.realpath(seen[key]) != real_root:
            raise SystemExit("{}: sys.{} is {}, not {}".format(base_python, key, seen[key], root))
    for site in info["site"]:
        for entry in seen["path"] + seen["files"]:
            if entry.startswith(site):
                raise SystemExit("{} still sees {} ({})".format(base_python, site, entry))


def guestshell_env(python):
    """(agent python, console script, paper python, base info) with the Guest Shell set, from
    the bundle, in venvs of the stripped base of `python`."""
    base_python, base = stripped_base(python)
    where = os.path.join(WORK, "guestshell-" + base["version"])
    stamp = source_digest(base_python, "guestshell", json.dumps(base["left_out_pth"]))
    prefix = os.path.join(where, "prefix")
    paper = os.path.join(where, "paper")
    if not fresh(where, stamp):
        log("building the Guest Shell venv from the bundle (install.sh) on {} ...".format(
            base_python))
        shutil.rmtree(where, ignore_errors=True)
        os.makedirs(where)
        unpacked = build_bundle(where)
        call(["bash", os.path.join(unpacked, "install.sh"), "--prefix", prefix, "--python",
              base_python, "--no-doctor", "--wheels", os.path.join(WHEELS, "local")])
        log("building the paper's venv (pingparsing 1.4.1) ...")
        call([base_python, "-m", "venv", paper])
        call([os.path.join(paper, "bin", "python"), "-m", "pip", "install", "-q", "--no-index",
              "--find-links", os.path.join(WHEELS, "guestshell"),
              "-c", os.path.join(ROOT, "constraints", "guestshell.txt"),
              "-c", os.path.join(ROOT, "constraints", "guestshell-test.txt"), "pingparsing"])
        mark(where, stamp)
    venv = os.path.join(prefix, "venv")
    return (os.path.join(venv, "bin", "python3"), os.path.join(venv, "bin", "guestagent"),
            os.path.join(paper, "bin", "python"), base)


def dev_python():
    return os.path.join(ROOT, ".venv", "bin", "python")


def dev_env():
    """(agent python, console script, paper python, base info) with the development set: the
    guestagent wheel in a venv of the stripped base of the development interpreter, the
    development venv's packages beside it (a .pth line: the editable install's hook there is
    not run)."""
    dev = dev_python()
    site = call([dev, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    base_python, base = stripped_base(dev)
    where = os.path.join(WORK, "dev")
    stamp = source_digest(base_python, "dev-without-pip", json.dumps(base["left_out_pth"]))
    venv = os.path.join(where, "venv")
    if not fresh(where, stamp):
        log("building the development-set venv on {} ...".format(base_python))
        shutil.rmtree(where, ignore_errors=True)
        os.makedirs(where)
        wheels = os.path.join(where, "wheels")
        call([dev, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
              "-w", wheels, ROOT])
        # No pip nor setuptools inside, as install.sh makes it: setuptools' .pth would run at
        # every start-up. The development venv's pip installs into it.
        call([base_python, "-m", "venv", "--without-pip", venv])
        wheel = [n for n in os.listdir(wheels) if n.startswith("guestagent-")][0]
        call([dev, "-m", "pip", "--python", os.path.join(venv, "bin", "python"), "install",
              "-q", "--no-deps", "--no-index", os.path.join(wheels, wheel)])
        own = call([os.path.join(venv, "bin", "python"), "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
        with open(os.path.join(own, "development-set.pth"), "w") as f:
            f.write(site.strip() + "\n")
        mark(where, stamp)
    python = os.path.join(venv, "bin", "python")
    return python, os.path.join(venv, "bin", "guestagent"), python, base


def reference_env(base, set_python):
    """For the reference row: a venv as install.sh made it on the interpreter as installed here
    (--system-site-packages, so its site-packages' .pth files run), seeing the Guest Shell set's
    packages (certifi among them) through a .pth line, as the Guest Shell venv did when it sat
    on that interpreter."""
    where = os.path.join(WORK, "reference-" + base["version"])
    venv = os.path.join(where, "venv")
    site = call([set_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                env=clean_env()).strip()
    stamp = json.dumps([base["original_python"], site, "reference-1"])
    if not fresh(where, stamp):
        shutil.rmtree(where, ignore_errors=True)
        os.makedirs(where)
        call([base["original_python"], "-m", "venv", "--without-pip", "--system-site-packages",
              venv], env=clean_env())
        own = call([os.path.join(venv, "bin", "python"), "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   env=clean_env()).strip()
        with open(os.path.join(own, "guestshell-set.pth"), "w") as f:
            f.write(site + "\n")
        mark(where, stamp)
    return os.path.join(venv, "bin", "python")


def write_config(directory, n_targets, interval_s):
    targets = "\n".join("  - {{name: lo{0}, host: 127.0.0.{0}}}".format(i + 1)
                        for i in range(n_targets))
    state = os.path.join(directory, "state-{}".format(n_targets))
    text = """agent: {{state_dir: {state}, deadline_s: 30}}
device: {{kind: simulated}}
path_discovery: {{enabled: {pd}, toward: 127.0.0.1, first_hop: false}}
probes:
  concurrency: 64
  icmp: {{count: 10, interval_s: {interval}, timeout_s: 1.0}}
  traceroute: {{max_hops: 2}}
targets:{targets}
""".format(state=state, pd="true" if n_targets else "false", interval=interval_s,
           targets="\n" + targets if n_targets else " []")
    path = os.path.join(directory, "config-{}.yaml".format(n_targets))
    with open(path, "w") as f:
        f.write(text)
    return path


def measured(argv, env=None, rss=False):
    """(wall s, CPU s of the process and its waited children, peak RSS MiB, bytes written).

    A child forked from this benchmark counts this process's RSS as its own until it execs, so
    with `rss` the command runs under /usr/bin/time (Debian's `time`), whose own small RSS is all
    its child inherits, and the peak is the one time reports."""
    # On tmpfs: `time` writing its figure to this disk would count a page against the row.
    rss_file = os.path.join(RSS_DIR, "guestagent-bench-rss-{}.txt".format(os.getpid()))
    wrapped = argv
    if rss and os.path.exists(TIME):
        wrapped = [TIME, "-f", "%M", "-o", rss_file] + list(argv)
    started = time.perf_counter()
    # Run from build/bench/: `python -m` puts the working directory first on sys.path, and from
    # the source tree it would import the tree's guestagent instead of the installed one.
    proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            cwd=WORK)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code not in (0, 1):
        raise SystemExit("{} failed ({}): {}".format(" ".join(argv), code, err.decode()[-800:]))
    peak_mib = usage.ru_maxrss / 1024.0
    if wrapped is not argv:
        with open(rss_file) as f:
            peak_mib = int(f.read().split()[-1]) / 1024.0
        os.remove(rss_file)
    return wall, usage.ru_utime + usage.ru_stime, peak_mib, usage.ru_oublock * 512


def clean_env():
    """No PYTHONPATH or bytecode switch of this shell: the installed package is what runs."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME", "GUESTAGENT_CONFIG"):
        env.pop(key, None)
    return env


SET_NAMES = {"guestshell": "Guest Shell set", "dev": "development set"}


def median_of(samples, i):
    return statistics.median(s[i] for s in samples)


def ping_rows(rows, fping_rows):
    """The 10-pings table of one set (printed), and its figures."""
    print("{:<34} {:>8} {:>8} {:>7} {:>7} {:>9} {:>11}".format(
        "10 pings per test point", "wall s", "ratio", "cpu s", "min", "RSS MiB", "flash KiB"))
    rows = dict(rows, fping=fping_rows)
    wall_one = median_of(rows["agent-1"], 0)
    table = {}
    for key, label in ([("agent-{}".format(n), "guestagent, {} test point(s)".format(n))
                        for n in SIZES] +
                       [("paper", "paper: pingparsing, in turn, 10"),
                        ("fping", "fping -C 10, 10")]):
        if not rows[key]:
            continue
        wall, cpu, rss, written = (median_of(rows[key], i) for i in range(4))
        cpu_min = min(r[1] for r in rows[key])
        table[key] = {"wall_s": wall, "cpu_s": cpu, "cpu_min_s": cpu_min, "peak_rss_mib": rss,
                      "written_bytes": written}
        ratio = "{:8.2f}".format(wall / wall_one) if key.startswith("agent") else " " * 8
        print("{:<34} {:>8.3f} {} {:>7.3f} {:>7.3f} {:>9.1f} {:>11.1f}".format(
            label, wall, ratio, cpu, cpu_min, rss, written / 1024.0))
    return table


# What `python -m anything` imports before the module runs (runpy, and on 3.6 the importlib
# package with types, functools, collections): the floor of the `-m` row, printed beside it.
# The floor rows end as the agent's `run` and `--version` do, by os._exit (guestagent.leave):
# the interpreter's teardown of what they imported (1.8 ms for runpy's on 3.6) is no floor.
EXIT = "import os; os._exit(0)"
RUNPY = "python -c 'import runpy' (-m's own)"
# What a cycle without a test point cannot go without, imported and nothing run: runpy (-m),
# _sre (the parsers' patterns, built from the kept programs: guestagent/rx.py), _json (reports,
# the journal, the cycle state: guestagent/jsontext.py), zlib (compact journal lines) and math.
# (Its tasks run on _thread, and it opens the SLA state, sqlite3, only in the cycle that
# commits; re and json load only when a pattern is not kept: none of those is part of it.)
FLOOR_MODULES = "runpy, _sre, _json, zlib, math"
FLOOR = "python -c 'import {}'".format(FLOOR_MODULES)
STARTUP_HEADER = "{:<40} {:>8} {:>7} {:>8} {:>7}"
STARTUP_ROW = "{:<40} {:>8.1f} {:>7.2f} {:>8.1f} {:>7.2f}"


def startup_rows(table, startup, labels, runs):
    print(STARTUP_HEADER.format("start-up (median of {})".format(runs), "wall ms", "ratio",
                                "cpu ms", "ratio"))
    bare_wall = median_of(startup["python -c pass"], 0)
    bare_cpu = median_of(startup["python -c pass"], 1)
    for label in labels:
        wall, cpu = median_of(startup[label], 0), median_of(startup[label], 1)
        table[label] = dict(table.get(label, {}), wall_s=wall, cpu_s=cpu)
        print(STARTUP_ROW.format(label, wall * 1000, wall / bare_wall, cpu * 1000,
                                 cpu / bare_cpu))
    return bare_wall, bare_cpu


def goal_figures(table, bare_wall, bare_cpu, bare_rss):
    """The ratios of one set, and its goal lines: (goal, figure, short figure for a column)."""
    agent10 = table["agent-10"]
    version = table["python -m guestagent --version"]
    zero = table["run --dry-run, no test point"]
    script = table["guestagent --version (console script)"]
    paper = table["paper"]
    fping = table.get("fping")
    ratios = {
        "p2_cpu_s": agent10["cpu_s"], "p2_cpu_over_paper": agent10["cpu_s"] / paper["cpu_s"],
        "p3_version_wall": version["wall_s"] / bare_wall,
        "p3_version_cpu": version["cpu_s"] / bare_cpu,
        "p3_runpy_cpu": table[RUNPY]["cpu_s"] / bare_cpu,
        "p3_floor_cpu": table[FLOOR]["cpu_s"] / bare_cpu,
        "p3_zero_target_wall": zero["wall_s"] / bare_wall,
        "p3_zero_target_cpu": zero["cpu_s"] / bare_cpu,
        "p3_script_over_m_wall": script["wall_s"] / version["wall_s"],
        "p3_script_over_m_cpu": script["cpu_s"] / version["cpu_s"],
        "p4_peak_rss_mib": agent10["peak_rss_mib"],
        "p4_above_interpreter_mib": agent10["peak_rss_mib"] - bare_rss,
        "p1_wall_50_over_1": table["agent-50"]["wall_s"] / table["agent-1"]["wall_s"],
        "written_bytes_10": agent10["written_bytes"],
    }

    def times(wall, cpu):
        return "{:.2f}x wall, {:.2f}x CPU".format(wall, cpu)

    goals = [
        ("P2 CPU, 10 test points <= 0.20 s",
         "{:.3f} s = {:.2f}x the paper's {:.3f} s; fping {}".format(
             agent10["cpu_s"], ratios["p2_cpu_over_paper"], paper["cpu_s"],
             "{:.3f} s".format(fping["cpu_s"]) if fping else "absent"),
         "{:.3f} s = {:.2f}x the paper's {:.3f}".format(
             agent10["cpu_s"], ratios["p2_cpu_over_paper"], paper["cpu_s"])),
        ("P3 -m --version <= 1.5x python -c pass",
         times(ratios["p3_version_wall"], ratios["p3_version_cpu"]) +
         "; -m's own import of runpy {:.2f}x CPU".format(ratios["p3_runpy_cpu"]), None),
        ("P3 zero-target run <= 3x",
         times(ratios["p3_zero_target_wall"], ratios["p3_zero_target_cpu"]) +
         "; the standard library it needs ({}) {:.2f}x CPU".format(
             FLOOR_MODULES, ratios["p3_floor_cpu"]), None),
        ("P3 console script <= -m",
         "{:.1f} ms vs {:.1f} ms wall, {:.1f} vs {:.1f} ms CPU".format(
             script["wall_s"] * 1000, version["wall_s"] * 1000, script["cpu_s"] * 1000,
             version["cpu_s"] * 1000),
         "{:.1f} vs {:.1f} ms CPU, {:.2f}x".format(
             script["cpu_s"] * 1000, version["cpu_s"] * 1000, ratios["p3_script_over_m_cpu"])),
        ("P4 peak RSS, 10 test points <= 25 MiB",
         "{:.1f} MiB ({:.1f} above the interpreter's)".format(
             agent10["peak_rss_mib"], ratios["p4_above_interpreter_mib"]),
         "{:.1f} MiB, {:.1f} above -c pass".format(
             agent10["peak_rss_mib"], ratios["p4_above_interpreter_mib"])),
        ("P1 wall 50 / 1 <= 1.10", "{:.3f}".format(ratios["p1_wall_50_over_1"]), None),
        ("flash written, 10 test points",
         "{:.1f} KiB".format(agent10["written_bytes"] / 1024.0), None),
    ]
    return ratios, [(goal, long, short or long) for goal, long, short in goals]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deps", choices=("guestshell", "dev", "both"), default="guestshell",
                        help="dependency set (default: guestshell, the router's); both: the two "
                             "sets on the development interpreter, interleaved in one run")
    parser.add_argument("--python", default=None,
                        help="interpreter of the Guest Shell set (default {}); --deps dev and "
                             "both use the development venv's base".format(PYTHON36))
    parser.add_argument("--python36", dest="python", help=argparse.SUPPRESS)  # the old name
    parser.add_argument("--interval", type=float, default=0.2, help="ping interval (s)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians)")
    parser.add_argument("--startup-runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    if args.python and args.deps != "guestshell":
        parser.error("--python chooses the Guest Shell set's interpreter: --deps {} runs on the "
                     "development venv's base ({})".format(args.deps, dev_python()))
    os.makedirs(WORK, exist_ok=True)
    names = ["guestshell", "dev"] if args.deps == "both" else [args.deps]
    sets = {}
    for name in names:
        if name == "guestshell":
            built = guestshell_env(args.python or (PYTHON36 if args.deps == "guestshell"
                                                   else dev_python()))
        else:
            built = dev_env()
        sets[name] = dict(zip(("python", "script", "paper", "base"), built))
    base = sets[names[0]]["base"]
    env = clean_env()
    for name in names:
        s = sets[name]
        s["version"], prefix, imported = call(
            [s["python"], "-c", "import sys, guestagent; print(sys.version.split()[0]); "
             "print(sys.prefix); print(guestagent.__file__)"], env=env, cwd=WORK).split()
        if not imported.startswith(prefix + os.sep):  # the installed package, not a tree's
            raise SystemExit("{} imports guestagent from {}, not from its venv {}".format(
                s["python"], imported, prefix))
        runs = os.path.join(WORK, "runs-" + name)
        shutil.rmtree(runs, ignore_errors=True)
        os.makedirs(runs)
        s["configs"] = dict((n, write_config(runs, n, args.interval)) for n in SIZES + (0,))
        s["rows"] = dict((key, []) for key in ["agent-{}".format(n) for n in SIZES] + ["paper"])
    hosts = ["127.0.0.{}".format(i + 1) for i in range(PAPER_TARGETS)]
    fping = shutil.which("fping")
    fping_rows = []

    def cycle(name, n):
        s = sets[name]
        return [s["python"], "-m", "guestagent", "run", "--dry-run", "--config", s["configs"][n]]

    for n in SIZES:  # the first cycle creates the state; it is not what a router pays each time
        for name in names:
            measured(cycle(name, n), env)
    for round_ in range(args.repeat):
        log("round {} of {}".format(round_ + 1, args.repeat))
        for n in SIZES:
            for name in names:
                sets[name]["rows"]["agent-{}".format(n)].append(measured(cycle(name, n), env,
                                                                          rss=True))
        for name in names:
            sets[name]["rows"]["paper"].append(measured(
                [sets[name]["paper"], "-c", PAPER, "10", "{:g}".format(args.interval)] + hosts,
                env, rss=True))
        if fping:
            fping_rows.append(measured([fping, "-q", "-C", "10", "-p", str(int(
                args.interval * 1000)), "-t", "1000"] + hosts, env, rss=True))

    # Start-up: every set's commands and the reference rows, interleaved (a busy moment costs
    # every row alike).
    labels = ["python -c pass", "python -m guestagent --version",
              "guestagent --version (console script)", "run --dry-run, no test point",
              RUNPY, FLOOR]
    commands = []
    for name in names:
        s = sets[name]
        commands += [((name, labels[0]), [s["python"], "-c", "pass"]),
                     ((name, labels[1]), [s["python"], "-m", "guestagent", "--version"]),
                     ((name, labels[2]), [s["script"], "--version"]),
                     ((name, labels[3]), cycle(name, 0)),
                     ((name, labels[4]), [s["python"], "-c", "import runpy; " + EXIT]),
                     ((name, labels[5]), [s["python"], "-c",
                                          "import " + FLOOR_MODULES + "; " + EXIT])]
    # (label, what it is, argv): the interpreter as installed here, its site-packages' .pth
    # files run at start-up.
    original = base["original_python"]
    reference = [("{} -c pass, as installed".format(os.path.basename(original)),
                  "{}: its own site-packages, {} run".format(
                      original, ", ".join(base["left_out_pth"]) or "no .pth file"),
                  [original, "-c", "pass"])]
    if "guestshell" in sets:
        reference.append(("venv on it seeing the Guest Shell set",
                          "--system-site-packages on {}, the set's packages on its path (as "
                          "install.sh made it there: certifi importable)".format(original),
                          [reference_env(base, sets["guestshell"]["python"]), "-c", "pass"]))
    commands += [(("reference", label), argv) for label, _, argv in reference]
    startup = dict((key, []) for key, _ in commands)
    for _, argv in commands:
        measured(argv, env)  # page cache, bytecode
    for _ in range(args.startup_runs):
        for key, argv in commands:
            startup[key].append(measured(argv, env))
    bare_rss = {}
    for _ in range(3):
        for name in names:
            bare_rss.setdefault(name, []).append(
                measured([sets[name]["python"], "-c", "pass"], env, rss=True)[2])

    others = base["left_out_other_entries"]
    print("base interpreter: {} (binary copied from {}, libpython {}; standard library linked "
          "from {}; empty site-packages: left out {}{})".format(
              base["python"], base["copied_from"], base["libpython"] or "?", base["stdlib"],
              ", ".join(base["left_out_pth"]) or "no .pth file",
              " and {} other entr{}".format(others, "y" if others == 1 else "ies")
              if others else ""))
    figures = {}
    goal_lines = {}
    for name in names:
        s = sets[name]
        print()
        print("deps {}: Python {} ({}), {} cores; {} round(s), ping interval {:g} s, "
              "10 pings".format(name, s["version"], s["python"], os.cpu_count(), args.repeat,
                                args.interval))
        print()
        table = ping_rows(s["rows"], fping_rows)
        rss = statistics.median(bare_rss[name])
        table["python -c pass"] = {"peak_rss_mib": rss}
        print("{:<34} {:>43.1f}".format("the interpreter alone (-c pass)", rss))
        print()
        set_startup = dict((label, startup[(name, label)]) for label in labels)
        bare_wall, bare_cpu = startup_rows(table, set_startup, labels, args.startup_runs)
        s["bare"] = (bare_wall, bare_cpu)
        ratios, goal_lines[name] = goal_figures(table, bare_wall, bare_cpu, rss)
        figures[name] = {"python": s["python"], "version": s["version"], "figures": table,
                         "ratios": ratios}

    print()
    first = names[0]
    bare_wall, bare_cpu = sets[first]["bare"]
    print(STARTUP_HEADER.format("reference (ratio: {} -c pass)".format(first),
                                "wall ms", "ratio", "cpu ms", "ratio"))
    references = {}
    for label, what, _ in reference:
        wall = median_of(startup[("reference", label)], 0)
        cpu = median_of(startup[("reference", label)], 1)
        references[label] = {"wall_s": wall, "cpu_s": cpu, "what": what}
        print(STARTUP_ROW.format(label, wall * 1000, wall / bare_wall, cpu * 1000,
                                 cpu / bare_cpu))
        print("  " + what)
    print()
    out = {"deps": args.deps, "interval_s": args.interval, "base": base,
           "reference": references, "sets": figures}
    if len(names) == 1:
        for goal, figure, _ in goal_lines[first]:
            print("{:<40} {}".format(goal, figure))
        out.update(python=figures[first]["version"], figures=figures[first]["figures"])
    else:
        gs, dev = figures["guestshell"], figures["dev"]
        rss_ratio = (dev["figures"]["agent-10"]["peak_rss_mib"] /
                     gs["figures"]["agent-10"]["peak_rss_mib"])
        out["p4_dev_over_guestshell"] = rss_ratio
        width = max(len(short) for name in names for _, _, short in goal_lines[name]) + 2
        row = "{:<40} {:<%d} {}" % width
        print(row.format("goals, Python {}".format(gs["version"]), "guestshell", "dev"))
        for i, (goal, _, short) in enumerate(goal_lines["guestshell"]):
            print(row.format(goal, short, goal_lines["dev"][i][2]))
            if goal.startswith("P2") and fping_rows:
                fping_cpu = "{:.3f} s".format(median_of(fping_rows, 1))
                print(row.format("P2 fping -C 10, 10 test points (shared)", fping_cpu,
                                 fping_cpu))
            if goal.startswith("P4"):
                print(row.format("P4 dev / guestshell, 10 test points", "",
                                 "{:.2f}x (<= 1.10)".format(rss_ratio)))
    if args.json:
        print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
