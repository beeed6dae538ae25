"""`guestagent sla`'s table: names shown whole on 80 columns, and no rows for empty periods."""

import json

from guestagent.commands import sla as sla_command
from guestagent.report import dumps
from guestagent.sinks import journal
from tests.test_sla_command import DAY, icmp, run

LONG = "a-test-point-named-after-its-circuit-id-0123456789"
FITS = "edge-fibre"             # "edge-fibre (isp-edge)": 21 characters, one more than before
GROUP = "both-uplinks-of-the-depot-north-site"
INTERVAL = 300


def write_day(tmp_path, hours=(8, 10), late_hour=13):
    """Cycles every 5 minutes in `hours` only (none between them); LONG loses everything from
    08:30 to 08:45; "late" has samples only in `late_hour`."""
    config = tmp_path / "config.yaml"
    config.write_text("agent: {state_dir: %s, interval_s: %d}\n"
                      "sla: {groups: {%s: {members: [%s, %s], mode: any}}}\n"
                      % (tmp_path / "state", INTERVAL, GROUP, LONG, FITS))
    journal_dir = str(tmp_path / "journal")
    for hour in list(hours) + [late_hour]:
        for i in range(12):
            ts = DAY + hour * 3600 + i * INTERVAL
            if hour == late_hour:
                probes = [icmp("late", ts, 10)]
            else:
                probes = [icmp(LONG, ts, 0 if hour == 8 and 6 <= i < 9 else 10),
                          icmp(FITS, ts, 10)]
            journal.append(journal_dir, dumps({"cycle": {"id": "c%d-%d" % (hour, i),
                                                         "started_ts": ts}, "probes": probes}),
                           10 ** 6, 5)
    return str(config), journal_dir


def sla_text(capsys, config, journal_dir, *argv):
    code, out = run(sla_command, ["-c", config, "--journal", journal_dir] + list(argv), capsys)
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    return lines, out


def test_long_names_are_shown_whole_within_80_columns(tmp_path, capsys):
    config, journal_dir = write_day(tmp_path)
    lines, out = sla_text(capsys, config, journal_dir, "--from", "2026-11-20T08:00",
                          "--to", "2026-11-20T11:00", "--target", LONG, "--target", FITS,
                          "--group", GROUP)
    # the label column widens to what still fits both tables in 80 columns (26); a longer
    # label gets a line of its own and its figures follow under the headings
    assert "TEST POINT                   AVAIL%   KNOWN OUTAGES     DOWN  LONGEST     MTBO" \
        in lines
    assert "TEST POINT                     P50     P95     P99   LOSS%     FA%  BASELINE B/S" \
        in lines
    at = lines.index(LONG + " (isp-edge)")
    assert lines[at + 1].startswith(" " * 27)
    assert lines[at + 1].split()[:3] == ["88.000", "2h05m", "1"]
    fits = [line for line in lines if line.startswith(FITS + " (isp-edge)      ")]
    assert fits[0].split()[2:4] == ["100.000", "2h05m"]
    assert fits[1].split()[2:6] == ["20.0", "20.0", "20.0", "0.00"]
    at = lines.index("group {} (any)".format(GROUP))
    assert lines[at + 1].split()[:2] == ["100.000", "2h05m"]
    assert lines.count(LONG + " (isp-edge)") == 3  # both tables and the outage list
    outage = lines[len(lines) - 1 - lines[::-1].index(LONG + " (isp-edge)") + 1]
    assert outage.split() == ["2026-11-20T08:30:00Z", "15m"]
    assert LONG[:20] + " " not in out  # never cut


def test_by_hour_drops_the_hours_without_samples(tmp_path, capsys):
    config, journal_dir = write_day(tmp_path)
    window = ["--from", "2026-11-20T07:00", "--to", "2026-11-20T12:00", "--by", "hour"]
    lines, out = sla_text(capsys, config, journal_dir, *window)
    periods = [line.split()[1] for line in lines if line.startswith("2026-11-20 ")]
    # per table: LONG, FITS, GROUP, role:isp-edge and uplink, each at 08:00 and 10:00 (07, 09
    # and 11 had no cycle)
    assert periods == ["08:00", "10:00"] * 5 * 2
    assert "(20 hour row(s) without samples not shown)" in lines  # 5 x 3, and late's 5
    assert "late (isp-edge): no samples in this window" in lines
    at = lines.index(LONG + " (isp-edge)")
    assert lines[at + 1].split()[:3] == ["2026-11-20", "08:00", "75.000"]
    # the JSON keeps every period, with its sample count, for programs that want the grid
    code, raw = run(sla_command, ["-c", config, "--journal", journal_dir, "--json"] + window,
                    capsys)
    data = json.loads(raw)
    long_hours = [t for t in data["targets"] if t["name"] == LONG][0]["periods"]
    assert [p["samples"] for p in long_hours] == [0, 12, 0, 12, 0]
    group_hours = data["groups"][0]["periods"]
    assert [p["samples"] for p in group_hours] == [0, 24, 0, 24, 0]


def test_by_hour_keeps_a_silent_hour_inside_an_outage(tmp_path, capsys):
    """No cycle in 09:00, but the test point was down before and after: that hour is part of
    an outage, so its row stays."""
    config = tmp_path / "config.yaml"
    config.write_text("agent: {state_dir: %s, interval_s: %d}\n" % (tmp_path / "state", INTERVAL))
    journal_dir = str(tmp_path / "journal")
    for hour in (8, 10):
        for i in range(12):
            ts = DAY + hour * 3600 + i * INTERVAL
            down = (hour == 8 and i >= 6) or (hour == 10 and i < 3)
            journal.append(journal_dir, dumps({"cycle": {"id": "c%d-%d" % (hour, i),
                                                         "started_ts": ts},
                                               "probes": [icmp("edge", ts, 0 if down else 10)]}),
                           10 ** 6, 5)
    lines, _ = sla_text(capsys, str(config), journal_dir, "--from", "2026-11-20T07:00", "--to",
                        "2026-11-20T12:00", "--by", "hour", "--target", "edge")
    rows = [line.split() for line in lines if line.startswith("2026-11-20 ")][:3]
    assert [(r[1], r[2], r[4]) for r in rows] == [("08:00", "50.000", "1"),
                                                  ("09:00", "0.000", "1"),
                                                  ("10:00", "75.000", "1")]
    assert "(2 hour row(s) without samples not shown)" in lines
