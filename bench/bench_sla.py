"""SLA state: what one cycle costs in the engine over a whole day and a whole year, and what it
writes to flash.

    python3 bench/bench_sla.py [--points 10] [--interval 300] [--year-days 365] [--old REV]
        [--loop-ext4]   # also the sectors a private ext4 gets (root; bench/flashdev.py)

Time-compressed: the cycles are fed to the engine one after another without sleeping, each
exactly as a cycle does it (`sla.begin_store` with the journal directory, the report with its
`sla` section appended to the journal through `sinks/journal.py`, then the commit). Only the SLA
work is timed and counted (not the journal's append): CPU time of the process
(`time.process_time`) and `write_bytes` of `/proc/self/io` (the kernel counts each 4 KiB page a
write dirties; run it on a real disk such as ext4, tmpfs counts nothing).

1. **day**: a store with 15 days of history (the baseline window full, bulk-written with the
   store's own `insert_sample`), an hour of cycles to settle, then one whole day of cycles:
   the cost of the cycle at 00:05 and at 23:55, p50/p99/max over the day, flash bytes per
   cycle averaged over the day.
2. **year**: a fresh store fed `--year-days` days of cycles: p50/p99/max per cycle over the
   year and the same for its last day, the store's size at the end (retention reached).

`--old REV` runs the day again with the package of git revision REV (extracted to a temporary
directory) and prints both side by side. Figures only; nothing is asserted.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if "--package-root" not in sys.argv:
    sys.path.insert(0, ROOT)

START = 1764547200.0  # 2025-12-01T00:00:00Z
HISTORY_DAYS = 15


def sample(name, ts, rng, kind="icmp"):
    received = 10 if rng.random() > 0.01 else rng.choice((0, 7, 9))
    median = rng.lognormvariate(3.0, 0.2) if received else None
    if kind == "dns":
        return {"kind": "dns", "target": name, "role": "dns", "group": [], "started": ts,
                "error": None, "queries_sent": 4, "queries_answered": 4 if received else 0,
                "loss_ratio": 0.0 if received else 1.0,
                "response_ms": {"median": median} if received else None}
    return {"kind": "icmp", "target": name, "role": "isp-edge", "group": ["uplink"],
            "started": ts, "error": None, "sent": 10, "received": received,
            "loss_ratio": (10 - received) / 10.0, "reachable": received > 0,
            "rtt_ms": {"median": median} if received else None,
            "jitter_ms": rng.uniform(0.1, 3.0) if received else None}


def names(points):
    return ["tp-%02d" % i for i in range(points)]


def kind_of(index):
    return "dns" if index % 5 == 4 else "icmp"  # 2 resolvers among 10 test points


def report(ts, points, rng):
    # Samples start a little after the cycle, one after another, as the probes do.
    probes = [sample(name, ts + 0.5 + 0.01 * i, rng, kind_of(i))
              for i, name in enumerate(names(points))]
    return {"cycle": {"id": "c%d" % ts, "started_ts": ts}, "probes": probes}


def write_bytes():
    # Under --loop-ext4 the cycles run with uid 1000 as their effective uid, which may not read
    # this root process's /proc/self/io: root again for the read.
    user = os.geteuid() if os.geteuid() != os.getuid() else None
    try:
        if user is not None:
            os.seteuid(0)
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except (IOError, OSError):
        pass
    finally:
        if user is not None:
            os.seteuid(user)
    return 0


def fill(path, points, interval_s, first_ts, days, rng):
    """Bulk history through Store.insert_sample, one transaction per day, laid out as the cycles
    lay it: each day's samples join the indexed table at the next day's first transaction, and
    the retention drops the oldest day's then."""
    from guestagent.sla import config as sla_config, engine, store as stores
    retention_s = sla_config.SCHEMA.defaults()["retention_days"] * 86400.0
    store = stores.Store(path)
    per_day = int(86400 / interval_s)
    ids = {}
    store.begin()
    for i, name in enumerate(names(points)):
        ids[name] = store.point(name, kind_of(i), "dns" if kind_of(i) == "dns" else "isp-edge",
                                [] if kind_of(i) == "dns" else ["uplink"])["id"]
    store.commit()
    for day in range(days):
        store.begin()
        if day:
            store.move_recent()
            for point_id in ids.values():
                store.prune(point_id, first_ts + day * 86400.0 - retention_s, 10 ** 9)
        for n in range(per_day):
            ts = first_ts + (day * per_day + n) * interval_s
            for item in report(ts, points, rng)["probes"]:
                record = engine.normalize(item, 0.2, 500)
                record["within"] = {"delay_ms": True, "loss_ratio": True, "jitter_ms": True}
                store.insert_sample(ids[item["target"]], record)
        store.commit()
    store.close()


class Cycles(object):
    """Cycles through the engine as `cycle.py` runs them, timed one by one."""

    commit_every = None  # --commit-every: the config key, else its default
    device = None  # --loop-ext4: a flashdev.LoopExt4, whose sectors written are counted too
    # With a device, the journal lies off it: reading the journal updates its access time, and
    # the sync before the commit would write that inode at once, where a cycle's own journal
    # append commits it with its line.
    journal_root = None

    def __init__(self, work, points, interval_s, rng, journal_dir=None):
        from guestagent.sla import config as sla_config
        self.path = os.path.join(work, "sla.sqlite3")
        self.journal_dir = journal_dir or os.path.join(self.journal_root or work, "journal")
        self.cfg = sla_config.SCHEMA.defaults()
        if self.commit_every and "commit_every" in self.cfg:
            self.cfg["commit_every"] = self.commit_every
        self.points, self.interval_s, self.rng = points, interval_s, rng
        self.cpu_s, self.bytes, self.device_bytes = [], [], []
        self.errors = 0
        # The default journal bound; the year keeps smaller files: the journal's own reading
        # cost (it reads its current file whole) is not the engine's, and a year takes long.
        self.journal_max_bytes = 6 * 1024 * 1024

    def run(self, ts):
        from guestagent import sla
        from guestagent.sinks import journal
        rep = report(ts, self.points, self.rng)
        d0 = self.device.written() if self.device else 0
        w0, t0 = write_bytes(), time.process_time()
        pending = sla.begin_store(self.path, self.cfg, self.interval_s, rep, self.journal_dir)
        cpu, written = time.process_time() - t0, write_bytes() - w0
        device = self.device.written() - d0 if self.device else 0
        rep["sla"] = pending.section
        journal.append(self.journal_dir, json.dumps(rep, separators=(",", ":")),
                       self.journal_max_bytes, 2)
        d0 = self.device.written() if self.device else 0
        w0, t0 = write_bytes(), time.process_time()
        error = pending.commit()
        self.cpu_s.append(cpu + time.process_time() - t0)
        self.bytes.append(written + write_bytes() - w0)
        if self.device:
            self.device_bytes.append(device + self.device.written() - d0)
        if error or pending.section.get("error"):
            self.errors += 1
        return pending.section


def mean(values):
    return sum(values) / float(len(values)) if values else None


def stats(values):
    ordered = sorted(values)
    if not ordered:
        return {}

    def pick(p):
        return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]
    return {"p50": pick(50), "p99": pick(99), "max": ordered[-1], "mean": sum(values) / len(values)}


def day_phase(work, points, interval_s):
    rng = random.Random(7)
    per_day = int(86400 / interval_s)
    day0 = START + HISTORY_DAYS * 86400
    fill(os.path.join(work, "sla.sqlite3"), points, interval_s, START, HISTORY_DAYS, rng)
    cycles = Cycles(work, points, interval_s, rng)
    for n in range(int(3600 / interval_s)):  # the last hour of the day before
        cycles.run(day0 - 3600 + n * interval_s)
    cycles.cpu_s, cycles.bytes, cycles.device_bytes = [], [], []
    for n in range(per_day):
        cycles.run(day0 + n * interval_s)
    at = dict((label, cycles.cpu_s[int(seconds / interval_s)])
              for label, seconds in (("00:05", 300), ("23:55", 86100)))
    return {"points": points, "cycles": per_day, "cpu_s": stats(cycles.cpu_s), "at": at,
            "write_bytes_per_cycle": sum(cycles.bytes) / float(len(cycles.bytes)),
            "device_bytes_per_cycle": mean(cycles.device_bytes), "errors": cycles.errors,
            "bytes": cycles.bytes, "device_bytes": cycles.device_bytes}


def year_phase(work, points, interval_s, days, journal_dir=None):
    rng = random.Random(11)
    per_day = int(86400 / interval_s)
    cycles = Cycles(work, points, interval_s, rng, journal_dir)
    cycles.journal_max_bytes = 1024 * 1024
    started = time.time()
    for n in range(days * per_day):
        cycles.run(START + n * interval_s)
    last = cycles.cpu_s[-per_day:]
    return {"points": points, "days": days, "cycles": len(cycles.cpu_s),
            "cpu_s": stats(cycles.cpu_s), "last_day": stats(last),
            "at": {"00:05": last[1], "23:55": last[per_day - 1]},
            "write_bytes_per_cycle": sum(cycles.bytes) / float(len(cycles.bytes)),
            "last_day_write_bytes_per_cycle": sum(cycles.bytes[-per_day:]) / float(per_day),
            "last_day_bytes": cycles.bytes[-per_day:],
            "device_bytes_per_cycle": mean(cycles.device_bytes),
            "last_day_device_bytes": cycles.device_bytes[-per_day:],
            "store_mib": sum(os.path.getsize(os.path.join(work, name))
                             for name in os.listdir(work) if name.startswith("sla.sqlite3")
                             and os.path.isfile(os.path.join(work, name))) / 1048576.0,
            "wall_s": time.time() - started, "errors": cycles.errors}


def old_day(rev, work, points, interval_s, loop_ext4=False):
    """The day phase with the package of git revision `rev`, in a child process (with
    `loop_ext4`, on a private ext4 of its own: started as root, before the switch of user)."""
    tree = tempfile.mkdtemp(prefix="old-", dir=work)
    os.chmod(tree, 0o755)  # read by Guest Shell's user too
    archive = subprocess.Popen(["git", "-C", ROOT, "archive", rev, "guestagent"],
                               stdout=subprocess.PIPE)
    subprocess.check_call(["tar", "-x", "-C", tree], stdin=archive.stdout)
    archive.wait()
    if loop_ext4:
        where = ["--loop-ext4"]
    else:
        where = ["--dir", os.path.join(work, "old-run")]
        os.makedirs(where[1])
    env = dict(os.environ, PYTHONPATH=tree)
    output = subprocess.check_output(
        [sys.executable, os.path.abspath(__file__), "--package-root", tree, "--phase", "day",
         "--points", str(points), "--interval", str(interval_s), "--history-days",
         str(HISTORY_DAYS), "--json"] + where, env=env, universal_newlines=True)
    return json.loads(output.strip().splitlines()[-1])


def flash_split(per_cycle):
    """Where a day's flash goes: its first commit (samples moved into the index, the retention
    applied), the other commits, the cycles that committed nothing."""
    commits = [(i, b) for i, b in enumerate(per_cycle) if b]
    if not commits:
        return "nothing written"
    first, others = commits[0][1], [b for _, b in commits[1:]]
    rest = sum(b for i, b in enumerate(per_cycle) if not b)
    total = float(sum(per_cycle))
    return ("{} commits, {:.0f} KiB in all: the first {:.0f} KiB ({:.0%}), the others {:.0f} KiB "
            "each on average ({:.0%}), {:.0f} KiB in cycles without one".format(
                len(commits), total / 1024, first / 1024.0, first / total,
                sum(others) / 1024.0 / max(1, len(others)), sum(others) / total, rest / 1024.0))


def ms(value):
    return "{:7.1f}".format(1000 * value) if value is not None else "      -"


def print_day(label, new, old):
    print("{} test points, one whole day of {} cycles after {} days of history ({}):".format(
        new["points"], new["cycles"], HISTORY_DAYS, label))
    print("  {:<34} {:>9} {:>9}".format("CPU per cycle in the SLA engine (ms)", "before",
                                        "after"))
    rows = [("cycle at 00:05", "at", "00:05"), ("cycle at 23:55", "at", "23:55"),
            ("p50 over the day", "cpu_s", "p50"), ("p99 over the day", "cpu_s", "p99"),
            ("max over the day", "cpu_s", "max")]
    for name, group, key in rows:
        print("  {:<34} {:>9} {:>9}".format(name, ms(old[group][key]) if old else "-",
                                            ms(new[group][key])))
    ratio_new = new["at"]["23:55"] / new["at"]["00:05"]
    ratio_old = (old["at"]["23:55"] / old["at"]["00:05"]) if old else None
    print("  {:<34} {:>9} {:>9}".format("23:55 / 00:05", "{:.2f}".format(ratio_old)
                                        if old else "-", "{:.2f}".format(ratio_new)))
    print("  {:<34} {:>9} {:>9}".format(
        "flash KiB per cycle (day mean)", "{:.1f}".format(old["write_bytes_per_cycle"] / 1024.0)
        if old else "-", "{:.1f}".format(new["write_bytes_per_cycle"] / 1024.0)))
    if new.get("device_bytes_per_cycle") is not None:
        print("  {:<34} {:>9} {:>9}".format(
            "on the device (private ext4)", "{:.1f}".format(old["device_bytes_per_cycle"] / 1024.0)
            if old and old.get("device_bytes_per_cycle") is not None else "-",
            "{:.1f}".format(new["device_bytes_per_cycle"] / 1024.0)))
    for label, figures in (("before", old), ("after", new)):
        if figures and figures.get("bytes"):
            print("  the day's flash, {}: {}".format(label, flash_split(figures["bytes"])))
            if figures.get("device_bytes"):
                print("    on the device: " + flash_split(figures["device_bytes"]))


def main(argv=None):
    global HISTORY_DAYS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--interval", type=float, default=300.0)
    parser.add_argument("--year-days", type=int, default=365, help="0: no year")
    parser.add_argument("--old", metavar="REV", help="also run the day with revision REV")
    parser.add_argument("--phase", choices=("day", "year", "all"), default="all")
    parser.add_argument("--dir", help="work directory on the disk to measure (default: a "
                        "temporary one beside the project, removed)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--year-journal", metavar="DIR", help="journal directory of the year "
                        "(e.g. on tmpfs: its fsync per cycle is not the engine's cost and "
                        "makes a year of cycles take long; default: beside the store)")
    parser.add_argument("--commit-every", type=int, help="sla.commit_every (default: its "
                        "default); the old revision has no such key")
    parser.add_argument("--history-days", type=int, default=15,
                        help="days of history before the timed day (default %(default)s: the "
                        "baseline window full; past sla.retention_days, 92: a store that "
                        "prunes, as every router's does after a quarter)")
    parser.add_argument("--loop-ext4", action="store_true", help="run in a private ext4 on a "
                        "loop device (root) and count the sectors written to it as well: "
                        "write_bytes counts whole large folios on this kernel (flashdev.py)")
    parser.add_argument("--package-root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    HISTORY_DAYS = args.history_days
    Cycles.commit_every = args.commit_every
    device = None
    if args.loop_ext4:
        if args.dir:
            parser.error("--loop-ext4 makes its own file system: no --dir")
        from flashdev import LoopExt4
        device = Cycles.device = LoopExt4(os.path.join(ROOT, "build")).__enter__()
    user = None  # the cycles' effective user on the device: Guest Shell's
    figures = {}
    old_work = work = None
    try:  # whatever fails from here on, the loop device and the directories go
        if args.old and device:
            old_work = tempfile.mkdtemp(prefix=".bench-sla-old-", dir=os.path.join(ROOT, "build"))
            os.chmod(old_work, 0o755)
            figures["old_day"] = old_day(args.old, old_work, args.points, args.interval,
                                         True)["day"]
        if device:
            # Loaded while root: this interpreter's files may not be readable by uid 1000.
            from guestagent import sla  # noqa: F401
            from guestagent.sla import apply, bounds, config, export, report, working  # noqa
            from guestagent.sinks import journal  # noqa: F401
            import base64, binascii, bisect, gc, math, zlib  # noqa: F401,E401 (lazy there)
            Cycles.journal_root = tempfile.mkdtemp(prefix="bench-sla-journal-", dir="/dev/shm"
                                                   if os.path.isdir("/dev/shm") else None)
            args.year_journal = args.year_journal or os.path.join(Cycles.journal_root, "year")
            os.makedirs(args.year_journal, exist_ok=True)
            switched = device.as_user(Cycles.journal_root, args.year_journal)
            switched.__enter__()
            user = switched
        work = args.dir or tempfile.mkdtemp(prefix=".bench-sla-",
                                            dir=device.mount_point if device else ROOT)
        if args.phase in ("day", "all"):
            os.makedirs(os.path.join(work, "day"))
            figures["day"] = day_phase(os.path.join(work, "day"), args.points, args.interval)
        if args.old and not device:
            figures["old_day"] = old_day(args.old, work, args.points, args.interval)["day"]
        if args.phase in ("year", "all") and args.year_days:
            os.makedirs(os.path.join(work, "year"))
            figures["year"] = year_phase(os.path.join(work, "year"), args.points,
                                         args.interval, args.year_days, args.year_journal)
        if args.json:
            print(json.dumps(figures))
            return 0
        if "day" in figures:
            print_day("old: " + args.old if args.old else "no old revision given",
                      figures["day"], figures.get("old_day"))
        if "year" in figures:
            year = figures["year"]
            print("{} test points, {} days of cycles into a fresh store ({} cycles, {:.0f} s):"
                  .format(year["points"], year["days"], year["cycles"], year["wall_s"]))
            for label, part in (("over the year", year["cpu_s"]),
                                ("over its last day", year["last_day"])):
                print("  CPU per cycle {:<18} p50 {} ms, p99 {} ms, max {} ms".format(
                    label, ms(part["p50"]).strip(), ms(part["p99"]).strip(),
                    ms(part["max"]).strip()))
            print("  last day: 00:05 {} ms, 23:55 {} ms; flash {:.1f} KiB per cycle (year mean), "
                  "{:.1f} (last day); store {:.1f} MiB".format(
                      ms(year["at"]["00:05"]).strip(), ms(year["at"]["23:55"]).strip(),
                      year["write_bytes_per_cycle"] / 1024.0,
                      year["last_day_write_bytes_per_cycle"] / 1024.0, year["store_mib"]))
            print("  last day's flash: " + flash_split(year["last_day_bytes"]))
            if year.get("last_day_device_bytes"):
                print("  on the device (a private ext4, its journal included): {:.1f} KiB per "
                      "cycle (year mean), {:.1f} (last day); last day: {}".format(
                          year["device_bytes_per_cycle"] / 1024.0,
                          mean(year["last_day_device_bytes"]) / 1024.0,
                          flash_split(year["last_day_device_bytes"])))
        for phase in ("day", "old_day", "year"):
            if figures.get(phase, {}).get("errors"):
                print("{}: {} cycle(s) with an SLA error".format(phase, figures[phase]["errors"]))
    finally:
        if user:  # root again, which may remove everything the run made
            user.__exit__(None, None, None)
        if work and not args.dir:
            shutil.rmtree(work, ignore_errors=True)
        if old_work:
            shutil.rmtree(old_work, ignore_errors=True)
        if Cycles.journal_root:
            shutil.rmtree(Cycles.journal_root, ignore_errors=True)
        if device:
            device.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
