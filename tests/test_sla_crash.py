"""Crash safety: a writer killed (SIGKILL) at random points leaves a state that opens and whose
tables agree with each other: every cycle is all in, or not at all."""

import os
import random
import signal
import subprocess
import sys
import time

from guestagent.sla import engine
from guestagent.sla import store as stores

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("edge", "first-hop", "far", "resolver")

WRITER = r"""
import random, sys
from guestagent.sla import store as stores, update_store
from guestagent.sla import config as sla_config
path = sys.argv[1]
cfg = sla_config.SCHEMA.defaults()
cfg["baseline_min_samples"] = 3
store = stores.Store(path)
row = [max([r[1] for r in store.sample_rows()] or [None])]
store.close()
ts = (row[0] or 1795392000.0) + 300
rng = random.Random(ts)
sys.stdout.write("ready\n"); sys.stdout.flush()
while True:
    probes = []
    for name in %(targets)r:
        if name == "resolver":
            answered = rng.choice((4, 4, 4, 2, 0))
            probes.append({"kind": "dns", "target": name, "role": "dns", "group": [],
                           "started": ts, "error": None, "queries_sent": 4,
                           "queries_answered": answered, "loss_ratio": (4 - answered) / 4.0,
                           "response_ms": {"median": rng.uniform(5, 50)} if answered else None})
            continue
        received = rng.choice((10, 10, 10, 9, 0))
        error = "deadline" if rng.random() < 0.05 else None
        probes.append({"kind": "icmp", "target": name, "role": "isp-edge", "group": ["g"],
                       "started": ts, "error": error, "sent": None if error else 10,
                       "received": None if error else received,
                       "loss_ratio": None if error else (10 - received) / 10.0,
                       "reachable": None if error else received > 0,
                       "rtt_ms": {"median": rng.uniform(5, 50)} if received and not error else None,
                       "jitter_ms": 1.0})
    section = update_store(path, cfg, 300.0, {"cycle": {"id": "c%%d" %% ts, "started_ts": ts},
                                              "probes": probes})
    if section["error"]:
        sys.stderr.write(section["error"] + "\n"); sys.exit(1)
    ts += rng.choice((300, 300, 300, 60, 900))
""" % {"targets": TARGETS}


def check_consistent(path):
    store = stores.Store(path)
    db = store.db
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = {}
        for point in store.points():
            pid = point["id"]
            rows = store.sample_rows(pid)
            count = len(rows)
            stored_count = db.execute("SELECT sample_count FROM points WHERE id = ?",
                                      (pid,)).fetchone()[0]
            assert count == stored_count
            counts[point["name"]] = count
            counters = store.counters(pid)
            sent = sum(r[4] or 0 for r in rows if not r[2])
            received = sum(r[5] or 0 for r in rows if not r[2])
            if point["kind"] == "dns":
                assert (counters["dns_queries_sent"], counters["dns_queries_answered"]) == (
                    sent, received)
            else:
                assert (counters["packets_sent"], counters["packets_received"]) == (sent, received)
            records = store.records(point)
            spans = engine.spans(records, 300.0)
            known = sum(s for r, s in spans if not r["error"])
            available = sum(s for r, s in spans if not r["error"] and r["available"])
            assert abs(counters["known_seconds"] - known) < 1e-6
            assert abs(counters["available_seconds"] - available) < 1e-6
            outages = engine.outages(records)
            assert counters["outages"] == len(outages) == db.execute(
                "SELECT count(*) FROM outages WHERE point_id = ?", (pid,)).fetchone()[0]
            total = sum(o.get("duration_s", o.get("duration_so_far_s")) for o in outages)
            assert abs(counters["outage_seconds"] - total) < 1e-6
            last = db.execute("SELECT last_ts FROM points WHERE id = ?", (pid,)).fetchone()[0]
            assert last == (records[-1]["ts"] if records else None)
        # a cycle writes every test point or none
        assert len(set(counts.values())) <= 1
        if counts:
            newest = max(r[1] for r in store.sample_rows())
            assert store.meta("last_cycle_id") == "c%d" % newest
        return sum(counts.values())
    finally:
        store.close()


def test_killed_writer_never_leaves_a_broken_or_partial_state(tmp_path):
    path = str(tmp_path / "sla.sqlite3")
    env = dict(os.environ, PYTHONPATH=ROOT)
    rng = random.Random(1234)
    deadline = time.monotonic() + 120  # bounded: stop early rather than run away
    rows_seen = []
    for _ in range(50):
        if time.monotonic() > deadline:
            break
        writer = subprocess.Popen([sys.executable, "-c", WRITER, path], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert writer.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(writer.pid, signal.SIGKILL)
        _, err = writer.communicate()
        assert writer.returncode == -signal.SIGKILL, err.decode()
        rows_seen.append(check_consistent(path))
    assert len(rows_seen) >= 20
    assert rows_seen == sorted(rows_seen) and rows_seen[-1] > rows_seen[0]  # progress, no loss
