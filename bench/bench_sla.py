"""SLA state: how big it grows and how long one cycle spends in the engine.

    python3 bench/bench_sla.py [--points 10] [--interval 300] [--days 365] [--dir DIR]

1. A year of 5-minute cycles for 10 test points goes into a fresh store: the history is written
   with the store's own `insert_sample` (the row format of every cycle), one transaction per
   simulated day, so a year takes a minute instead of a year of cycles. The file size is printed
   at the default retention (92 days: what a router keeps) and after the whole year (what
   `retention_days: 366` would keep).
2. Then full cycles run through `sla.update_store` on that history (baseline window full, the
   retention pruning one old sample per point per cycle): their time is printed.
Figures only; nothing is asserted.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from guestagent.sla import config as sla_config  # noqa: E402
from guestagent.sla import engine, store as stores, update_store  # noqa: E402

START = 1764547200.0  # 2025-12-01T00:00:00Z


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
    probes = [sample(name, ts, rng, kind_of(i)) for i, name in enumerate(names(points))]
    return {"cycle": {"id": "c%d" % ts, "started_ts": ts}, "probes": probes}


def size_mib(path):
    store = stores.Store(path)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return os.path.getsize(path) / 1048576.0


def fill(path, points, interval_s, first_day, last_day, rng):
    """Bulk history for days [first_day, last_day) through Store.insert_sample."""
    store = stores.Store(path)
    per_day = int(86400 / interval_s)
    ids = {}
    store.begin()
    for i, name in enumerate(names(points)):
        ids[name] = store.point(name, kind_of(i), "dns" if kind_of(i) == "dns" else "isp-edge",
                                [])["id"]
    store.commit()
    for day in range(first_day, last_day):
        store.begin()
        for n in range(per_day):
            ts = START + (day * per_day + n) * interval_s
            for item in report(ts, points, rng)["probes"]:
                record = engine.normalize(item, 0.2, 500)
                record["within"] = {"delay_ms": True, "loss_ratio": True, "jitter_ms": True}
                store.insert_sample(ids[item["target"]], record)
        store.commit()
    store.close()
    return START + last_day * per_day * interval_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--interval", type=float, default=300.0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--cycles", type=int, default=30, help="full cycles timed")
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed)")
    args = parser.parse_args(argv)
    work = args.dir or tempfile.mkdtemp(prefix="bench-sla-")
    path = os.path.join(work, "sla.sqlite3")
    cfg = sla_config.SCHEMA.defaults()
    retention = int(cfg["retention_days"])
    rng = random.Random(7)
    per_day_rows = args.points * 86400 / args.interval
    try:
        print("{} test points, one sample each per {:g} s: {:g} samples a day".format(
            args.points, args.interval, per_day_rows))
        started = time.time()
        next_ts = fill(path, args.points, args.interval, 0, retention, rng)
        mib = size_mib(path)
        print("store after {} days (default retention_days): {:.1f} MiB, {:.0f} bytes per "
              "sample (filled in {:.0f} s)".format(retention, mib,
                                                   mib * 1048576 / (retention * per_day_rows),
                                                   time.time() - started))
        # Steady state at the default retention: the baseline window is full and each cycle
        # prunes the sample that left the retention.
        timings = []
        for n in range(args.cycles):
            rep = report(next_ts + n * args.interval, args.points, rng)
            t = time.perf_counter()
            section = update_store(path, cfg, args.interval, rep)
            timings.append(time.perf_counter() - t)
            if section["error"]:
                print("cycle error: " + section["error"])
                return 1
        ordered = sorted(timings)
        print("one cycle in sla.update (open, {} samples, baselines over a full 14-day window, "
              "outages, prune, section, commit with fsync):".format(args.points))
        print("  median {:.3f} s ({:.1f} ms per test point) over {} cycles; slowest {:.3f} s: a "
              "cycle that reads the 14-day windows again (every baseline_refresh_s = {:g} s)"
              .format(ordered[len(ordered) // 2], 1000 * ordered[len(ordered) // 2] / args.points,
                      args.cycles, ordered[-1], cfg["baseline_refresh_s"]))
        if args.days > retention:
            started = time.time()
            fill(path, args.points, args.interval, retention + 1, args.days, rng)
            mib = size_mib(path)
            print("store holding {} days (retention_days: 366): {:.1f} MiB (filled in {:.0f} s)"
                  .format(args.days, mib, time.time() - started))
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
