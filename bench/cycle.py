"""What one cycle costs on this machine, beside the paper's method and fping, in one run.

    python bench/cycle.py [--deps dev|guestshell] [--interval S] [--repeat N]

Every figure is measured on an install that is not editable (an editable install's import hook
slows every start-up):
- `--deps guestshell` (the router's): the offline bundle (`guestagent bundle`, the Guest Shell
  wheels of .cache/wheels/guestshell) installed by the bundle's own install.sh into a venv of
  Python 3.6 (default /root/.pyenv/versions/3.6.15, the router's 3.6 line), PyYAML from
  .cache/wheels/local for this machine. The paper's method runs in a venv beside it with
  pingparsing 1.4.1 and what it pulls in (constraints/guestshell-test.txt).
- `--deps dev`: the guestagent wheel in a venv of the development interpreter whose dependencies
  are the development venv's (.venv, constraints/dev.txt, pingparsing included).
Both are built under build/bench/ and reused while the source and the wheels stay the same.

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
- start-up: `python -c pass` of the same interpreter, `python -m guestagent --version`, the
  console script `guestagent --version`, and `run --dry-run` with no test point.

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


def guestshell_env(python36):
    """(agent python, console script, paper python) with the Guest Shell set, from the bundle."""
    base = os.path.join(WORK, "guestshell")
    stamp = source_digest(python36, "guestshell")
    prefix = os.path.join(base, "prefix")
    paper = os.path.join(base, "paper")
    if not fresh(base, stamp):
        log("building the Guest Shell venv from the bundle (install.sh) ...")
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        unpacked = build_bundle(base)
        call(["bash", os.path.join(unpacked, "install.sh"), "--prefix", prefix, "--python",
              python36, "--no-doctor", "--wheels", os.path.join(WHEELS, "local")])
        log("building the paper's venv (pingparsing 1.4.1) ...")
        call([python36, "-m", "venv", paper])
        call([os.path.join(paper, "bin", "python"), "-m", "pip", "install", "-q", "--no-index",
              "--find-links", os.path.join(WHEELS, "guestshell"),
              "-c", os.path.join(ROOT, "constraints", "guestshell.txt"),
              "-c", os.path.join(ROOT, "constraints", "guestshell-test.txt"), "pingparsing"])
        mark(base, stamp)
    venv = os.path.join(prefix, "venv")
    return (os.path.join(venv, "bin", "python3"), os.path.join(venv, "bin", "guestagent"),
            os.path.join(paper, "bin", "python"))


def dev_env():
    """(agent python, console script, paper python) with the development set: the guestagent
    wheel in a venv of the development interpreter, the development venv's packages beside it
    (a .pth line: the editable install's hook there is not run)."""
    dev_python = os.path.join(ROOT, ".venv", "bin", "python")
    site = call([dev_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    base_python = call([dev_python, "-c", "import sys, os; print(os.path.join(sys.base_prefix, "
                        "'bin', 'python3'))"]).strip()
    base = os.path.join(WORK, "dev")
    stamp = source_digest(base_python, "dev")
    venv = os.path.join(base, "venv")
    if not fresh(base, stamp):
        log("building the development-set venv ...")
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        wheels = os.path.join(base, "wheels")
        call([dev_python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
              "-w", wheels, ROOT])
        call([base_python, "-m", "venv", venv])
        wheel = [n for n in os.listdir(wheels) if n.startswith("guestagent-")][0]
        call([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q", "--no-deps",
              "--no-index", os.path.join(wheels, wheel)])
        own = call([os.path.join(venv, "bin", "python"), "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
        with open(os.path.join(own, "development-set.pth"), "w") as f:
            f.write(site.strip() + "\n")
        mark(base, stamp)
    python = os.path.join(venv, "bin", "python")
    return python, os.path.join(venv, "bin", "guestagent"), python


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
    rss_file = os.path.join(WORK, "rss.txt")
    wrapped = argv
    if rss and os.path.exists(TIME):
        wrapped = [TIME, "-f", "%M", "-o", rss_file] + list(argv)
    started = time.perf_counter()
    proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
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
    return wall, usage.ru_utime + usage.ru_stime, peak_mib, usage.ru_oublock * 512


def clean_env():
    """No PYTHONPATH or bytecode switch of this shell: the installed package is what runs."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME", "GUESTAGENT_CONFIG"):
        env.pop(key, None)
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deps", choices=("dev", "guestshell"), default="guestshell",
                        help="dependency set (default: guestshell, the router's)")
    parser.add_argument("--interval", type=float, default=0.2, help="ping interval (s)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians)")
    parser.add_argument("--startup-runs", type=int, default=15)
    parser.add_argument("--python36", default=PYTHON36)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    if args.deps == "guestshell":
        python, script, paper_python = guestshell_env(args.python36)
    else:
        python, script, paper_python = dev_env()
    env = clean_env()
    version = call([python, "-c", "import sys; print(sys.version.split()[0])"]).strip()
    runs = os.path.join(WORK, "runs-" + args.deps)
    shutil.rmtree(runs, ignore_errors=True)
    os.makedirs(runs)
    configs = dict((n, write_config(runs, n, args.interval)) for n in SIZES + (0,))
    hosts = ["127.0.0.{}".format(i + 1) for i in range(PAPER_TARGETS)]
    fping = shutil.which("fping")

    for n in SIZES:  # the first cycle creates the state; it is not what a router pays each time
        measured([python, "-m", "guestagent", "run", "--dry-run", "--config", configs[n]], env)
    rows = dict((key, []) for key in ["agent-{}".format(n) for n in SIZES] + ["paper", "fping"])
    for round_ in range(args.repeat):
        log("round {} of {}".format(round_ + 1, args.repeat))
        for n in SIZES:
            rows["agent-{}".format(n)].append(measured(
                [python, "-m", "guestagent", "run", "--dry-run", "--config", configs[n]], env,
                rss=True))
        rows["paper"].append(measured([paper_python, "-c", PAPER, "10", "{:g}".format(
            args.interval)] + hosts, env, rss=True))
        if fping:
            rows["fping"].append(measured([fping, "-q", "-C", "10", "-p", str(int(
                args.interval * 1000)), "-t", "1000"] + hosts, env, rss=True))

    startup_commands = [
        ("python -c pass", [python, "-c", "pass"]),
        ("python -m guestagent --version", [python, "-m", "guestagent", "--version"]),
        ("guestagent --version (console script)", [script, "--version"]),
        ("run --dry-run, no test point",
         [python, "-m", "guestagent", "run", "--dry-run", "--config", configs[0]]),
    ]
    startup = dict((label, []) for label, _ in startup_commands)
    for argv in (argv for _, argv in startup_commands):
        measured(argv, env)  # page cache, bytecode
    for _ in range(args.startup_runs):  # interleaved: a busy moment costs every row alike
        for label, argv in startup_commands:
            startup[label].append(measured(argv, env))

    def med(samples, i):
        return statistics.median(s[i] for s in samples)

    print("deps {}: Python {} ({}), {} cores; {} round(s), ping interval {:g} s, 10 pings".format(
        args.deps, version, python, os.cpu_count(), args.repeat, args.interval))
    print()
    print("{:<34} {:>8} {:>8} {:>7} {:>7} {:>9} {:>11}".format(
        "10 pings per test point", "wall s", "ratio", "cpu s", "min", "RSS MiB", "flash KiB"))
    wall_one = med(rows["agent-1"], 0)
    table = {}
    for key, label in ([("agent-{}".format(n), "guestagent, {} test point(s)".format(n))
                        for n in SIZES] +
                       [("paper", "paper: pingparsing, in turn, 10"),
                        ("fping", "fping -C 10, 10")]):
        if not rows[key]:
            continue
        wall, cpu, rss, written = (med(rows[key], i) for i in range(4))
        cpu_min = min(r[1] for r in rows[key])
        table[key] = {"wall_s": wall, "cpu_s": cpu, "cpu_min_s": cpu_min, "peak_rss_mib": rss,
                      "written_bytes": written}
        ratio = "{:8.2f}".format(wall / wall_one) if key.startswith("agent") else " " * 8
        print("{:<34} {:>8.3f} {} {:>7.3f} {:>7.3f} {:>9.1f} {:>11.1f}".format(
            label, wall, ratio, cpu, cpu_min, rss, written / 1024.0))
    bare_rss = statistics.median(measured([python, "-c", "pass"], env, rss=True)[2]
                                 for _ in range(3))
    table["python -c pass"] = {"peak_rss_mib": bare_rss}
    print("{:<34} {:>43.1f}".format("the interpreter alone (-c pass)", bare_rss))
    print()
    print("{:<40} {:>8} {:>7} {:>8} {:>7}".format("start-up (median of {})".format(
        args.startup_runs), "wall ms", "ratio", "cpu ms", "ratio"))
    bare_wall, bare_cpu = med(startup["python -c pass"], 0), med(startup["python -c pass"], 1)
    for label, _ in startup_commands:
        wall, cpu = med(startup[label], 0), med(startup[label], 1)
        table[label] = dict(table.get(label, {}), wall_s=wall, cpu_s=cpu)
        print("{:<40} {:>8.1f} {:>7.2f} {:>8.1f} {:>7.2f}".format(
            label, wall * 1000, wall / bare_wall, cpu * 1000, cpu / bare_cpu))
    print()
    agent10 = table["agent-10"]

    def ratio(label):
        return "{:.2f}x wall, {:.2f}x CPU".format(table[label]["wall_s"] / bare_wall,
                                                 table[label]["cpu_s"] / bare_cpu)

    goals = [
        ("P2 CPU, 10 test points <= 0.20 s", "{:.3f} s = {:.2f}x the paper's {:.3f} s; fping {}"
         .format(agent10["cpu_s"], agent10["cpu_s"] / table["paper"]["cpu_s"],
                 table["paper"]["cpu_s"],
                 "{:.3f} s".format(table["fping"]["cpu_s"]) if "fping" in table else "absent")),
        ("P3 -m --version <= 1.5x python -c pass", ratio("python -m guestagent --version")),
        ("P3 zero-target run <= 3x", ratio("run --dry-run, no test point")),
        ("P3 console script <= -m", "{:.1f} ms vs {:.1f} ms wall, {:.1f} vs {:.1f} ms CPU".format(
            table["guestagent --version (console script)"]["wall_s"] * 1000,
            table["python -m guestagent --version"]["wall_s"] * 1000,
            table["guestagent --version (console script)"]["cpu_s"] * 1000,
            table["python -m guestagent --version"]["cpu_s"] * 1000)),
        ("P4 peak RSS, 10 test points <= 25 MiB", "{:.1f} MiB ({:.1f} above the interpreter's)"
         .format(agent10["peak_rss_mib"], agent10["peak_rss_mib"] - bare_rss)),
        ("P1 wall 50 / 1 <= 1.10", "{:.3f}".format(table["agent-50"]["wall_s"] / wall_one)),
        ("flash written, 10 test points", "{:.1f} KiB".format(agent10["written_bytes"] / 1024.0)),
    ]
    for goal, figure in goals:
        print("{:<40} {}".format(goal, figure))
    if args.json:
        print(json.dumps({"deps": args.deps, "python": version, "interval_s": args.interval,
                          "figures": table}, sort_keys=True))


if __name__ == "__main__":
    main()
