"""The SLA state's flat cost and bounds: the day's running sums equal a full recomputation,
reports between commits are replayed from the journal to the same figures, and the store stays
bounded (orphaned test points, a byte bound, corrupt copies, VACUUM)."""

import json
import os
import random

import pytest

from guestagent import config as config_module
from guestagent import sla
from guestagent.commands import state as state_command
from guestagent.sinks import journal
from guestagent.sla import bounds, engine
from guestagent.sla import config as sla_config_module
from guestagent.sla import store as stores

T0 = 1795384800.0  # 2026-11-22T22:00:00Z: the runs cross a midnight
INTERVAL = 300.0


def sla_config(**overrides):
    cfg = sla_config_module.SCHEMA.defaults()
    cfg.update(overrides)
    return cfg


def sample(name, ts, rng, kind="icmp", group=("uplink",)):
    error = rng.random() < 0.03
    received = 0 if error else (10 if rng.random() > 0.15 else rng.choice((0, 3, 9)))
    median = None if not received else rng.lognormvariate(3.0, 0.4)
    if kind == "dns":
        return {"kind": "dns", "target": name, "role": "dns", "group": [], "started": ts,
                "error": "timeout" if error else None, "queries_sent": None if error else 4,
                "queries_answered": None if error else (4 if received else 0),
                "loss_ratio": None if error else (0.0 if received else 1.0),
                "response_ms": {"median": median} if received else None}
    return {"kind": "icmp", "target": name, "role": "isp-edge", "group": list(group),
            "started": ts, "error": "ping failed" if error else None,
            "sent": None if error else 10, "received": None if error else received,
            "loss_ratio": None if error else (10 - received) / 10.0,
            "reachable": None if error else received > 0,
            "rtt_ms": {"median": median} if received else None,
            "jitter_ms": 0.5 if received else None}


def reports(count, seed=3, start=T0):
    """Cycles with jittered sample times, a skipped cycle now and then (a gap), and one test
    point that is missing from some cycles (its groups change members)."""
    rng = random.Random(seed)
    out = []
    ts = start
    for n in range(count):
        ts += INTERVAL if rng.random() > 0.03 else 3 * INTERVAL
        probes = [sample("edge-a", ts + rng.uniform(0.1, 2), rng),
                  sample("edge-b", ts + rng.uniform(0.1, 2), rng),
                  sample("resolver", ts + rng.uniform(2, 4), rng, kind="dns")]
        if rng.random() < 0.05:
            probes.pop(1)
        out.append({"cycle": {"id": "c%d" % n, "started_ts": ts}, "probes": probes})
    return out


def full_today(path, section, interval_s, today):
    """The figures since 00:00 from every sample of the day, as they were computed before."""
    store = stores.Store(path)
    try:
        by_name = dict((p["name"], p) for p in store.points())
        records = {}
        for name in section["targets"]:
            point = dict(by_name[name])
            records[name] = store.records(point, since_ts=today)
        out = {"targets": {}, "groups": {}}
        for name, recs in records.items():
            avail = engine.availability(recs, interval_s, today, None)
            fa = dict((metric, engine.fa(recs, column, today, None)["fa"])
                      for metric, column in engine.metrics_of(recs[-1]["kind"]))
            out["targets"][name] = (avail["availability"], avail["known_s"],
                                    avail["available_s"], fa)
        for name, group in section["groups"].items():
            present = dict((m, records[m]) for m in group["members"] if m in records)
            out["groups"][name] = engine.group_availability(engine.group_segments(
                present, interval_s, group["mode"], today, None))
        return out
    finally:
        store.close()


def test_running_sums_equal_a_full_recomputation_over_a_day(tmp_path):
    path = str(tmp_path / "sla.sqlite3")
    cfg = sla_config(groups={"any-edge": {"members": ["edge-a", "edge-b"], "mode": "any"}})
    checked_groups = 0
    for rep in reports(300):  # 25 h: across midnight
        section = sla.update_store(path, cfg, INTERVAL, rep)
        assert section["error"] is None
        today = engine.day_start(rep["cycle"]["started_ts"])
        full = full_today(path, section, INTERVAL, today)
        for name, entry in section["targets"].items():
            availability, known, available, fa = full["targets"][name]
            # The same additions in the same order: equal to the last bit.
            assert (entry["today"]["availability"], entry["today"]["known_s"],
                    entry["today"]["available_s"]) == (availability, known, available), name
            assert entry["today"]["fa"] == fa, name
        for name, group in section["groups"].items():
            expected = full["groups"][name]
            got = group["today"]
            assert got["known_s"] == pytest.approx(expected["known_s"], rel=1e-12, abs=1e-6)
            assert got["available_s"] == pytest.approx(expected["available_s"], rel=1e-12,
                                                       abs=1e-6)
            if expected["availability"] is None:
                assert got["availability"] is None
            else:
                assert got["availability"] == pytest.approx(expected["availability"],
                                                            rel=1e-12)
            checked_groups += 1
    assert checked_groups > 600


def cycle(path, cfg, journal_dir, rep):
    """One cycle's SLA work in the cycle's order: section, journal line, commit."""
    pending = sla.begin_store(path, cfg, INTERVAL, rep, journal_dir)
    rep = dict(rep, sla=pending.section)
    journal.append(journal_dir, json.dumps(rep), 1 << 30, 2)
    assert pending.commit() is None
    return pending.section


def cycle_prepared(path, cfg, journal_dir, rep):
    """The same, with the state opened and the journal replayed first (as while the probes
    run), then this report applied to it."""
    existed = os.path.exists(path)
    prepared = sla.prepare_store(path, cfg, INTERVAL, rep["cycle"]["id"], journal_dir)
    assert (prepared is not None) == existed  # the first cycle creates the state in begin
    pending = sla.begin_store(path, cfg, INTERVAL, rep, journal_dir, prepared)
    rep = dict(rep, sla=pending.section)
    journal.append(journal_dir, json.dumps(rep), 1 << 30, 2)
    assert pending.commit() is None
    return pending.section


def comparable(section):
    return dict((k, v) for k, v in section.items() if k not in ("store", "notes",
                                                                   "maintenance"))


def test_reports_between_commits_are_replayed_to_the_figures_of_every_cycle_commits(tmp_path):
    lazy_path, eager_path = str(tmp_path / "lazy.sqlite3"), str(tmp_path / "eager.sqlite3")
    lazy_journal, eager_journal = str(tmp_path / "j-lazy"), str(tmp_path / "j-eager")
    lazy, eager = sla_config(commit_every=7), sla_config(commit_every=1)
    lazy["baseline_min_samples"] = eager["baseline_min_samples"] = 20  # verdicts early
    lazy["baseline_refresh_s"] = eager["baseline_refresh_s"] = 1800
    behind = []
    for rep in reports(120, seed=5):
        a = cycle(lazy_path, lazy, lazy_journal, json.loads(json.dumps(rep)))
        b = cycle(eager_path, eager, eager_journal, json.loads(json.dumps(rep)))
        assert comparable(a) == comparable(b), rep["cycle"]["id"]
        assert not a["notes"]
        # Reading the state writes nothing: no log made and removed beside it.
        assert not [n for n in os.listdir(str(tmp_path)) if n.endswith(("-wal", "-shm"))]
        store = stores.Store(lazy_path)
        last = store.meta("last_cycle_id")
        store.close()
        behind.append(int(rep["cycle"]["id"][1:]) - (int(last[1:]) if last else -1))
    assert max(behind) == 6 and min(behind) == 0  # committed every 7th report
    # What a reader sees (the store and the journal's newer reports) is what a rebuild gives.
    seen = sla.open_state(lazy_path, lazy_journal, lazy, INTERVAL)
    counters = dict((p["name"], seen.counters(p["id"])) for p in seen.points())
    seen.close()
    rebuilt = str(tmp_path / "rebuilt.sqlite3")
    count, skipped = state_command.rebuild(rebuilt, lazy_journal, lazy, INTERVAL)
    assert count == 120 and not skipped
    store = stores.Store(rebuilt)
    assert dict((p["name"], store.counters(p["id"])) for p in store.points()) == counters
    store.close()


def test_a_state_prepared_while_the_probes_run_gives_the_same_figures(tmp_path):
    cfg = sla_config(commit_every=5)
    cfg["baseline_min_samples"] = 20
    cfg["baseline_refresh_s"] = 1800
    paths = [str(tmp_path / "plain.sqlite3"), str(tmp_path / "prepared.sqlite3")]
    journals = [str(tmp_path / "j-plain"), str(tmp_path / "j-prepared")]
    prepared_used = 0
    for rep in reports(80, seed=11):
        if os.path.exists(paths[1]):
            prepared_used += 1
        a = cycle(paths[0], cfg, journals[0], json.loads(json.dumps(rep)))
        b = cycle_prepared(paths[1], cfg, journals[1], json.loads(json.dumps(rep)))
        assert comparable(a) == comparable(b), rep["cycle"]["id"]
        assert a["notes"] == b["notes"]
    assert prepared_used == 79  # every cycle but the first, which creates the state


def test_a_lost_commit_is_replayed_and_said(tmp_path):
    path, journal_dir = str(tmp_path / "sla.sqlite3"), str(tmp_path / "journal")
    cfg = sla_config(commit_every=3)
    runs = reports(12, seed=9)
    for rep in runs[:5]:
        cycle(path, cfg, journal_dir, rep)
    # Commits that failed (a full flash, say) for many cycles: the journal has them all.
    for rep in runs[5:10]:
        pending = sla.begin_store(path, cfg, INTERVAL, rep, journal_dir)
        journal.append(journal_dir, json.dumps(dict(rep, sla=pending.section)), 1 << 30, 2)
        pending.rollback("full")
    section = cycle(path, cfg, journal_dir, runs[10])
    assert any("journaled report(s)" in note for note in section["notes"])
    eager = str(tmp_path / "eager.sqlite3")
    for rep in runs[:11]:
        expected = sla.update_store(eager, sla_config(commit_every=1), INTERVAL, rep)
    assert comparable(section)["targets"] == comparable(expected)["targets"]


def test_orphaned_points_are_removed_after_the_retention(tmp_path):
    path = str(tmp_path / "sla.sqlite3")
    cfg = sla_config(retention_days=1)
    rng = random.Random(1)
    ts = T0
    sla.update_store(path, cfg, 3600.0, {"cycle": {"id": "first", "started_ts": ts},
                                         "probes": [sample("gone", ts, rng),
                                                    sample("kept", ts, rng)]})
    for n in range(1, 30):  # "gone" left the config
        ts += 3600.0
        section = sla.update_store(path, cfg, 3600.0, {
            "cycle": {"id": "c%d" % n, "started_ts": ts}, "probes": [sample("kept", ts, rng)]})
        if section.get("maintenance", {}).get("points_removed"):
            assert ts - T0 > 86400
            removed_at = ts
    assert section["error"] is None and removed_at
    store = stores.Store(path)
    assert [p["name"] for p in store.points()] == ["kept"]
    for table in ("sample_days", "samples_recent", "counters", "outages"):
        assert store.db.execute("SELECT count(*) FROM {} WHERE point_id NOT IN (SELECT id FROM "
                                "points)".format(table)).fetchone()[0] == 0
    store.close()


def fill(path, rows, first_ts):
    store = stores.Store(path)
    store.begin()
    point = store.point("edge-a", "icmp", "isp-edge", ["uplink"])
    rng = random.Random(2)
    for n in range(rows):
        record = engine.normalize(sample("edge-a", first_ts + n * 60.0, rng), 0.2, 500)
        store.insert_sample(point["id"], record)
    store.move_recent(first_ts + rows * 60.0)  # packed into day rows, as the days go by
    store.commit()
    store.close()


def test_the_store_is_kept_under_its_byte_bound_oldest_samples_first(tmp_path):
    path = str(tmp_path / "sla.sqlite3")
    fill(path, 100000, T0 - 100000 * 60.0)
    assert os.path.getsize(path) > 1048576
    cfg = sla_config(max_bytes=1048576)
    rep = {"cycle": {"id": "now", "started_ts": T0},
           "probes": [sample("edge-a", T0, random.Random(4))]}
    section = sla.update_store(path, cfg, INTERVAL, rep)
    assert section["error"] is None
    assert section["maintenance"]["samples_over_max_bytes"] > 0
    store = stores.Store(path)
    assert bounds.used_bytes(store.db) <= 1048576
    first, last = store.extent(store.points()[0]["id"])
    assert last == T0 and first > T0 - 100000 * 60.0  # the oldest went
    count = store.sample_total()
    assert store.db.execute("SELECT sample_count FROM points").fetchone()[0] == count
    store.close()


def test_vacuum_only_when_the_free_space_is_worth_it_and_once_a_day(tmp_path, monkeypatch):
    path = str(tmp_path / "sla.sqlite3")
    fill(path, 30000, T0 - 30000 * 60.0)
    rng = random.Random(5)
    cfg = sla_config()

    def at(ts, name):
        return sla.update_store(path, cfg, INTERVAL, {"cycle": {"id": name, "started_ts": ts},
                                                      "probes": [sample("edge-a", ts, rng)]})
    section = at(T0, "a")  # nothing freed: no VACUUM
    assert "vacuumed_bytes" not in section.get("maintenance", {})
    size = os.path.getsize(path)
    cfg["retention_days"] = 7  # frees most of the file
    monkeypatch.setattr(bounds, "VACUUM_MIN_BYTES", 65536)
    section = at(T0 + 300, "b")
    assert section["maintenance"]["vacuumed_bytes"] > 0
    assert os.path.getsize(path) < size / 2
    cfg["retention_days"] = 5
    section = at(T0 + 600, "c")  # freed again, but it ran today
    assert "vacuumed_bytes" not in section.get("maintenance", {})
    section = at(T0 + 86400 + 900, "d")
    store = stores.Store(path)
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_corrupt_copies_are_kept_at_most_n(tmp_path):
    path = str(tmp_path / "sla.sqlite3")
    cfg = sla_config(corrupt_kept=2)
    rng = random.Random(6)
    for n in range(5):
        with open(path, "wb") as f:
            f.write(b"this is not a database %d" % n * 200)
        section = sla.update_store(path, cfg, INTERVAL, {
            "cycle": {"id": "c%d" % n, "started_ts": T0 + n}, "probes": [sample("edge-a", T0,
                                                                                rng)]})
        assert section["error"] is None and "was corrupt" in section["notes"][0]
    copies = stores.corrupt_copies(path)
    assert len(copies) == 2
    with open(copies[-1], "rb") as f:
        assert f.read().startswith(b"this is not a database 4")


@pytest.mark.parametrize("text, where", [
    ("commit_every: 0", "sla.commit_every"),
    ("max_bytes: 1000", "sla.max_bytes"),
    ("corrupt_kept: -1", "sla.corrupt_kept"),
])
def test_bound_keys_are_checked(tmp_path, text, where):
    source = "agent: {state_dir: %s}\ntargets: []\nsla: {%s}\n" % (tmp_path, text)
    with pytest.raises(config_module.ConfigError) as caught:
        config_module.parse(source, "test.yaml")
    assert where in "\n".join(caught.value.problems)


def test_bound_keys_have_defaults(tmp_path):
    config = config_module.parse("agent: {state_dir: %s}\ntargets: []\n" % tmp_path, "t.yaml")
    cfg = sla_config_module.section(config)
    assert cfg["commit_every"] == sla_config_module.COMMIT_EVERY
    assert cfg["max_bytes"] == sla_config_module.MAX_BYTES and cfg["corrupt_kept"] == 3
