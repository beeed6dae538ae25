"""The SLA replay's shortcuts give what the long way gives: baselines taken back from a journaled
report only when they are well formed, thresholds that follow the config they were made from,
and UTC calendar arithmetic without the calendar module."""

import calendar
import json
import random
import time

from guestagent import sla
from guestagent.sinks import journal
from guestagent.sla import apply, engine
from guestagent.sla import config as sla_config_module
from guestagent.sla import store as stores

T0 = 1795384800.0  # 2026-11-22T22:00:00Z
INTERVAL = 300.0


def sla_config(**overrides):
    cfg = sla_config_module.SCHEMA.defaults()
    cfg.update(overrides)
    return cfg


def sample(name, ts, rng):
    received = 10 if rng.random() > 0.1 else rng.choice((0, 6))
    median = rng.lognormvariate(3.0, 0.4) if received else None
    return {"kind": "icmp", "target": name, "role": "isp-edge", "group": ["uplink"],
            "started": ts, "error": None, "sent": 10, "received": received,
            "loss_ratio": (10 - received) / 10.0, "reachable": received > 0,
            "rtt_ms": {"median": median} if received else None,
            "jitter_ms": 0.5 if received else None}


def reports(count, seed=4):
    rng = random.Random(seed)
    return [{"cycle": {"id": "c%d" % n, "started_ts": T0 + n * INTERVAL},
             "probes": [sample("edge-a", T0 + n * INTERVAL + 0.5, rng),
                        sample("edge-b", T0 + n * INTERVAL + 1.5, rng)]}
            for n in range(count)]


def comparable(section):
    return dict((k, v) for k, v in section.items() if k not in ("store", "notes",
                                                                   "maintenance"))


def spoil(section, n):
    """A journaled `sla` section whose baselines cannot be taken back, each in its own way."""
    section = json.loads(json.dumps(section))
    ways = [lambda b: b.update(B=True), lambda b: b.pop("S"), lambda b: b.update(n="12"),
            lambda b: b.update(learning=1), lambda b: b.update(S=None)]
    for entry in section["targets"].values():
        for base in entry["baseline"].values():
            if base["B"] is not None:
                ways[n % len(ways)](base)
    return section


def test_spoiled_journaled_baselines_are_computed_again_to_the_same_figures(tmp_path):
    cfg = sla_config(commit_every=6, baseline_min_samples=8, baseline_refresh_s=900)
    paths = dict((kind, (str(tmp_path / (kind + ".sqlite3")), str(tmp_path / kind)))
                 for kind in ("kept", "spoiled"))
    for n, rep in enumerate(reports(60)):
        sections = {}
        for kind, (path, journal_dir) in sorted(paths.items()):
            pending = sla.begin_store(path, cfg, INTERVAL, json.loads(json.dumps(rep)),
                                      journal_dir)
            written = pending.section if kind == "kept" else spoil(pending.section, n)
            journal.append(journal_dir, json.dumps(dict(rep, sla=written)), 1 << 30, 2)
            assert pending.commit() is None
            sections[kind] = comparable(pending.section)
        # The replay read the window where the journal's baseline was spoiled: same verdicts.
        assert sections["kept"] == sections["spoiled"], rep["cycle"]["id"]
    verdicts = [entry["baseline"]["rtt_ms"]["within"]
                for entry in sections["kept"]["targets"].values()]
    assert verdicts and None not in verdicts  # learning ended: verdicts were compared


def test_thresholds_follow_the_config_given_to_each_pass(tmp_path):
    store = stores.Store(str(tmp_path / "sla.sqlite3"))
    try:
        store.begin()
        slow = dict(reports(1)[0])
        slow["probes"] = [dict(slow["probes"][0], rtt_ms={"median": 120.0})]
        points = apply.apply_report(store, sla_config(rtt_max_ms=500), INTERVAL, slow)
        assert points["edge-a"]["record"]["available"] is True
        later = json.loads(json.dumps(slow))
        later["cycle"] = {"id": "c1", "started_ts": T0 + INTERVAL}
        later["probes"][0]["started"] = T0 + INTERVAL + 0.5
        strict = sla_config(rtt_max_ms=100, targets={"edge-a": {"rtt_max_ms": 150}})
        points = apply.apply_report(store, strict, INTERVAL, later)
        assert points["edge-a"]["record"]["available"] is True  # its override: 150 ms
        later["cycle"] = {"id": "c2", "started_ts": T0 + 2 * INTERVAL}
        later["probes"][0]["started"] = T0 + 2 * INTERVAL + 0.5
        points = apply.apply_report(store, sla_config(rtt_max_ms=100), INTERVAL, later)
        assert points["edge-a"]["record"]["available"] is False
        store.rollback()
    finally:
        store.close()


def test_utc_days_and_buckets_agree_with_the_calendar_module():
    for year in list(range(1970, 2110)) + [2400, 2500]:
        for month in range(1, 13):
            for day in (1, 28, calendar.monthrange(year, month)[1]):
                assert engine._timegm(year, month, day) == calendar.timegm(
                    (year, month, day, 0, 0, 0)), (year, month, day)
    rng = random.Random(1)
    for _ in range(2000):
        ts = rng.uniform(0, 4102444800.0)  # to 2100
        tm = time.gmtime(ts)
        day = calendar.timegm((tm.tm_year, tm.tm_mon, tm.tm_mday, 0, 0, 0))
        assert engine.day_start(ts) == day
        assert engine._floor(ts, "hour") == day + tm.tm_hour * 3600
        assert engine._floor(ts, "week") == day - tm.tm_wday * 86400
        assert engine._floor(ts, "month") == calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0,
                                                              0))
        year, month = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
        assert engine._next(ts, "month") == calendar.timegm((year, month, 1, 0, 0, 0))
