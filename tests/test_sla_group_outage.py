"""A group's outage that began long before the window it is read in has its real start, as its
member's has (issue: a one-member group, its member down for 36 hours from 18:00 on day 0)."""

import argparse
import json
import os

from guestagent import config as config_module
from guestagent import sla
from guestagent.commands import sla as sla_command
from guestagent.commands import state as state_command
from guestagent.report import dumps
from guestagent.sinks import journal
from guestagent.sla import store as stores

DAY0 = 1795132800.0  # 2026-11-20T00:00:00Z
INTERVAL = 300
DOWN_FROM = DAY0 + 18 * 3600          # 18:00 on day 0
DOWN_UNTIL = DOWN_FROM + 36 * 3600    # 06:00 on day 2
END = DAY0 + 3 * 86400                # samples until the end of day 2


def icmp(ts, received):
    return {"kind": "icmp", "target": "edge", "host": "192.0.2.1", "role": "isp-edge",
            "group": ["uplink"], "started": ts, "error": None, "sent": 10,
            "received": received, "loss_ratio": (10 - received) / 10.0,
            "reachable": received > 0, "rtt_ms": {"median": 20.0} if received else None,
            "jitter_ms": 0.5}


def run(module, argv, capsys):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    code = module.main(parser.parse_args(argv))
    return code, capsys.readouterr().out


def build(tmp_path):
    """Cycles every 5 minutes from 12:00 on day 0 to the end of day 2: the state and journal."""
    path = tmp_path / "config.yaml"
    path.write_text("agent: {state_dir: %s, interval_s: %d}\n" % (tmp_path / "state", INTERVAL))
    config = config_module.load(str(path))
    ts = DAY0 + 12 * 3600
    while ts < END:
        down = DOWN_FROM <= ts < DOWN_UNTIL
        report = {"cycle": {"id": "c%d" % ts, "started_ts": ts},
                  "probes": [icmp(ts, 0 if down else 10)]}
        sla.update(config, report)
        journal.append(str(tmp_path / "journal"), dumps(report), 10 ** 7, 5)
        ts += INTERVAL
    return str(path)


# Windows that cut the outage: wholly inside it (day 1, and its last 6 hours), over its end
# (day 2), and the three days by day.
WINDOWS = [["--from", "2026-11-21T00:00:00Z", "--to", "2026-11-22T00:00:00Z"],
           ["--from", "2026-11-21T18:00:00Z", "--to", "2026-11-22T00:00:00Z"],
           ["--from", "2026-11-22T00:00:00Z", "--to", "2026-11-23T00:00:00Z"],
           ["--from", "2026-11-20T00:00:00Z", "--to", "2026-11-23T00:00:00Z", "--by", "day"]]


def check(data):
    """Every period the outage touches shows it with its real start, end and duration, for the
    member and for both groups it is the only member of."""
    entries = dict((e["name"], e) for e in data["targets"] + data["groups"])
    assert sorted(entries) == ["edge", "role:isp-edge", "uplink"]
    for name, entry in sorted(entries.items()):
        for period in entry["periods"]:
            outages = period["outages"]["list"]
            assert len(outages) == 1, (name, period["period"], outages)
            outage = outages[0]
            assert (outage["start_ts"], outage["end_ts"]) == (DOWN_FROM, DOWN_UNTIL), \
                (name, period["period"], outage)
            assert outage["duration_s"] == 129600.0, (name, outage)
            assert "duration_so_far_s" not in outage, (name, outage)
    return entries


def test_group_outage_started_long_before_the_window(tmp_path, capsys):
    config = build(tmp_path)
    sources = {"state": [], "journal": ["--journal", str(tmp_path / "journal")]}
    for _, source in sorted(sources.items()):
        for window in WINDOWS:
            code, out = run(sla_command, ["-c", config, "--json"] + window + source, capsys)
            assert code == 0
            check(json.loads(out))


def test_group_outage_from_a_state_rebuilt_from_the_journal(tmp_path, capsys):
    config = build(tmp_path)
    path = stores.path_in(str(tmp_path / "state"))
    os.rename(path, path + ".lost")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    code, _ = run(state_command, ["rebuild", "-c", config, "--journal",
                                  str(tmp_path / "journal")], capsys)
    assert code == 0
    for window in WINDOWS:
        code, out = run(sla_command, ["-c", config, "--json"] + window, capsys)
        assert code == 0
        check(json.loads(out))
