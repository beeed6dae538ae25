"""Cycle cost on this machine: wall time for 1, 10 and 50 loopback test points (10 pings each),
CPU seconds (user+sys, child processes included) and peak RSS per cycle, and start-up time
against bare Python. Prints figures side by side; asserts nothing.

    python bench/cycle.py [--repeat N] [--interval S]

Every target is on loopback (127.0.0.x); nothing leaves the machine.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_config(directory, n_targets, interval_s, path_discovery=True):
    targets = "\n".join("  - {{name: lo{0}, host: 127.0.0.{0}}}".format(i + 1)
                        for i in range(n_targets))
    text = """
agent: {{state_dir: {state}, deadline_s: 30}}
device: {{kind: simulated}}
path_discovery: {{enabled: {pd}, toward: 127.0.0.1, first_hop: false}}
probes:
  concurrency: 64
  icmp: {{count: 10, interval_s: {interval}, timeout_s: 1.0}}
  traceroute: {{max_hops: 2}}
targets:
{targets}
""".format(state=os.path.join(directory, "state"), pd="true" if path_discovery else "false",
           interval=interval_s, targets=targets or "  []")
    if not n_targets:
        text = text.replace("targets:\n  []", "targets: []")
    path = os.path.join(directory, "config-{}.yaml".format(n_targets))
    with open(path, "w") as f:
        f.write(text)
    return path


def timed(argv):
    """(wall seconds, child user+sys seconds, child peak RSS KiB) of one command."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit("{} failed: {}".format(argv, proc.stderr.decode()[-500:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0, help="ping interval (s)")
    args = parser.parse_args()
    python = sys.executable
    tmp = tempfile.mkdtemp(prefix="guestagent-bench-")

    print("machine: {} cores, Python {}".format(os.cpu_count(), sys.version.split()[0]))
    print("\n== cycle wall time, loopback targets, 10 pings each at {} s".format(args.interval))
    print("{:>8} {:>10} {:>10} {:>10} {:>12}".format("targets", "wall s", "ratio", "cpu s",
                                                     "peak RSS MiB"))
    base = None
    rows = {}
    for n in (1, 10, 50):
        config = write_config(tmp, n, args.interval)
        runs = [timed([python, "-m", "guestagent", "run", "--dry-run", "--config", config])
                for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = max(r[2] for r in runs) / 1024.0
        base = base or wall
        rows[n] = {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss}
        print("{:>8} {:>10.3f} {:>10.3f} {:>10.3f} {:>12.1f}".format(n, wall, wall / base, cpu,
                                                                      rss))

    print("\n== start-up (median of 15)")
    empty = write_config(tmp, 0, args.interval, path_discovery=False)
    commands = [
        ("python3 -c pass", [python, "-c", "pass"]),
        ("guestagent --version", [python, "-m", "guestagent", "--version"]),
        ("guestagent run --dry-run (no targets)",
         [python, "-m", "guestagent", "run", "--dry-run", "--config", empty]),
    ]
    startup = {}
    for label, argv in commands:
        timed(argv)  # warm the page cache
        startup[label] = statistics.median(timed(argv)[0] for _ in range(15))
    bare = startup["python3 -c pass"]
    print("{:<40} {:>10} {:>8}".format("command", "wall ms", "ratio"))
    for label, _ in commands:
        print("{:<40} {:>10.1f} {:>8.2f}".format(label, startup[label] * 1000,
                                                startup[label] / bare))
    print("\ntargets: 50 targets within 1.10x of one target's time; --version within 2x of bare "
          "Python")
    print(json.dumps({"cycle": rows, "startup_s": startup}, sort_keys=True))


if __name__ == "__main__":
    main()
