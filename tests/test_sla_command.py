"""`guestagent sla` and `guestagent state` on a journal of one known day."""

import argparse
import csv
import io
import json
import os
import shutil

import pytest

from guestagent import config as config_module
from guestagent import sla
from guestagent.commands import sla as sla_command
from guestagent.commands import state as state_command
from guestagent.report import dumps
from guestagent.sinks import journal
from guestagent.sla import store as stores

DAY = 1795132800.0  # 2026-11-20T00:00:00Z
INTERVAL = 300
EDGE_DOWN = (100, 101, 102)   # cycles with every echo lost on edge
EDGE2_DOWN = (101, 102, 103)
EDGE_ERROR = 200              # a measurement error on edge


def icmp(name, ts, received, error=None):
    return {"kind": "icmp", "target": name, "host": "192.0.2.1", "role": "isp-edge",
            "group": ["uplink"], "started": ts, "error": error,
            "sent": None if error else 10, "received": None if error else received,
            "loss_ratio": None if error else (10 - received) / 10.0,
            "reachable": None if error else received > 0,
            "rtt_ms": {"median": 20.0} if received and not error else None,
            "jitter_ms": 0.5}


def day_reports():
    for i in range(288):
        ts = DAY + i * INTERVAL
        probes = [
            icmp("edge", ts, 0 if i in EDGE_DOWN else 10,
                 "ping: permission denied" if i == EDGE_ERROR else None),
            icmp("edge2", ts, 0 if i in EDGE2_DOWN else 10),
            {"kind": "dns", "target": "resolver", "role": "dns", "group": [], "started": ts,
             "error": None, "queries_sent": 4, "queries_answered": 4, "loss_ratio": 0.0,
             "response_ms": {"median": 30.0, "p95": 30.0}},
        ]
        yield {"cycle": {"id": "c%d" % i, "started_ts": ts, "started": "x", "trigger": "timer"},
               "probes": probes}


CONFIG = ("agent: {state_dir: %s, interval_s: %d}\n"
          "sla: {baseline_min_samples: 10, groups: {either: {members: [edge, edge2], "
          "mode: any}}}\n")


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """A day of cycles run once: the state they built and their journal."""
    base = tmp_path_factory.mktemp("day")
    path = base / "config.yaml"
    path.write_text(CONFIG % (base / "state", INTERVAL))
    config = config_module.load(str(path))
    journal_dir = str(base / "journal")
    for report in day_reports():
        sla.update(config, report)
        journal.append(journal_dir, dumps(report), 60000, 50)  # several rotated files
    with open(os.path.join(journal_dir, journal.CURRENT), "ab") as f:
        f.write(b'{"torn line at power lo')
    return base


@pytest.fixture
def setup(day, tmp_path):
    """A copy of the day for one test (some change the state)."""
    shutil.copytree(str(day / "state"), str(tmp_path / "state"))
    shutil.copytree(str(day / "journal"), str(tmp_path / "journal"))
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG % (tmp_path / "state", INTERVAL))
    return {"config": str(path), "journal": str(tmp_path / "journal"),
            "state": str(tmp_path / "state")}


def run(module, argv, capsys):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    code = module.main(parser.parse_args(argv))
    return code, capsys.readouterr().out


WINDOW = ["--from", "2026-11-20", "--to", "2026-11-21T00:00:00Z"]


def by_name(entries):
    return dict((e["name"], e) for e in entries)


def check_day(data):
    targets, groups = by_name(data["targets"]), by_name(data["groups"])
    edge = targets["edge"]["periods"][0]
    # 288 samples of 300 s; the error sample's 300 s are unknown; 3 lost samples = 900 s down
    assert edge["known_s"] == 86100.0
    assert edge["availability"] == pytest.approx(85200.0 / 86100)
    assert edge["outages"]["count"] == 1 and edge["outages"]["total_s"] == 900.0
    outage = edge["outages"]["list"][0]
    assert (outage["start_ts"], outage["end_ts"]) == (DAY + 30000, DAY + 30900)
    assert edge["mean_time_between_outages_s"] is None
    assert edge["delay_ms"] == {"p50": 20.0, "p95": 20.0, "p99": 20.0}
    assert edge["loss_ratio"] == pytest.approx(30.0 / 2870)
    # 287 valid samples (all-lost ones are valid: the network failed, not the agent), the first
    # 10 learning; the 3 all-lost ones are out of baseline
    assert edge["fa"]["rtt_ms"] == {"n": 277, "nb": 274, "fa": pytest.approx(274.0 / 277)}
    assert edge["baseline"]["rtt_ms"]["B"] == 20.0 and edge["baseline"]["rtt_ms"]["S"] == 2.0
    assert targets["resolver"]["periods"][0]["availability"] == 1.0
    # group "all": down while either is down (cycles 100..103); "any": while both are (101, 102)
    uplink = groups["uplink"]["periods"][0]
    assert uplink["outages"]["total_s"] == 1200.0 and uplink["outages"]["count"] == 1
    either = groups["either"]["periods"][0]
    assert either["outages"]["total_s"] == 600.0
    assert either["availability"] == pytest.approx(1 - 600.0 / 86400)


def test_report_from_the_state_store(setup, capsys):
    code, out = run(sla_command, ["-c", setup["config"], "--json"] + WINDOW, capsys)
    assert code == 0
    data = json.loads(out)
    assert data["source"].startswith("state ")
    check_day(data)


def test_report_from_the_journal_matches(setup, capsys):
    code, out = run(sla_command, ["-c", setup["config"], "--journal", setup["journal"],
                                  "--json"] + WINDOW, capsys)
    assert code == 0
    data = json.loads(out)
    assert data["skipped_lines"] == 1  # the torn line
    check_day(data)


def test_table_fits_80_columns(setup, capsys):
    code, out = run(sla_command, ["-c", setup["config"]] + WINDOW, capsys)
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    edge = [line for line in lines if line.startswith("edge (isp-edge)")]
    assert edge[0].split()[2:5] == ["98.955", "23h55m", "1"]  # 85200 / 86100, known, outages
    assert edge[1].split()[2:7] == ["20.0", "20.0", "20.0", "1.05", "98.9"]
    assert "2026-11-20T08:20:00Z 15m" in out  # the outage list


def test_by_hour_target_and_group_selection(setup, capsys):
    code, out = run(sla_command, ["-c", setup["config"], "--json", "--by", "hour", "--target",
                                  "edge", "--group", "isp-edge", "--from", "2026-11-20T08:00",
                                  "--to", "2026-11-20T10:00"], capsys)
    data = json.loads(out)
    assert [t["name"] for t in data["targets"]] == ["edge"]
    assert [g["name"] for g in data["groups"]] == ["role:isp-edge"]
    hours = data["targets"][0]["periods"]
    assert [h["period"] for h in hours] == ["2026-11-20 08:00", "2026-11-20 09:00"]
    assert hours[0]["availability"] == pytest.approx(1 - 900.0 / 3600)
    assert hours[1]["availability"] == 1.0


def test_csv_one_row_per_entity(setup, capsys):
    code, out = run(sla_command, ["-c", setup["config"], "--csv"] + WINDOW, capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["entity"] for r in rows] == ["edge", "edge2", "resolver", "either", "role:dns",
                                           "role:isp-edge", "uplink"]
    assert float(rows[0]["outage_total_s"]) == 900.0


def test_bad_window_is_a_usage_error(setup, capsys):
    for argv in (["--from", "yesterday"], ["--last", "7x"], ["--last", "1d", "--from",
                                                              "2026-11-20"],
                 ["--from", "2026-11-21", "--to", "2026-11-20"]):
        code, _ = run(sla_command, ["-c", setup["config"]] + argv, capsys)
        assert code == 2


def test_rebuild_gives_the_state_the_cycles_built(setup, capsys):
    path = stores.path_in(setup["state"])
    before = stores.Store(path)
    expected = dict((p["name"], before.counters(p["id"])) for p in before.points())
    expected_outages = len(before.outages())
    before.close()
    os.rename(path, path + ".lost")  # the state is gone (say a new flash)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    code, out = run(state_command, ["rebuild", "-c", setup["config"], "--journal",
                                    setup["journal"]], capsys)
    assert code == 0
    assert "from 288 report(s)" in out and "1 line(s) skipped" in out
    after = stores.Store(path)
    try:
        assert dict((p["name"], after.counters(p["id"])) for p in after.points()) == expected
        assert len(after.outages()) == expected_outages
        assert after.unreported_outages() == []  # they were in the journal's reports already
    finally:
        after.close()
    assert not [n for n in os.listdir(setup["state"]) if ".rebuild-" in n or ".old-" in n]
    code, out = run(state_command, ["show", "-c", setup["config"]], capsys)
    assert code == 0 and "rebuilt from" in out and "edge2" in out


def test_the_next_cycle_continues_a_rebuilt_state(setup, capsys):
    run(state_command, ["rebuild", "-c", setup["config"], "--journal", setup["journal"]], capsys)
    config = config_module.load(setup["config"])
    ts = DAY + 288 * INTERVAL
    section = sla.update(config, {"cycle": {"id": "next", "started_ts": ts},
                                  "probes": [icmp("edge", ts, 10)]})
    assert section["error"] is None
    assert section["targets"]["edge"]["counters"]["packets_sent"] == 2880.0
    assert section["outages_closed"] == []


def test_journal_verdicts_equal_the_cycles_verdicts(tmp_path):
    """The journal path judges each sample as the cycles did (same window, same kept baseline)."""
    import random
    from guestagent.sla import report as sla_report
    rng = random.Random(5)
    path = tmp_path / "config.yaml"
    path.write_text("agent: {state_dir: %s, interval_s: %d}\n"
                    "sla: {baseline_min_samples: 20, baseline_window_days: 0.25}\n"
                    % (tmp_path / "state", INTERVAL))
    config = config_module.load(str(path))
    journal_dir = str(tmp_path / "journal")
    ts = DAY
    for i in range(400):
        received = rng.choice((10, 10, 10, 10, 8, 0))
        sample = icmp("edge", ts, received, "timeout" if rng.random() < 0.03 else None)
        if sample["rtt_ms"]:
            sample["rtt_ms"]["median"] = rng.lognormvariate(3, 0.3)
        report = {"cycle": {"id": "r%d" % i, "started_ts": ts}, "probes": [sample]}
        sla.update(config, report)
        journal.append(journal_dir, dumps(report), 10 ** 7, 5)
        ts += rng.choice((300, 300, 300, 60, 1200))
    store = stores.Store(stores.path_in(str(tmp_path / "state")))
    from_store = sla_report.records_from_store(store)["edge"]
    store.close()
    from_journal = sla_report.records_from_journal(journal_dir, config.sla, INTERVAL)["edge"]
    assert len(from_store) == len(from_journal) == 400
    judged = 0
    for a, b in zip(from_store, from_journal):
        for column in ("delay_ms", "loss_ratio", "jitter_ms"):
            assert a["within"].get(column) == b["within"].get(column), (a, b, column)
            judged += a["within"].get(column) is not None
    assert judged > 900


def test_long_outage_that_began_before_the_loaded_history(tmp_path, capsys):
    """From the store, a report loads only the samples that can matter, yet an outage that
    began days before its window is shown with its real start."""
    path = tmp_path / "config.yaml"
    path.write_text("agent: {state_dir: %s, interval_s: 3600}\n" % (tmp_path / "state"))
    config = config_module.load(str(path))
    for hour in range(96):
        ts = DAY + hour * 3600
        down = 12 <= hour < 84
        report = {"cycle": {"id": "h%d" % hour, "started_ts": ts},
                  "probes": [icmp("edge", ts, 0 if down else 10)]}
        sla.update(config, report)
        journal.append(str(tmp_path / "journal"), dumps(report), 10 ** 6, 5)
    window = ["--from", "2026-11-23T00:00", "--to", "2026-11-23T06:00"]
    for source in ([], ["--journal", str(tmp_path / "journal")]):
        code, out = run(sla_command, ["-c", str(path), "--json"] + window + source, capsys)
        period = json.loads(out)["targets"][0]["periods"][0]
        assert period["availability"] == 0.0
        outage = period["outages"]["list"][0]
        assert outage["start_ts"] == DAY + 12 * 3600 and outage["end_ts"] == DAY + 84 * 3600
        assert outage["in_window_s"] == 6 * 3600 and outage["duration_s"] == 72 * 3600


def test_commands_plug_into_the_command_line(setup, capsys, monkeypatch):
    from guestagent import cli
    commands = list(cli.COMMANDS) + [n for n in ("sla", "state") if n not in cli.COMMANDS]
    monkeypatch.setattr(cli, "COMMANDS", commands)
    assert cli.main(["sla", "-c", setup["config"], "--target", "edge"] + WINDOW) == 0
    assert "edge (isp-edge)" in capsys.readouterr().out
    assert cli.main(["state", "show", "--config", setup["config"]]) == 0
    assert "resolver" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        cli.main(["sla", "--by", "year"])
    assert info.value.code == 2


def test_unreadable_report_is_skipped_alone(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("agent: {state_dir: %s, interval_s: %d}\n" % (tmp_path / "state", INTERVAL))
    journal_dir = str(tmp_path / "journal")
    for i in range(3):
        ts = DAY + i * INTERVAL
        sample = icmp("edge", ts, 10)
        if i == 1:
            sample["loss_ratio"] = "none"  # not a number: that report cannot be used
        journal.append(journal_dir, dumps({"cycle": {"id": "r%d" % i, "started_ts": ts},
                                           "probes": [sample]}), 10 ** 6, 5)
    code, out = run(state_command, ["rebuild", "-c", str(path), "--journal", journal_dir],
                    capsys)
    assert code == 0 and "from 2 report(s)" in out and "1 line(s) skipped" in out
    store = stores.Store(stores.path_in(str(tmp_path / "state")))
    assert [r[1] - DAY for r in store.sample_rows()] == [0, 600]
    store.close()
    code, out = run(sla_command, ["-c", str(path), "--journal", journal_dir, "--json", "--from",
                                  "2026-11-20", "--to", "2026-11-21"], capsys)
    assert json.loads(out)["skipped_lines"] == 1
