"""Flash writes, history and the VictoriaMetrics sink's journal reading, side by side in one run.

    python bench/journal.py [--cycles N] [--dir DIR | --loop-ext4]

1. write_bytes per 10-test-point cycle by file: real `python -m guestagent run` cycles on the
   simulated router with loopback targets (10 pings each) and a VictoriaMetrics sink (Debian's
   victoria-metrics on loopback). The kernel counts write_bytes per dirtied 4 KiB page when a
   write happens; each cycle process reads /proc/self/io around the journal append, the state
   save, the lock and the SQLite store's begin/commit, and os.wait4() gives its whole
   ru_oublock * 512. Rotation is measured once (a cycle whose journal file is full) and
   amortized over the cycles a file holds. Under DIR (default: in this checkout), which must
   not be tmpfs. `--loop-ext4` (root): the state on a private ext4 on a loop device, the cycles
   run as uid 1000 (Guest Shell's user) with the system's python3, and the sectors each cycle
   writes to that device printed beside: write_bytes misses the file system's journal, and on
   kernels with large folios counts whole folios (bench/flashdev.py).
2. Journal days held for the default budget at 10 and 50 test points (a 5-minute cycle), from
   the compact lines those cycles wrote.
3. The VictoriaMetrics sink when caught up: journal bytes read and sink time per cycle against
   the journal's size, with the cursor's position and without it (the search by cycle id).

Everything is on loopback; nothing leaves the machine. Prints figures; asserts nothing.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# Run inside each cycle process: write_bytes around the parts, then the agent's own main.
CHILD = r"""
import atexit, json, os, sys
def written():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
parts = {}
def wrap(owner, name, label):
    original = getattr(owner, name)
    def measured(*args, **kwargs):
        before = written()
        try:
            return original(*args, **kwargs)
        finally:
            parts[label] = parts.get(label, 0) + written() - before
    setattr(owner, name, measured)
from guestagent.sinks import journal
from guestagent import cycle, statefile
wrap(journal, "append", "journal")
wrap(statefile.SlotState, "save", "state")
wrap(statefile, "write_json", "json files")
wrap(cycle.CycleLock, "__enter__", "locks")
from guestagent import sla
wrap(sla, "begin", "sqlite")
wrap(sla.Pending, "commit", "sqlite")
wrap(sla.Pending, "rollback", "sqlite")
atexit.register(lambda: open(os.environ["BENCH_PARTS"], "w").write(json.dumps(parts)))
from guestagent.cli import main
sys.argv = ["guestagent"] + sys.argv[1:]
sys.exit(main())
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_vm(directory):
    binary = shutil.which("victoria-metrics")
    if not binary:
        return None, None
    port = free_port()
    log = open(os.path.join(directory, "vm.log"), "a")
    proc = subprocess.Popen([binary, "-httpListenAddr=127.0.0.1:{}".format(port),
                             "-storageDataPath=" + os.path.join(directory, "vm-data"),
                             "-retentionPeriod=100y"], stdout=log, stderr=subprocess.STDOUT)
    until = time.monotonic() + 30
    while time.monotonic() < until:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, "http://127.0.0.1:{}".format(port)
        except OSError:
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    return None, None


def write_config(directory, name, n_targets, vm_url):
    targets = "\n".join("  - {{name: lo{0}, host: 127.0.0.{0}}}".format(i + 1)
                        for i in range(n_targets))
    sinks = "sinks:\n  victoriametrics: {{url: \"{}\", timeout_s: 5}}\n".format(vm_url) \
        if vm_url else ""
    text = """agent: {{state_dir: {state}, deadline_s: 60, instance: bench}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes:
  concurrency: 64
  icmp: {{count: 10, interval_s: 0.05, timeout_s: 1.0}}
targets:
{targets}
{sinks}""".format(state=os.path.join(directory, name), targets=targets, sinks=sinks)
    path = os.path.join(directory, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


# --loop-ext4 runs the cycles as Guest Shell does, as uid 1000 (shared/docs/platform.md): as
# root, SQLite fchown()s its journal at each open, a change of its own to the file system.
AS_USER = None  # (python, site-packages) an unprivileged user can run


def unprivileged_python():
    """An interpreter of this version that uid 1000 can run (this one may sit under /root),
    with this venv's site-packages for the dependencies."""
    import sysconfig
    candidate = "/usr/bin/python{}.{}".format(*sys.version_info[:2])
    if not os.access(candidate, os.X_OK):
        raise SystemExit("--loop-ext4 runs the cycles as uid 1000 with {}: not found".format(
            candidate))
    return candidate, sysconfig.get_paths()["purelib"]


def cycle(config, parts_path):
    """(parts {label: bytes}, total write bytes) of one real cycle process."""
    env = dict(os.environ, PYTHONPATH=ROOT, BENCH_PARTS=parts_path)
    python, preexec = sys.executable, None
    if AS_USER:
        python = AS_USER[0]
        env["PYTHONPATH"] = os.pathsep.join([ROOT, AS_USER[1]])
        env["HOME"] = "/tmp"

        def preexec():
            os.setgid(1000)
            os.setuid(1000)
    proc = subprocess.Popen([python, "-c", CHILD, "run", "--config", config],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=preexec)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status) if hasattr(
        os, "waitstatus_to_exitcode") else status >> 8
    if proc.returncode not in (0, 1):
        raise SystemExit("cycle failed ({}): {}".format(proc.returncode, config))
    with open(parts_path) as f:
        parts = json.load(f)
    return parts, usage.ru_oublock * 512


def give_to_user(top):
    """Hand a tree this benchmark wrote (as root) to Guest Shell's uid 1000, whose cycles
    append to it."""
    for directory, _, names in os.walk(top):
        for path in [directory] + [os.path.join(directory, name) for name in names]:
            os.chown(path, 1000, 1000)


def journal_lines(journal_dir):
    from guestagent.sinks import journal
    out = []
    for path in journal.files(journal_dir):
        with open(path, "rb") as f:
            out.extend(f.read().splitlines())
    return out


def days_held(full_bytes, compact_bytes, max_bytes, budget_bytes, interval_s=300.0):
    """Days of reports in the budget: each file holds one report in full, then compact ones."""
    per_file = 1 + max(0, (max_bytes - full_bytes) // compact_bytes)
    files = budget_bytes // max_bytes
    return files * per_file * interval_s / 86400.0


def filesystem(path):
    best, kind = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if path.startswith(fields[1]) and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    return kind


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=12, help="measured 10-point cycles")
    parser.add_argument("--dir", default=ROOT, help="where the state goes (not tmpfs)")
    parser.add_argument("--loop-ext4", action="store_true", help="the state on a private ext4 "
                        "on a loop device (root): the sectors each cycle writes to it, the file "
                        "system's journal included, beside write_bytes (flashdev.py)")
    args = parser.parse_args()
    device = None
    if args.loop_ext4:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from flashdev import LoopExt4
        device = LoopExt4(os.path.join(ROOT, "build")).__enter__()
        args.dir = device.mount_point
        global AS_USER
        AS_USER = unprivileged_python()
    from guestagent import config as configs, statefile
    from guestagent.sinks import journal
    defaults = configs.parse("{}\n")
    max_bytes, budget = defaults.journal.max_bytes, defaults.journal.budget_bytes
    work = tempfile.mkdtemp(prefix="bench-journal-", dir=args.dir)
    # VictoriaMetrics' own files stay off the measured file system.
    vm_dir = tempfile.mkdtemp(prefix="bench-journal-vm-", dir=os.path.join(ROOT, "build")) \
        if device else work
    vm, vm_url = start_vm(vm_dir)
    parts_dir = work
    try:
        kind = filesystem(os.path.realpath(work))
        print("machine: {} cores, Python {}; state on {} ({}); VictoriaMetrics {}".format(
            os.cpu_count(), sys.version.split()[0], work, kind,
            "on loopback" if vm_url else "not installed: sink left out"))
        # The child's own report of its parts goes to tmpfs, where writes are not counted, so
        # that the whole-process figure is the cycle's alone.
        parts_dir = tempfile.mkdtemp(prefix="bench-journal-parts-", dir="/dev/shm") \
            if os.path.isdir("/dev/shm") else work
        parts_path = os.path.join(parts_dir, "parts.json")
        if device:
            for path in (work, parts_dir):
                os.chown(path, 1000, 1000)

        # -- 1. write_bytes per 10-point cycle, by file ------------------------------------
        config10 = write_config(work, "s10", 10, vm_url)
        for _ in range(2):  # first use: the store's schema, the journal's first line
            cycle(config10, parts_path)
        runs, on_device = [], []
        for _ in range(args.cycles):
            before = device.written() if device else 0
            runs.append(cycle(config10, parts_path))
            if device:
                on_device.append(device.written() - before)
        jdir10 = os.path.join(work, "s10", "journal")
        lines10 = journal_lines(jdir10)
        full10, compact10 = len(lines10[0]) + 1, statistics.mean(
            len(x) + 1 for x in lines10[1:])
        # Rotation: a cycle whose journal file cannot take another line.
        current = os.path.join(jdir10, journal.CURRENT)
        with open(current, "ab") as f:
            f.write(b"\n" * (max_bytes - os.path.getsize(current) - 16))
        rotation, _ = cycle(config10, parts_path)
        per_file = 1 + (max_bytes - full10) // int(compact10)
        journal_mean = statistics.mean(p.get("journal", 0) for p, _ in runs)
        rotation_extra = max(0, rotation.get("journal", 0) - journal_mean)
        amortized = journal_mean + rotation_extra / per_file
        state_mean = statistics.mean(p.get("state", 0) + p.get("json files", 0)
                                     for p, _ in runs)
        lock_mean = statistics.mean(p.get("locks", 0) for p, _ in runs)
        sqlite_mean = statistics.mean(p.get("sqlite", 0) for p, _ in runs)
        total_mean = statistics.mean(t for _, t in runs)
        rest = total_mean - journal_mean - state_mean - lock_mean - sqlite_mean
        print("\n== write_bytes per 10-test-point cycle ({} cycles, mean; kernel-counted "
              "per dirtied page)".format(args.cycles))
        print("{:<44} {:>10} {:>10}".format("file", "bytes", "budget"))
        print("{:<44} {:>10.0f} {:>10}".format(
            "journal (append; rotation amortized over {} cycles)".format(per_file)[:44],
            amortized, 8192))
        print("{:<44} {:>10.0f}".format("  of which the append itself", journal_mean))
        print("{:<44} {:>10.0f}".format("  one rotation (the new file's full report)",
                                        rotation_extra))
        print("{:<44} {:>10.0f} {:>10}".format("cycle state (sinks, cursor, interfaces)",
                                               state_mean, "2048"))
        print("{:<44} {:>10.0f} {:>10}".format("locks (pid for people)", lock_mean, "(other)"))
        print("{:<44} {:>10.0f} {:>10}".format("SQLite SLA store (begin + commit)", sqlite_mean,
                                               6144))
        print("{:<44} {:>10.0f} {:>10}".format("the rest (whole process minus the above)", rest,
                                               "(other)"))
        print("{:<44} {:>10.0f} {:>10}".format("whole cycle process (wait4 ru_oublock*512)",
                                               total_mean, 16384))
        if device:
            print("{:<44} {:>10.0f}   (min {:.0f}, max {:.0f}; as uid 1000)".format("on the device: a private ext4, its journal incl.",
                                     statistics.mean(on_device), min(on_device),
                                     max(on_device)))
        created = sorted(set(os.listdir(os.path.join(work, "s10"))) |
                         set("journal/" + n for n in os.listdir(jdir10)))
        print("files in the state after the run: {}".format(", ".join(created)))

        # -- 2. journal days for the default budget ------------------------------------------
        config50 = write_config(work, "s50", 50, None)
        for _ in range(4):
            cycle(config50, parts_path)
        lines50 = journal_lines(os.path.join(work, "s50", "journal"))
        full50, compact50 = len(lines50[0]) + 1, statistics.mean(
            len(x) + 1 for x in lines50[1:])
        print("\n== journal history, default budget {} MiB in files of {} MiB, 5-minute "
              "cycle".format(budget >> 20, max_bytes >> 20))
        print("{:>7} {:>14} {:>14} {:>8} {:>8} {:>8}".format(
            "points", "report bytes", "compact bytes", "ratio", "days", "goal"))
        for points, full, short, goal in ((10, full10, compact10, 7),
                                          (50, full50, compact50, 2)):
            print("{:>7} {:>14} {:>14.0f} {:>8.1f} {:>8.1f} {:>8}".format(
                points, full, short, full / short, days_held(full, int(short), max_bytes,
                                                             budget), goal))

        import gzip
        compact_blob = b"\n".join(lines10[1:]) + b"\n"
        print("gzip -6 of the 10-point compact lines (what compressing rotated files would "
              "add): {} -> {} bytes ({:.0f}% saved)".format(
                  len(compact_blob), len(gzip.compress(compact_blob, 6)),
                  100.0 * (1 - len(gzip.compress(compact_blob, 6)) / float(len(compact_blob)))))
        print("what a 10-point report's bytes are (JSON, sorted keys): " + ", ".join(
            "{} {}".format(k, n) for k, n in sorted(
                ((k, len(json.dumps(v, sort_keys=True))) for k, v in json.loads(
                    lines10[0].decode("utf-8")).items()), key=lambda kv: -kv[1])[:6]))

        # -- 3. the VictoriaMetrics sink when caught up, against the journal's size ---------
        if vm_url:
            print("\n== VictoriaMetrics sink, caught up: journal read and sink time per cycle")
            print("{:>12} {:>16} {:>12} {:>18} {:>14}".format(
                "journal MiB", "read, position", "sink ms", "read, id search", "sink ms"))
            sample = journal.last(jdir10)
            jdir = os.path.join(work, "grow", "journal")
            config = write_config(work, "grow", 10, vm_url)
            n, position = 0, {}
            # Sizes with the current file half full: the search by id reads it back to the
            # cursor's line (before that, the whole journal was read).
            for target_mib in (0.5, 3.5, 15.5, 31.5):
                while sum(os.path.getsize(p) for p in journal.files(jdir)) < \
                        target_mib * (1 << 20):
                    report = dict(sample, cycle=dict(sample["cycle"], id="grow-%07d" % n,
                                                     started_ts=sample["cycle"]["started_ts"] -
                                                     300.0 * (100000 - n)))
                    position = {}
                    journal.append(jdir, json.dumps(report, sort_keys=True), max_bytes, 1000,
                                   budget, position)
                    n += 1
                row = []
                for keep_position in (True, False):
                    state = statefile.cycle_state(jdir, fresh=True)
                    cursor = {"last_id": "grow-%07d" % (n - 1), "in_flight": None}
                    if keep_position:
                        cursor["position"] = position
                    state.put("victoriametrics", cursor)
                    state.put("sinks", {"cycle_id": "grow-%07d" % (n - 1)})
                    state.put("journal", {"cycle_id": "grow-%07d" % (n - 1),
                                          "position": position})
                    state.save()
                    if device:  # written here as root: the cycle runs as uid 1000
                        give_to_user(os.path.join(work, "grow"))
                    cycle(config, parts_path)
                    outcome = statefile.SlotState(os.path.join(
                        jdir, statefile.CYCLE_STATE)).get("sinks")["victoriametrics"]
                    row += [outcome.get("journal_read_bytes"), outcome["duration_s"] * 1000]
                    # Back to the grown journal (the cycle's own line goes) for the next read.
                    with open(journal.files(jdir)[-1], "r+b") as f:
                        f.truncate(position["offset"])
                print("{:>12.1f} {:>16} {:>12.1f} {:>18} {:>14.1f}".format(
                    sum(os.path.getsize(p) for p in journal.files(jdir)) / 1048576.0, *row))
    finally:
        if vm is not None:
            vm.terminate()
            vm.wait(10)
        shutil.rmtree(work, ignore_errors=True)
        if parts_dir != work:
            shutil.rmtree(parts_dir, ignore_errors=True)
        if device:
            shutil.rmtree(vm_dir, ignore_errors=True)
            device.__exit__(None, None, None)


if __name__ == "__main__":
    main()
