"""The SLA replay per report, side by side with an older revision, in one run.

    python bench/replay.py [--old REV] [--points 10,50] [--pending 16] [--rounds 3]

Each cycle opens the SLA store and replays the journal's reports written since its last commit
(the store is committed every `sla.commit_every` reports), then applies its own report. This
prints what one replayed report costs, split into parsing its journal line (`journal.after`:
the envelope, base64, inflating against the file's first line, the report's JSON) and applying
it (`apply.apply_report(..., reuse_baselines=True)` and `apply.advance`), and what the cycle's
own report costs (`apply_report` and `build_section`), at each number of test points.

Each figure comes from a child process per revision (the tree's own package on PYTHONPATH; the
older one extracted with `git archive`), run alternately (old, new, new, old, ...) for
`--rounds` rounds; each child builds the same store from the same seed (3 days of history, then
cycles as `cycle.py` runs them: section, journal line with its position, commit every 32), stops
`--pending` reports after a commit, and times the pass `--repeat` times with `time.process_time`
(the collector off, as `sla.begin_store` has it). The figures are medians over the repeats and
then over the rounds. The reports are synthetic (`synthetic_report`), sized like a real one
(about 17 KB at 10 test points and 71 KB at 50, their `sla` sections included). The last line
says whether both revisions gave the same `sla` section for the cycle's own report. The own
report is one of the 11 cycles in 12 that find no baseline due (`baseline_refresh_s`: 3600 s at
300 s a cycle); one that does reads the 14-day window from the store, which costs far more and
is not timed here. Figures only; nothing is asserted.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

START = 1764547200.0  # 2025-12-01T00:00:00Z
HISTORY_DAYS = 3  # past the default 2 days of learning: verdicts are given
INTERVAL_S = 300.0
COMMIT_EVERY = 32


def names(points):
    return ["tp-%02d" % i for i in range(points)]


def kind_of(index):
    return "dns" if index % 5 == 4 else "icmp"  # 2 resolvers among 10 test points


def synthetic_sample(name, ts, rng, kind):
    """A probe sample with the fields a real one carries (report.schema.json)."""
    received = 10 if rng.random() > 0.02 else rng.choice((0, 7, 9))
    median = round(rng.lognormvariate(3.0, 0.2), 3) if received else None
    common = {"kind": kind, "target": name, "host": name + ".example.net", "via": "guestshell",
              "address": "192.0.2.%d" % (1 + int(name[3:])), "started": ts,
              "duration_s": round(rng.uniform(1.8, 2.2), 3), "resolve_s": 0.002, "error": None}
    if kind == "dns":
        common.update(role="dns", group=[], queries_sent=4,
                      queries_answered=4 if received else 0,
                      loss_ratio=0.0 if received else 1.0, qname="www.example.com", rcode="NOERROR",
                      answers=["198.51.100.7", "198.51.100.8"],
                      response_ms={"min": median, "median": median, "max": median,
                                   "avg": median} if received else None)
        return common
    rtts = [round(rng.lognormvariate(3.0, 0.2), 3) for _ in range(received)]
    common.update(role="isp-edge", group=["uplink"], sent=10, received=received,
                  loss_ratio=(10 - received) / 10.0, reachable=received > 0, duplicates=0,
                  late=0, jitter_ms=round(rng.uniform(0.1, 3.0), 3) if received else None,
                  mos_estimate=4.3 if received else None, r_factor=92.1 if received else None,
                  rtts_ms=rtts,
                  rtt_ms={"min": min(rtts), "median": median, "avg": sum(rtts) / len(rtts),
                          "p95": max(rtts), "max": max(rtts), "mdev": 0.8} if rtts else None)
    return common


def synthetic_report(ts, points, rng):
    probes = [synthetic_sample(name, ts + 0.5 + 0.01 * i, rng, kind_of(i))
              for i, name in enumerate(names(points))]
    # A traceroute per 10 test points (no availability of its own: the replay passes it over).
    for n in range(max(1, points // 10)):
        probes.append({
            "kind": "traceroute", "target": "path-%d" % n, "host": "path.example.net",
            "role": "path", "via": "guestshell", "address": "192.0.2.200", "started": ts + 3,
            "duration_s": 4.2, "error": None,
            "hops": [{"hop": h, "address": "198.51.100.%d" % h, "lost": 0,
                      "rtt_ms": [round(rng.uniform(1, 40), 3) for _ in range(3)]}
                     for h in range(1, 13)]})
    interfaces = dict(("GigabitEthernet0/0/%d" % i, {
        "in_octets": rng.randrange(1 << 40), "out_octets": rng.randrange(1 << 40),
        "in_errors": 0, "out_errors": 0, "in_discards": 0, "out_discards": 0,
        "oper_status": "up", "admin_status": "up", "speed_mbps": 1000,
        "description": "uplink %d to the provider's edge" % i}) for i in range(8))
    return {"schema": 1, "agent": {"version": "bench", "host": "ir1101-bench"},
            "cycle": {"id": "c%d" % ts, "started_ts": ts, "trigger": "timer"},
            "probes": probes, "interfaces": interfaces, "errors": [],
            "cellular": [{"slot": 0, "rssi_dbm": -71, "rsrp_dbm": -98, "rsrq_db": -11,
                          "sinr_db": 9.5, "band": "B3", "operator": "Example Mobile",
                          "technology": "LTE", "cell_id": "0x1A2B3C", "tac": 4711,
                          "registered": True, "roaming": False}]}


def fill(path, points, rng):
    """History through the store's own insert_sample, one transaction per day."""
    from guestagent.sla import engine, store as stores
    store = stores.Store(path)
    ids = {}
    store.begin()
    for i, name in enumerate(names(points)):
        kind = kind_of(i)
        ids[name] = store.point(name, kind, "dns" if kind == "dns" else "isp-edge",
                                [] if kind == "dns" else ["uplink"])["id"]
    store.commit()
    per_day = int(86400 / INTERVAL_S)
    for day in range(HISTORY_DAYS):
        store.begin()
        for n in range(per_day):
            ts = START + (day * per_day + n) * INTERVAL_S
            for i, name in enumerate(names(points)):
                item = synthetic_sample(name, ts, rng, kind_of(i))
                record = engine.normalize(item, 0.2, 500)
                record["within"] = {"delay_ms": True, "loss_ratio": True, "jitter_ms": True}
                store.insert_sample(ids[name], record)
        store.commit()
    store.close()


MODULES = ("guestagent.sinks.journal", "guestagent.sla.apply", "guestagent.sla.config",
           "guestagent.sla.store", "guestagent.sla.working")


def load(tree):
    """The modules the replay uses, imported from `tree`: each tree's functions keep their own
    module globals, and none of these imports guestagent lazily on the timed path, so two trees
    can be timed turn about in one process."""
    import importlib
    for name in [n for n in sys.modules if n == "guestagent" or n.startswith("guestagent.")]:
        del sys.modules[name]
    sys.path.insert(0, tree)
    try:
        return dict((name.rsplit(".", 1)[1], importlib.import_module(name)) for name in MODULES)
    finally:
        sys.path.remove(tree)


def build_state(work, points, pending_count):
    """The store and journal `pending_count` reports after a commit, through the package
    imported now (the cycle's own path); returns the cycle's next report."""
    from guestagent import sla
    from guestagent.sinks import journal
    from guestagent.sla import config as sla_config_module
    rng = random.Random(5)
    path = os.path.join(work, "sla.sqlite3")
    journal_dir = os.path.join(work, "journal")
    fill(path, points, rng)
    cfg = sla_config_module.SCHEMA.defaults()
    cfg["commit_every"] = COMMIT_EVERY
    ts = START + HISTORY_DAYS * 86400
    committed_at = None
    count = 0
    while committed_at is None or count <= committed_at + pending_count:
        rep = synthetic_report(ts, points, rng)
        pending = sla.begin_store(path, cfg, INTERVAL_S, rep, journal_dir)
        rep["sla"] = pending.section
        journal.append(journal_dir, json.dumps(rep, separators=(",", ":")), 6 * 1024 * 1024, 2)
        flush = pending.flush
        error = pending.commit(journal.end_position(os.path.join(journal_dir,
                                                                 journal.CURRENT)))
        if error:
            raise SystemExit("commit failed: " + error)
        if flush and count >= COMMIT_EVERY:
            committed_at = count
        count += 1
        ts += INTERVAL_S
    return path, journal_dir, synthetic_report(ts, points, rng)


def one_pass(m, path, journal_dir, own):
    """The SLA pass as `sla._begin_store` runs it, timed: (parse, apply per replayed report,
    own report, replayed, digest of the own report's section); rolled back."""
    cfg = m["config"].SCHEMA.defaults()
    cfg["commit_every"] = COMMIT_EVERY
    store, _ = m["store"].Store.open(path)
    try:
        store.begin()
        working = m["working"].Working(store)
        t0 = time.process_time()
        missed, found = m["journal"].after(journal_dir, working.meta("last_cycle_id"),
                                           limit=COMMIT_EVERY + 21,
                                           position=working.meta("last_cycle_position"))
        t1 = time.process_time()
        for old in missed:
            points_of = m["apply"].apply_report(working, cfg, INTERVAL_S, old,
                                                reuse_baselines=True)
            m["apply"].advance(working, cfg, INTERVAL_S, old, points_of)
            working.set_meta("last_cycle_id", old["cycle"]["id"])
            working.set_meta("last_cycle_ts", old["cycle"]["started_ts"])
        t2 = time.process_time()
        points_of = m["apply"].apply_report(working, cfg, INTERVAL_S, own)
        section = m["apply"].build_section(working, cfg, INTERVAL_S, own, points_of)
        t3 = time.process_time()
    finally:
        store.rollback()
        store.close()
    if not found or not missed:
        raise SystemExit("the replay found nothing to replay")
    digest = hashlib.sha256(json.dumps(section, sort_keys=True).encode()).hexdigest()
    return (t1 - t0) / len(missed), (t2 - t1) / len(missed), t3 - t2, len(missed), digest


def child(points, pending_count, repeat, trees):
    """Build the state with the first tree, then time passes of each tree turn about
    (A B B A ...); prints one JSON line."""
    import gc
    work = tempfile.mkdtemp(prefix=".bench-replay-", dir=ROOT)
    try:
        load(trees[-1][1])  # the state as the current tree's cycles leave it
        path, journal_dir, own = build_state(work, points, pending_count)
        modules = [(label, load(tree)) for label, tree in trees]
        out = dict((label, {"parse_s": [], "apply_s": [], "own_s": []}) for label, _ in trees)
        gc.disable()
        for label, m in modules:
            one_pass(m, path, journal_dir, own)  # warm: first calls, the OS's caches
        for n in range(repeat):
            for label, m in (modules if n % 2 == 0 else modules[::-1]):
                parse_s, apply_s, own_s, replayed, digest = one_pass(m, path, journal_dir, own)
                figures = out[label]
                figures["parse_s"].append(parse_s)
                figures["apply_s"].append(apply_s)
                figures["own_s"].append(own_s)
                figures.update(replayed=replayed, digest=digest)
        gc.enable()
        for figures in out.values():
            for key in ("parse_s", "apply_s", "own_s"):
                figures[key] = statistics.median(figures[key])
        print(json.dumps({"points": points, "journal_bytes": os.path.getsize(
            os.path.join(journal_dir, "reports.jsonl")), "trees": out}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def extract(rev, into):
    tree = tempfile.mkdtemp(prefix="old-", dir=into)
    archive = subprocess.Popen(["git", "-C", ROOT, "archive", rev, "guestagent"],
                               stdout=subprocess.PIPE)
    subprocess.check_call(["tar", "-x", "-C", tree], stdin=archive.stdout)
    if archive.wait():
        raise SystemExit("git archive {} failed".format(rev))
    return tree


def run_child(trees, points, pending, repeat):
    output = subprocess.check_output(
        [sys.executable, os.path.abspath(__file__), "--child", "--points", str(points),
         "--pending", str(pending), "--repeat", str(repeat), "--trees",
         json.dumps(trees)], universal_newlines=True, cwd=ROOT)
    return json.loads(output.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", metavar="REV", help="also time the package of revision REV")
    parser.add_argument("--points", default="10,50", help="test point counts (default 10,50)")
    parser.add_argument("--pending", type=int, default=16, help="reports replayed (default 16)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=9, help="timed passes per child")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trees", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.points.split(",")]
    if args.child:
        child(counts[0], args.pending, args.repeat, json.loads(args.trees))
        return 0
    scratch = tempfile.mkdtemp(prefix=".bench-replay-", dir=ROOT)
    try:
        trees = [("new", ROOT)]
        if args.old:
            trees.insert(0, ("old", extract(args.old, scratch)))
        figures = {}
        for points in counts:
            for _ in range(args.rounds):
                run = run_child(trees, points, args.pending, args.repeat)
                for label, _ in trees:
                    figures.setdefault((label, points), []).append(
                        dict(run["trees"][label], journal_bytes=run["journal_bytes"]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    labels = [label for label, _ in trees]
    print("Python {}; {} reports replayed after a commit; medians of {} processes x {} passes "
          "each, the revisions turn about; old: {}".format(sys.version.split()[0], args.pending, args.rounds, args.repeat,
                           args.old or "-"))
    head = "  {:<44}".format("ms")
    for points in counts:
        head += "".join(" {:>8}".format("{}@{}".format(label, points)) for label in labels)
        if args.old:
            head += " {:>8}".format("new/old")
    print(head)
    rows = [("per replayed report: parse (journal.after)", ("parse_s",)),
            ("per replayed report: apply + advance", ("apply_s",)),
            ("per replayed report: both", ("parse_s", "apply_s")),
            ("the cycle's own report: apply + section", ("own_s",))]
    for name, keys in rows:
        line = "  {:<44}".format(name)
        for points in counts:
            values = {}
            for label in labels:
                runs = figures[(label, points)]
                values[label] = statistics.median(sum(run[k] for k in keys) for run in runs)
                line += " {:>8.3f}".format(1000 * values[label])
            if args.old:
                line += " {:>8.2f}".format(values["new"] / values["old"])
        print(line)
    for points in counts:
        run = figures[("new", points)][0]
        same = ""
        if args.old:
            digests = set(r["digest"] for label in labels for r in figures[(label, points)])
            same = "; own report's sla section identical in both: {}".format(
                "yes" if len(digests) == 1 else "NO")
        print("  {} test points: journal file {:.0f} KiB, {} replayed{}".format(
            points, run["journal_bytes"] / 1024.0, run["replayed"], same))
    return 0


if __name__ == "__main__":
    sys.exit(main())
