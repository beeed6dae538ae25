"""The SLA state across cycles: sla.update on successive reports, the store, its failures."""

import json
import os
import sqlite3

import pytest

from guestagent import config as config_module
from guestagent import sla
from guestagent.metrics import MetricSet
from guestagent.sla import store as stores

T0 = 1795392000.0  # 2026-11-23T00:00:00Z
INTERVAL = 300


def make_config(tmp_path, sla_yaml="", targets="[{name: edge, host: 192.0.2.1}]"):
    text = "agent: {state_dir: %s, interval_s: %d}\n" % (tmp_path, INTERVAL)
    text += "targets: %s\n" % targets
    if sla_yaml:
        text += "sla:\n" + "".join("  " + line + "\n" for line in sla_yaml.splitlines())
    return config_module.parse(text, "test.yaml")


def icmp(target, ts, received=10, median=10.0, error=None, role="isp-edge", group=("uplink",)):
    sample = {"kind": "icmp", "target": target, "host": "192.0.2.1", "role": role,
              "group": list(group), "address": "192.0.2.1", "started": ts, "duration_s": 2.0,
              "error": error, "sent": 10, "received": received,
              "loss_ratio": (10 - received) / 10.0, "reachable": received > 0,
              "rtt_ms": None if not received else {"min": median, "median": median,
                                                   "avg": median, "p95": median,
                                                   "max": median, "mdev": 0.0},
              "jitter_ms": 0.2 if received else None}
    if error:
        for key in ("sent", "received", "loss_ratio", "reachable", "rtt_ms", "jitter_ms"):
            sample[key] = None
    return sample


def dns(target, ts, answered=4, median=25.0):
    return {"kind": "dns", "target": target, "host": "192.0.2.53", "role": "dns", "group": [],
            "started": ts, "error": None, "queries_sent": 4, "queries_answered": answered,
            "loss_ratio": (4 - answered) / 4.0,
            "response_ms": {"median": median, "p95": median} if answered else None}


def report(ts, probes, cycle_id=None):
    return {"cycle": {"id": cycle_id or "c%d" % ts, "started_ts": ts, "started": "x",
                      "trigger": "timer"}, "probes": probes}


def run_cycles(config, pattern, start=T0, target="edge", **kw):
    """One cycle per character: A available, U all lost, E measurement error."""
    sections = []
    for i, c in enumerate(pattern):
        ts = start + i * INTERVAL
        sample = icmp(target, ts, received={"A": 10, "U": 0, "E": 0}[c],
                      error="ping: permission denied" if c == "E" else None, **kw)
        sections.append(sla.update(config, report(ts, [sample])))
    return sections


def test_counters_availability_and_outage_across_cycles(tmp_path):
    config = make_config(tmp_path)
    sections = run_cycles(config, "AAUUAA")
    last = sections[-1]
    assert last["error"] is None
    edge = last["targets"]["edge"]
    assert edge["available"] is True and edge["in_outage"] is False
    # 6 samples; 5 spans of 300 s known (the newest stands for time not yet elapsed)
    assert edge["counters"] == {"packets_sent": 60.0, "packets_received": 40.0,
                                "known_seconds": 1500.0, "available_seconds": 900.0,
                                "outage_seconds": 600.0, "outages": 1.0}
    assert edge["today"]["availability"] == pytest.approx(0.6)
    # the outage was reported once, in the cycle that ended it
    closed = [s["outages_closed"] for s in sections]
    assert closed[:4] == [[], [], [], []] and closed[5] == []
    assert len(closed[4]) == 1
    outage = closed[4][0]
    assert (outage["target"], outage["start_ts"], outage["end_ts"], outage["duration_s"]) == (
        "edge", T0 + 600, T0 + 1200, 600.0)
    assert outage["start"] == "2026-11-23T00:10:00Z" and outage["end"] == "2026-11-23T00:20:00Z"


def test_open_outage_reports_since_and_duration_so_far(tmp_path):
    config = make_config(tmp_path)
    edge = run_cycles(config, "AUUU")[-1]["targets"]["edge"]
    assert edge["in_outage"] is True and edge["available"] is False
    assert edge["outage_since_ts"] == T0 + 300
    assert edge["outage_since"] == "2026-11-23T00:05:00Z"
    assert edge["outage_duration_so_far_s"] == 600.0
    assert edge["counters"]["outage_seconds"] == 600.0


def test_uplink_outage_recorded_while_pushes_fail_is_reported_once_when_back(tmp_path):
    """The uplink is down for an hour: nothing could be pushed, but every cycle recorded it; the
    first cycle with the uplink back reports the outage, and the pushed counters carry the
    whole hour so that increase() over the gap sees it."""
    config = make_config(tmp_path)
    before = run_cycles(config, "A")[-1]
    down = run_cycles(config, "U" * 12, start=T0 + 300)
    back = run_cycles(config, "AA", start=T0 + 300 * 13)
    assert all(s["outages_closed"] == [] for s in down)
    assert [len(s["outages_closed"]) for s in back] == [1, 0]
    assert back[0]["outages_closed"][0]["duration_s"] == 3600.0
    out_before, out_back = MetricSet(), MetricSet()
    sla.metrics(before, out_before)
    sla.metrics(back[0], out_back)
    labels = {"target": "edge", "role": "isp-edge"}
    assert out_back.value("guestagent_sla_outage_seconds_total", **labels) - (
        out_before.value("guestagent_sla_outage_seconds_total", **labels) or 0) == 3600.0
    assert out_back.value("guestagent_sla_outages_total", **labels) == 1.0
    assert out_back.value("guestagent_sla_packets_sent_total", **labels) == 140.0
    assert out_back.value("guestagent_sla_packets_received_total", **labels) == 20.0
    assert out_back.value("guestagent_sla_known_seconds_total", **labels) == 13 * 300.0
    assert out_back.value("guestagent_sla_available_seconds_total", **labels) == 300.0
    assert out_back.value("guestagent_sla_outages_closed") == 1.0


def test_measurement_errors_count_nothing(tmp_path):
    config = make_config(tmp_path)
    edge = run_cycles(config, "AEEA")[-1]["targets"]["edge"]
    # A (0..300) known; the errors stand for unknown time; the last A not elapsed yet
    assert edge["counters"]["known_seconds"] == 300.0
    assert edge["counters"]["packets_sent"] == 20.0
    assert edge["in_outage"] is False and edge["counters"]["outages"] == 0


def test_schedule_gap_is_capped_at_twice_the_interval(tmp_path):
    config = make_config(tmp_path)
    sla.update(config, report(T0, [icmp("edge", T0)]))
    section = sla.update(config, report(T0 + 3600, [icmp("edge", T0 + 3600)]))
    assert section["targets"]["edge"]["counters"]["known_seconds"] == 600.0


def test_clock_step_backwards_adds_no_negative_time(tmp_path):
    config = make_config(tmp_path)
    for ts in (T0, T0 + 300, T0 + 100, T0 + 400):
        section = sla.update(config, report(ts, [icmp("edge", ts)]))
    counters = section["targets"]["edge"]["counters"]
    assert counters["known_seconds"] == 300.0 + 0.0 + 300.0
    assert counters["available_seconds"] == 600.0


def test_baseline_learning_then_verdicts_and_fa_today(tmp_path):
    config = make_config(tmp_path, "baseline_min_samples: 4\nbaseline_refresh_s: 0")
    medians = [10.0, 11.0, 12.0, 10.0, 11.0, 30.0, 11.0]
    sections = []
    for i, median in enumerate(medians):
        ts = T0 + i * INTERVAL
        sections.append(sla.update(config, report(ts, [icmp("edge", ts, median=median)])))
    rtt = [s["targets"]["edge"]["baseline"]["rtt_ms"] for s in sections]
    assert [b["learning"] for b in rtt] == [True] * 4 + [False] * 3
    assert [b["within"] for b in rtt] == [None] * 4 + [True, False, True]
    # at the 30 ms sample: window 10, 11, 12, 10, 11 -> B 11, IQR 1, S max(1, 1 ms, 1.1) = 1.1
    assert rtt[5]["B"] == 11.0 and rtt[5]["S"] == pytest.approx(1.1) and rtt[5]["n"] == 5
    assert sections[-1]["targets"]["edge"]["today"]["fa"]["rtt_ms"] == pytest.approx(2.0 / 3)
    out = MetricSet()
    sla.metrics(sections[5], out)
    labels = {"target": "edge", "metric": "rtt"}
    assert out.value("guestagent_sla_within_baseline", **labels) == 0.0
    assert out.value("guestagent_sla_baseline_seconds", **labels) == pytest.approx(0.011)
    assert out.value("guestagent_sla_baseline_spread_seconds", **labels) == pytest.approx(0.0011)


def test_baseline_kept_between_cycles_and_computed_again_when_due(tmp_path):
    config = make_config(tmp_path, "baseline_min_samples: 4\nbaseline_refresh_s: 900")
    medians = [10.0, 11.0, 12.0, 10.0, 11.0, 30.0, 11.0, 11.0]
    sections = []
    for i, median in enumerate(medians):
        ts = T0 + i * INTERVAL
        sections.append(sla.update(config, report(ts, [icmp("edge", ts, median=median)])))
    rtt = [s["targets"]["edge"]["baseline"]["rtt_ms"] for s in sections]
    # learning ends at the 5th sample (window 10, 11, 12, 10: B 10.5); that baseline serves
    # the next two cycles (< 900 s later), then the window is read again at the 8th.
    assert [b["n"] for b in rtt] == [0, 1, 2, 3, 4, 4, 4, 7]
    assert rtt[5]["B"] == 10.5 and rtt[5]["within"] is False
    assert rtt[7]["B"] == 11.0 and rtt[7]["within"] is True


def test_dns_counters_and_metrics(tmp_path):
    config = make_config(tmp_path)
    for i, answered in enumerate((4, 3, 0, 4)):
        ts = T0 + i * INTERVAL
        section = sla.update(config, report(ts, [dns("resolver", ts, answered)]))
    resolver = section["targets"]["resolver"]
    assert resolver["counters"]["dns_queries_sent"] == 16.0
    assert resolver["counters"]["dns_queries_answered"] == 11.0
    assert "packets_sent" not in resolver["counters"]
    assert set(resolver["baseline"]) == {"response_ms", "query_loss_ratio"}
    # 3/4 answered is 25 % query loss > loss_max 0.2: an outage from the 2nd to the 4th cycle
    assert resolver["counters"]["outages"] == 1.0
    assert section["outages_closed"][0]["duration_s"] == 600.0
    out = MetricSet()
    sla.metrics(section, out)
    assert out.value("guestagent_sla_dns_queries_sent_total", target="resolver") == 16.0
    assert out.value("guestagent_sla_packets_sent_total", target="resolver") is None


def test_groups_by_role_named_and_configured(tmp_path):
    config = make_config(tmp_path, "groups:\n  both: {members: [edge, edge2], mode: any}",
                         "[{name: edge, host: 192.0.2.1}, {name: edge2, host: 192.0.2.2}]")
    ts = T0
    section = sla.update(config, report(ts, [icmp("edge", ts), icmp("edge2", ts, received=0)]))
    groups = section["groups"]
    assert groups["role:isp-edge"]["available"] is False  # mode all
    assert groups["uplink"]["members"] == ["edge", "edge2"]
    assert groups["both"]["mode"] == "any" and groups["both"]["available"] is True
    out = MetricSet()
    sla.metrics(section, out)
    assert out.value("guestagent_sla_group_available", group="both") == 1.0


def test_per_target_overrides(tmp_path):
    config = make_config(tmp_path, "targets:\n  edge: {rtt_max_ms: 50}")
    ts = T0
    section = sla.update(config, report(ts, [icmp("edge", ts, median=60.0),
                                             icmp("far", ts, median=60.0)]))
    assert section["targets"]["edge"]["available"] is False
    assert section["targets"]["far"]["available"] is True


def test_same_report_twice_counts_once(tmp_path):
    config = make_config(tmp_path)
    first = report(T0, [icmp("edge", T0)])
    sla.update(config, first)
    sla.update(config, report(T0 + 300, [icmp("edge", T0 + 300)], cycle_id="same"))
    again = sla.update(config, report(T0 + 300, [icmp("edge", T0 + 300)], cycle_id="same"))
    assert again["error"] is None
    store = stores.Store(stores.path_in(str(tmp_path)))
    assert store.sample_total() == 2
    store.close()


def test_retention_and_bound_on_samples(tmp_path):
    config = make_config(tmp_path, "retention_days: 0.01\nmax_samples_per_point: 100")
    for i in range(10):
        ts = T0 + i * INTERVAL
        sla.update(config, report(ts, [icmp("edge", ts)]))
    store = stores.Store(stores.path_in(str(tmp_path)))
    # 0.01 day = 864 s: samples at 2100, 2400, 2700 remain (>= 2700 - 864 = 1836)
    rows = sorted(r[1] - T0 for r in store.sample_rows())
    assert rows == [2100.0, 2400.0, 2700.0]
    assert store.db.execute("SELECT sample_count FROM points").fetchone()[0] == len(rows)
    store.prune(1, 0, 1)  # the count bound keeps the newest
    assert [r[1] - T0 for r in store.sample_rows()] == [2700.0]
    store.close()


def test_schema_version_and_tables(tmp_path):
    store = stores.Store(str(tmp_path / "sla.sqlite3"))
    assert store.db.execute("SELECT version FROM schema_version").fetchall() == [(4,)]
    # A rollback journal kept in place: no -wal/-shm made and removed at every open and close.
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "persist"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    # Freed pages are not zeroed (copied to the journal, then written) whatever the build.
    assert store.db.execute("PRAGMA secure_delete").fetchone()[0] == 2  # FAST
    store.close()


def test_migration_from_version_1_keeps_the_data(tmp_path):
    path = str(tmp_path / "sla.sqlite3")
    db = sqlite3.connect(path)
    db.executescript(stores.MIGRATIONS[0])
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO points (name, kind, role) VALUES ('edge', 'icmp', 'isp-edge')")
    db.execute("INSERT INTO counters VALUES (1, 'packets_sent', 70)")
    db.commit()
    db.close()
    config = make_config(tmp_path)
    section = sla.update(config, report(T0, [icmp("edge", T0)]))
    assert section["error"] is None
    assert section["targets"]["edge"]["counters"]["packets_sent"] == 80.0
    store = stores.Store(path)
    assert store.version == stores.SCHEMA_VERSION
    assert set(store._point_row("edge")["baselines"]) == {"delay_ms", "loss_ratio", "jitter_ms"}
    store.close()


def test_state_from_a_newer_agent_is_left_alone(tmp_path):
    config = make_config(tmp_path)
    path = stores.path_in(str(tmp_path))
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (99)")
    db.commit()
    db.close()
    section = sla.update(config, report(T0, [icmp("edge", T0)]))
    assert "schema version 99" in section["error"]
    assert section["targets"]["edge"]["available"] is True  # what the cycle itself knows
    assert os.path.exists(path) and not any(".corrupt" in n for n in os.listdir(str(tmp_path)))


def test_corrupt_state_is_moved_aside_and_started_afresh(tmp_path):
    config = make_config(tmp_path)
    path = stores.path_in(str(tmp_path))
    with open(path, "wb") as f:
        f.write(b"this is not a database, flash went bad" * 200)
    section = sla.update(config, report(T0, [icmp("edge", T0)]))
    assert section["error"] is None
    assert any("corrupt" in note for note in section["notes"])
    aside = [n for n in os.listdir(str(tmp_path)) if ".corrupt-" in n]
    assert len(aside) == 1
    assert section["targets"]["edge"]["counters"]["packets_sent"] == 10.0  # a fresh state
    out = MetricSet()
    sla.metrics(section, out)
    assert out.value("guestagent_sla_state_ok") == 1.0


def test_damaged_pages_are_detected_and_replaced(tmp_path):
    config = make_config(tmp_path)
    run_cycles(config, "AAAA")
    path = stores.path_in(str(tmp_path))
    store = stores.Store(path)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    size = os.path.getsize(path)
    with open(path, "r+b") as f:  # overwrite everything after the header page
        f.seek(4096)
        f.write(b"\xff" * (size - 4096))
    section = sla.update(config, report(T0 + 1200, [icmp("edge", T0 + 1200)]))
    assert section["error"] is None
    assert any("corrupt" in note for note in section["notes"])


def test_full_disk_keeps_the_previous_state_and_the_cycle_goes_on(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    run_cycles(config, "AA")
    path = stores.path_in(str(tmp_path))
    original = stores.Store.__init__

    def full(self, p, timeout_s=2.0):
        original(self, p, timeout_s)
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute("PRAGMA max_page_count = {}".format(pages))  # no room to grow

    monkeypatch.setattr(stores.Store, "__init__", full)
    big = [icmp("edge-%03d" % i, T0 + 600) for i in range(300)]
    section = sla.update(config, report(T0 + 600, big))
    assert "full" in section["error"]
    assert section["targets"]["edge-000"]["available"] is True
    out = MetricSet()
    sla.metrics(section, out)
    assert out.value("guestagent_sla_state_ok") == 0.0
    assert out.value("guestagent_sla_known_seconds_total") is None  # no invented totals
    monkeypatch.setattr(stores.Store, "__init__", original)
    store = stores.Store(path)
    assert store.sample_total() == 2
    assert store.db.execute("SELECT count(*) FROM points").fetchone()[0] == 1
    store.close()


def test_unusable_state_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = make_config(tmp_path)
    config.agent.state_dir = str(blocker)
    section = sla.update(config, report(T0, [icmp("edge", T0)]))
    assert section["error"]
    assert section["targets"]["edge"]["available"] is True


def test_section_is_json_and_cycle_schema_allows_it(tmp_path):
    config = make_config(tmp_path)
    section = run_cycles(config, "AU")[-1]
    json.dumps(section)  # goes into the report as it is
    assert section["store"] == stores.path_in(str(tmp_path))


# -- config ----------------------------------------------------------------------------------------
def test_config_defaults_and_overrides(tmp_path):
    from guestagent.sla import config as sla_config
    config = make_config(tmp_path, "loss_max: 0.1\ntargets:\n  edge: {outage_min_s: 600}")
    section = sla_config.section(config)
    assert section.rtt_max_ms == 500 and section.loss_max == 0.1
    assert section.retention_days == 92
    edge = sla_config.effective(section, 300, "edge")
    assert edge["outage_min_s"] == 600 and edge["loss_max"] == 0.1
    assert edge["baseline_min_samples"] == 576  # two days of 5-minute cycles
    assert sla_config.effective(section, 60, "other")["baseline_min_samples"] == 2880


def test_config_problems_name_the_key(tmp_path):
    with pytest.raises(config_module.ConfigError) as info:
        make_config(tmp_path, "loss_max: 2\nthreshold: 3\ngroups:\n  g: {mode: some}")
    text = "\n".join(info.value.problems)
    assert "sla.loss_max: expected a number >= 0 and <= 1" in text
    assert "sla.threshold: unknown key" in text
    assert "sla.groups.g.mode: expected one of 'all', 'any'" in text


def test_every_sla_metric_name_is_documented(tmp_path):
    import re
    config = make_config(tmp_path, "baseline_min_samples: 2")
    for i in range(4):
        ts = T0 + i * INTERVAL
        section = sla.update(config, report(ts, [icmp("edge", ts, received=0 if i == 2 else 10),
                                                 dns("resolver", ts)]))
    out = MetricSet()
    sla.metrics(section, out)
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                        "metric-names.md")
    with open(docs) as f:
        documented = set(re.findall(r"`(guestagent_[a-z0-9_]+)`", f.read()))
    emitted = set(out.names())
    # guestagent_sla_baseline_learning is sent only while learning: these baselines learned.
    assert len(emitted) == 22 and "guestagent_sla_baseline_learning" not in emitted
    assert emitted <= documented, sorted(emitted - documented)


@pytest.fixture
def small_fs(tmp_path):
    """A 512 KiB tmpfs of the test's own: a flash that fills up."""
    import subprocess
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mount_point = tmp_path / "flash"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: {}".format(done.stderr.decode().strip()))
    yield mount_point
    subprocess.run(["umount", str(mount_point)])


def test_really_full_file_system(tmp_path, small_fs):
    config = make_config(tmp_path)
    config.agent.state_dir = str(small_fs)
    run_cycles(config, "AA")
    filler = small_fs / "filler"
    fd = os.open(str(filler), os.O_WRONLY | os.O_CREAT)
    try:  # take every free byte
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    many = [icmp("edge-%03d" % i, T0 + 600) for i in range(300)]
    section = sla.update(config, report(T0 + 600, many))
    assert section["error"] and "full" in section["error"]
    assert section["targets"]["edge-000"]["available"] is True
    filler.unlink()
    section = sla.update(config, report(T0 + 900, [icmp("edge", T0 + 900)]))
    assert section["error"] is None
    edge = section["targets"]["edge"]
    # the full cycle left nothing behind: the third sample follows the first two
    assert edge["counters"]["packets_sent"] == 30.0 and edge["counters"]["known_seconds"] == 900.0
    store = stores.Store(stores.path_in(str(small_fs)))
    assert store.db.execute("SELECT count(*) FROM points").fetchone()[0] == 1
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_a_retention_of_days_is_applied_once_a_day_in_one_batch(tmp_path):
    """A few rows deleted at every commit rewrote a table and an index page per test point
    (two thirds of the SLA pass's flash once a store had reached its retention): a retention
    of days goes at the first commit of each UTC day, and never lags it by more than a day."""
    config = make_config(tmp_path, "retention_days: 2")
    path = stores.path_in(str(tmp_path))
    oldest_seen = []
    for hour in range(24 * 4):
        ts = T0 + hour * 3600.0
        sla.update(config, report(ts, [icmp("edge", ts)]))
        store = stores.Store(path)
        oldest = min(r[1] for r in store.sample_rows())
        count = store.sample_total()
        assert store.db.execute("SELECT sample_count FROM points").fetchone()[0] == count
        store.close()
        bound = ts - 2 * 86400.0
        assert oldest >= bound - 86400.0  # a day late at most
        oldest_seen.append((hour, oldest - T0))
    # Within a day nothing goes; at the first commit of a day, all that passed the bound.
    changes = [hour for (hour, oldest), (_, before) in zip(oldest_seen[1:], oldest_seen)
               if oldest != before]
    assert changes == [72], changes  # 00:00 of the fourth day: days 1 and 2 were kept whole
    assert oldest_seen[72][1] == 24 * 3600.0  # the bound of that commit: T0 + 1 day


def _version_3_store(path, rows_main, rows_recent):
    """A state as agents of schema 3 left it: indexed samples and the day's recent ones."""
    db = sqlite3.connect(path)
    for migration in stores.MIGRATIONS:
        db.executescript(migration)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (3)")
    db.execute("INSERT INTO points (name, kind, role, sample_count) VALUES ('edge', 'icmp', "
               "'isp-edge', ?)", (len(rows_main) + len(rows_recent),))
    for table, rows in (("samples_main", rows_main), ("samples_recent", rows_recent)):
        db.executemany("INSERT INTO {} ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)".format(
            table, stores.SAMPLE_COLUMNS), rows)
    db.commit()
    db.close()


def _odd_samples(first_ts, count):
    """Every kind of value a sample row holds: NULLs, errors, verdicts of all three kinds."""
    rows = []
    for n in range(count):
        error = int(n % 17 == 5)
        rows.append((1, first_ts + n * 300.0, error, None if error else int(n % 9 != 0),
                     None if error else 10, None if error else 10 - n % 11,
                     None if error or n % 9 == 0 else 10.0 + n / 7.0, None if error else
                     (n % 11) / 10.0, None if error or n % 9 == 0 else n / 1000.0,
                     None if n % 3 == 0 else int(n % 2 == 0), None if n % 4 == 0 else 1,
                     None if n % 5 == 0 else 0))
    return rows


def test_migration_to_version_4_packs_the_old_samples_a_few_days_per_commit(tmp_path):
    path = str(tmp_path / "sla.sqlite3")
    main = _odd_samples(T0 - 3 * 86400.0, 3 * 288)  # three whole days
    recent = _odd_samples(T0, 40)
    _version_3_store(path, main, recent)
    store = stores.Store(path)
    assert store.version == 4 and store.legacy
    point = store.points()[0]
    day = int(T0 // 86400)

    def same_samples():
        assert store.sample_rows() == main + recent  # every value, NULLs and verdicts included
        assert store.sample_total() == len(main + recent)
        records = store.records(point, since_ts=T0 - 86400.0)
        assert records[0]["ts"] == T0 - 86400.0 - 300.0  # the sample before the window
        assert [r["ts"] for r in records] == [r[1] for r in main[-289:] + recent]
        assert store.extent(point["id"]) == (main[0][1], recent[-1][1])
        valid = [r[6:9] for r in main + recent if not r[2] and T0 - 2 * 86400.0 <= r[1] < T0]
        assert sorted(store.window_values(point["id"], T0 - 2 * 86400.0, T0),
                      key=repr) == sorted(valid, key=repr)

    same_samples()  # read from the old table as they were
    store.begin()
    assert store.pack_legacy(days=2) == 2 * 288  # the newest days first
    store.commit()
    assert store.db.execute("SELECT day - ?, count FROM sample_days ORDER BY day",
                            (day,)).fetchall() == [(-2, 288), (-1, 288)]
    assert store.legacy
    same_samples()  # half in day rows, the oldest day still in the old table
    store.begin()
    assert store.pack_legacy() == 288
    store.commit()
    assert not store.legacy
    same_samples()
    names = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master")]
    assert "samples_main" not in names and "samples" not in names
    store.close()
    store = stores.Store(path)
    assert not store.legacy and store.sample_rows() == main + recent
    store.close()


def test_an_old_store_is_packed_by_the_cycles_commits(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    path = stores.path_in(str(tmp_path))
    _version_3_store(path, _odd_samples(T0 - 5 * 86400.0, 5 * 288), [])
    monkeypatch.setattr(stores, "LEGACY_DAYS_PER_COMMIT", 2)
    packed = []
    for i in range(4):
        ts = T0 + i * INTERVAL
        section = sla.update(config, report(ts, [icmp("edge", ts)]))
        assert section["error"] is None
        packed.append(section.get("maintenance", {}).get("legacy_samples_packed"))
    assert packed == [2 * 288, 2 * 288, 288, None]
    store = stores.Store(path)
    assert not store.legacy
    assert store.db.execute("SELECT count(*), sum(count) FROM sample_days").fetchone() == (
        5, 5 * 288)
    assert store.db.execute("SELECT sample_count FROM points").fetchone()[0] == 5 * 288 + 4
    store.close()


def test_the_daily_move_packs_the_days_before_today_and_keeps_today_recent(tmp_path):
    path = str(tmp_path / "sla.sqlite3")
    store = stores.Store(path)
    store.begin()
    point = store.point("edge", "icmp", "isp-edge", [])
    rows = _odd_samples(T0 - 86400.0 - 600.0, 288 + 10)  # two days ago (2), yesterday, today
    for row in rows:
        store.insert_sample(point["id"], {
            "ts": row[1], "error": row[2], "available": row[3], "sent": row[4],
            "received": row[5], "values": {"delay_ms": row[6], "loss_ratio": row[7],
                                           "jitter_ms": row[8]},
            "within": {"delay_ms": row[9], "loss_ratio": row[10], "jitter_ms": row[11]}})
    assert store.move_recent(T0) == len([r for r in rows if r[1] < T0])
    store.commit()
    assert [r[1:] for r in store.db.execute("SELECT {} FROM samples_recent".format(
        stores.SAMPLE_COLUMNS))] == [r[1:] for r in rows if r[1] >= T0]
    assert store.db.execute("SELECT day - ?, count FROM sample_days ORDER BY day",
                            (int(T0 // 86400),)).fetchall() == [(-2, 2), (-1, 288)]
    assert store.sample_rows() == rows
    # A late sample of yesterday joins its day's row.
    store.begin()
    late = {"ts": T0 - 1.0, "error": 0, "available": 1, "sent": 10, "received": 10,
            "values": {"delay_ms": 1.0, "loss_ratio": 0.0, "jitter_ms": 0.1}, "within": {}}
    store.insert_sample(point["id"], late)
    assert store.move_recent(T0) == 1
    store.commit()
    assert store.db.execute("SELECT count, last_ts FROM sample_days WHERE day = ?",
                            (int(T0 // 86400) - 1,)).fetchone() == (289, T0 - 1.0)
    store.close()


def test_a_day_row_that_does_not_decode_is_corruption(tmp_path):
    config = make_config(tmp_path)
    run_cycles(config, "AAA", start=T0 - 900.0)  # yesterday's samples packed at midnight
    run_cycles(config, "A", start=T0 + 300.0)
    path = stores.path_in(str(tmp_path))
    store = stores.Store(path)
    assert store.db.execute("SELECT count(*) FROM sample_days").fetchone()[0] == 1
    store.db.execute("UPDATE sample_days SET data = x'01ffff'")
    store.close()
    section = sla.update(config, report(T0 + 600.0, [icmp("edge", T0 + 600.0)]))
    assert section["error"] is None
    assert any("corrupt" in note and "malformed day row" in note for note in section["notes"])
