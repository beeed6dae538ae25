"""`guestagent status`: the technician's 80-column picture, from the journal only."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from guestagent import cli as command_line
from guestagent.commands import status as statuses
from guestagent.sinks import journal
from tests.conftest import ROOT, run_agent

# A fixed "now": noon UTC, so that "today" does not depend on when the test runs.
NOW = statuses.day_start(time.time()) + 12 * 3600


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def make_report(ts, push_ok=True, push_error="HTTP 503 from the Pushgateway", probes=None,
                sla=None, errors=()):
    return {
        "cycle": {"id": "c{}".format(int(ts)), "started": iso(ts), "started_ts": ts,
                  "trigger": "timer", "duration_s": 3.21, "deadline_s": 14.0,
                  "deadline_hit": False},
        "agent": {"version": "0.1.0", "hostname": "ir1101-depot", "platform": "IR1101-K9",
                  "ios_version": "17.09.04a", "device": {"kind": "onbox"}},
        "probes": probes or [],
        "sla": sla or {},
        "errors": [{"where": w, "message": m} for w, m in errors],
        "sinks": {"pushgateway": {"ok": push_ok, "error": None if push_ok else push_error}},
    }


def icmp(name, loss_ratio, median, jitter, mos, error=None):
    return {"kind": "icmp", "target": name, "via": "guestshell", "error": error,
            "loss_ratio": loss_ratio, "rtt_ms": {"median": median} if median is not None else {},
            "jitter_ms": jitter, "mos_estimate": mos, "reachable": loss_ratio != 1.0}


def write_journal(directory, reports):
    for report in reports:
        journal.append(str(directory), json.dumps(report), 1 << 20, 5)
    return str(directory)


def status_lines(journal_dir, now=NOW, interval_s=300):
    report = next(statuses.newest_first(journal_dir, 1))
    status = statuses.build(report, statuses.push_history(journal_dir, now), now, interval_s)
    return status, statuses.lines(status, now)


def test_test_points_availability_and_open_outage(tmp_path):
    probes = [icmp("isp-edge", 0.0, 12.34, 0.52, 4.39),
              icmp("datacenter", 1.0, None, None, None),
              icmp("dns", None, None, None, None, error="ping not available: no ping")]
    sla = {"targets": {
        "isp-edge": {"today": {"availability": 0.9995}, "in_outage": False},
        "datacenter": {"today": {"availability": 0.971}, "in_outage": True,
                       "outage_since": iso(NOW - 840), "outage_since_ts": NOW - 840}}}
    directory = write_journal(tmp_path, [make_report(NOW - 60, probes=probes, sla=sla)])
    status, lines = status_lines(directory)
    text = "\n".join(lines)
    assert lines[0] == "guestagent 0.1.0 on ir1101-depot (IR1101-K9, IOS XE 17.09.04a)"
    assert lines[1] == "last cycle {} (60 s ago), timer, onbox device, 3.2 of 14 s, " \
                       "0 error(s)".format(time.strftime("%H:%MZ", time.gmtime(NOW - 60)))
    assert "TEST POINT         LOSS    MEDIAN   JITTER   MOS    TODAY  OUTAGE" in lines
    assert "isp-edge           0.0%   12.3 ms  0.52 ms  4.39   99.95%  -" in lines
    assert ("datacenter       100.0%         -        -     -   97.10%  since {} (14 min)"
            .format(time.strftime("%H:%MZ", time.gmtime(NOW - 840)))) in lines
    assert "dns              measurement error: ping not available: no ping" in lines
    assert all(len(line) <= 80 for line in lines), text
    row = [r for r in status["test_points"] if r["name"] == "datacenter"][0]
    assert row["in_outage"] and row["availability_today"] == 0.971


def test_push_history_last_success_and_failures(tmp_path):
    reports = [make_report(NOW - 86400 - 600, push_ok=False),   # yesterday
               make_report(NOW - 86400 + 600, push_ok=True),    # yesterday
               make_report(NOW - 3 * 3600, push_ok=False),      # today
               make_report(NOW - 2 * 3600, push_ok=True),
               make_report(NOW - 600, push_ok=False),
               make_report(NOW - 300, push_ok=False, push_error="URLError: timed out")]
    directory = write_journal(tmp_path, reports)
    history = statuses.push_history(directory, NOW)
    assert history["last_ok_ts"] == NOW - 2 * 3600
    assert history["failures_since_ok"] == 2
    assert history["failures_today"] == 3
    assert history["last_error"] == "URLError: timed out"
    _, lines = status_lines(directory)
    assert "push last ok {} (2.0 h ago); 2 failure(s) since, 3 today".format(
        time.strftime("%H:%MZ", time.gmtime(NOW - 7200))) in lines
    assert "  last push error: URLError: timed out" in lines


def test_push_never_succeeded(tmp_path):
    directory = write_journal(tmp_path, [make_report(NOW - 86400, push_ok=False),
                                         make_report(NOW - 300, push_ok=False)])
    _, lines = status_lines(directory)
    assert "push FAILING: no success in the last 2 reports; 1 failure(s) today" in lines


def test_push_history_reads_across_rotated_files(tmp_path):
    for i, ok in enumerate([True, False, False]):
        journal.append(str(tmp_path), json.dumps(make_report(NOW - 900 + i * 300, push_ok=ok)),
                       1 << 20, 5)
        journal.rotate(str(tmp_path), 5)
    journal.append(str(tmp_path), json.dumps(make_report(NOW - 60, push_ok=False)), 1 << 20, 5)
    history = statuses.push_history(str(tmp_path), NOW)
    assert history["last_ok_ts"] == NOW - 900
    assert history["failures_since_ok"] == 3


def test_a_torn_last_line_falls_back_to_the_report_before(tmp_path):
    directory = write_journal(tmp_path, [make_report(NOW - 300)])
    with open(os.path.join(directory, "reports.jsonl"), "a") as f:
        f.write('{"cycle": {"id": "torn"')
    status, _ = status_lines(directory)
    assert status["last_cycle"]["id"] == "c{}".format(int(NOW - 300))


def test_stale_router_is_flagged(tmp_path):
    directory = write_journal(tmp_path, [make_report(NOW - 1800)])
    status, lines = status_lines(directory)
    assert status["stale"]
    assert lines[2] == "STALE: no cycle for 30 min: check `show event manager history events`"


def test_from_a_cycle_of_the_simulated_router(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("""
agent: {{state_dir: {}}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 2, interval_s: 0.2, timeout_s: 1}}}}
targets: [{{name: lo4, host: 127.0.0.1}}]
""".format(tmp_path / "state"))
    assert run_agent(["run", "-c", str(config), "--trigger", "timer"]).returncode in (0, 1)
    result = run_agent(["status", "-c", str(config)])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "guestagent 0.1.0 on ir1101-site7 (IR1101-K9, IOS XE 17.09.04a)"
    assert any(line.startswith("lo4                0.0%") for line in lines)
    assert any(line.startswith("ip sla 40   icmp-echo   192.0.2.1       Timeout") and
               line.endswith("track 40 down") for line in lines)
    assert "location gps 44.39566, 8.93668, fix 3D, 6 satellites" in "\n".join(lines)
    assert ("radio 0/1/0 LTE Example Mobile (Registered) RSRP -97dBm RSRQ -11dB SINR 13.2dB"
            in lines)
    assert "push none configured (or none in the last 1 reports)" in lines
    assert all(len(line) <= 80 for line in lines)
    as_json = json.loads(run_agent(["status", "-c", str(config), "--json"]).stdout)
    assert as_json["test_points"][0]["name"] == "lo4"
    assert as_json["ipsla"][3]["return_code"] == "Timeout"
    assert as_json["location"]["fix"] == "3D"
    # the sparkline of a real cycle: one sample without loss in its hour
    assert any(line.startswith("lo4              |") for line in lines)
    day = as_json["last_24h"]["test_points"]["lo4"]
    assert sum(day["samples"]) == 1 and day["level"].count(0) == 1
    assert day["loss_ratio_24h"] == 0.0 and day["down_hours"] == 0


def test_no_report_yet(tmp_path, capsys):
    code = command_line.main(["status", "--journal", str(tmp_path / "none")])
    assert code == 1
    assert "no report in {} (no such directory): run a cycle".format(
        tmp_path / "none") in capsys.readouterr().err


def test_status_never_probes_nor_asks_the_router(tmp_path):
    directory = write_journal(tmp_path, [make_report(time.time() - 60)])
    code = ("import sys; from guestagent.cli import main; rc = main(['status', '--journal', "
            "sys.argv[1]]); print(' '.join(sorted(m for m in sys.modules if m.startswith("
            "('guestagent', 'requests', 'cli', 'prometheus_client')))))")
    result = subprocess.run([sys.executable, "-c", code, directory], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.splitlines()[-1].split()
    assert not [m for m in loaded if m.startswith(("guestagent.probes", "guestagent.device",
                                                   "guestagent.cycle", "guestagent.collectors",
                                                   "requests", "prometheus_client"))]
    assert "cli" not in loaded
    assert "guestagent.commands.status" in loaded


def test_foreign_journal_lines_do_not_break_status(tmp_path, capsys):
    from tests.test_journal import FOREIGN
    directory = write_journal(tmp_path, [make_report(NOW - 300)])
    with open(os.path.join(directory, "reports.jsonl"), "ab") as f:
        for line in FOREIGN + ['{"cycle": {"id": "odd", "started_ts": 1}, "probes": "abc", '
                               '"agent": [], "errors": 5}']:
            f.write(line.encode("latin-1") + b"\n")
    code = command_line.main(["status", "--journal", directory])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("guestagent 0.1.0 on ir1101-depot")
    assert "skipped 1 newer line(s) of the journal" in out
    assert statuses.push_history(directory, NOW)["reports_scanned"] == 2


def test_push_outcomes_come_from_the_next_report_and_the_outcome_file(tmp_path):
    """A cycle journals before it pushes: its outcome is in the next report's sinks_previous,
    and the newest cycle's in sinks.json beside the journal."""
    reports = [make_report(NOW - 900 + i * 300) for i in range(3)]
    outcomes = [{"ok": True}, {"ok": False, "error": "URLError: timed out"},
                {"ok": False, "error": "HTTP 503 from the Pushgateway"}]
    previous = None
    for report, outcome in zip(reports, outcomes):
        del report["sinks"]
        report["sinks_previous"] = previous
        previous = {"cycle_id": report["cycle"]["id"], "pushgateway": outcome}
    directory = write_journal(tmp_path, reports)
    with open(os.path.join(directory, "sinks.json"), "w") as f:
        json.dump(previous, f)
    history = statuses.push_history(directory, NOW)
    assert history["last_ok_ts"] == NOW - 900
    assert history["failures_since_ok"] == 2
    assert history["last_error"] == "HTTP 503 from the Pushgateway"


# -- the last 24 hours ---------------------------------------------------------------------------

# Loss per hour of "isp-edge" (hours after the oldest cell's start), and what its cell shows.
HOUR_LOSS = {3: 0.005, 5: 0.03, 7: 0.2}
DOWN_HOUR, ERROR_HOUR, SILENT_HOURS = 9, 11, (13, 14)
ASCII_LINE = "___-_=_*_#_?_  _________"
UNICODE_LINE = ASCII_LINE.translate(dict(zip(map(ord, "_-=*#"), statuses.GLYPHS_UNICODE)))


def day_journal(directory, now=NOW):
    """Three cycles an hour from two hours before the oldest cell to `now`: one of them at
    total loss in DOWN_HOUR, only measurement errors in ERROR_HOUR, none in SILENT_HOURS; the
    hours before the day lose everything (they must not show)."""
    start = statuses.hours_start(now)
    reports = []
    for hour in range(-2, statuses.HOURS):
        if hour in SILENT_HOURS:
            continue
        for k in range(3):
            ts = start + hour * 3600 + k * 1200
            if ts > now:
                continue
            loss = 1.0 if hour < 0 or (hour == DOWN_HOUR and k == 1) else HOUR_LOSS.get(hour, 0.0)
            reports.append(make_report(ts, probes=[
                icmp("isp-edge", loss, 12.0 + hour, 0.5, 4.3,
                     error="ping not available: no ping" if hour == ERROR_HOUR else None),
                icmp("a-test-point-with-a-long-name", 0.0, 30.0, 1.0, 4.2)]))
    return write_journal(directory, reports)


def day_status(directory, now=NOW):
    report = next(statuses.newest_first(directory, 1))
    day = statuses.last_day(directory, ["isp-edge", "a-test-point-with-a-long-name"], now)
    return statuses.build(report, statuses.push_history(directory, now), now, 300, day)


def test_sparkline_one_cell_per_hour_in_80_columns(tmp_path):
    directory = day_journal(tmp_path)
    status = day_status(directory)
    for glyphs, cells in ((statuses.GLYPHS_ASCII, ASCII_LINE),
                          (statuses.GLYPHS_UNICODE, UNICODE_LINE)):
        lines = statuses.lines(status, NOW, glyphs)
        # NOW is noon: the oldest cell is 13:00 yesterday, the newest the current hour
        assert "LAST 24 H (UTC)  |     18    00    06     |   LOSS   DOWN  RTT P50" in lines
        edge = [line for line in lines if line.startswith("isp-edge         |")]
        assert edge == ["isp-edge         |{}|   2.8%    1 h  22.0 ms".format(cells)]
        assert "a-test-point-wit |_____________  _________|   0.0%    0 h  30.0 ms".translate(
            dict(zip(map(ord, "_"), glyphs))) in lines
        assert "{} 0 loss  {} <=1%  {} <=5%  {} >5%  {} down  {} errors  blank: no cycle" \
            .format(*glyphs) in lines
        assert all(len(line) <= 80 for line in lines), "\n".join(lines)


def test_sparkline_series_in_json_are_numbers(tmp_path):
    directory = day_journal(tmp_path)
    day = day_status(directory)["last_24h"]
    assert day["bucket_s"] == 3600 and len(day["hours_ts"]) == 24
    assert day["hours_ts"][0] == statuses.hours_start(NOW) and day["hours_ts"][-1] == NOW
    edge = day["test_points"]["isp-edge"]
    assert edge["samples"][:4] == [3, 3, 3, 3] and edge["samples"][-1] == 1  # only 12:00 yet
    assert [edge["samples"][h] for h in SILENT_HOURS] == [0, 0]
    assert edge["loss_ratio"][3] == pytest.approx(0.005)
    assert edge["loss_ratio"][7] == pytest.approx(0.2)
    assert edge["loss_ratio"][DOWN_HOUR] == pytest.approx(1 / 3.0)
    assert edge["down"][DOWN_HOUR] == 1 and sum(edge["down"]) == 1  # the day before is out
    assert edge["errors"][ERROR_HOUR] == 3 and edge["loss_ratio"][ERROR_HOUR] is None
    assert edge["rtt_median_ms"][5] == 17.0
    assert edge["level"] == [None if c == " " else "_-=*#?".index(c) for c in ASCII_LINE]
    # one sample counts once over the day: 61 measured samples
    assert edge["loss_ratio_24h"] == pytest.approx((3 * (0.005 + 0.03 + 0.2) + 1.0) / 61)
    assert edge["down_hours"] == 1
    json.dumps(day)  # plain numbers, None and lists


def test_sparkline_falls_back_to_ascii_where_stdout_cannot_encode_it(tmp_path):
    """Guest Shell runs Python 3.6 in the C locale: its stdout is ASCII (PEP 538 coerces C to
    UTF-8 from 3.7 on). `env -i` gives that environment here."""
    directory = day_journal(tmp_path, now=time.time())
    argv = [sys.executable, "-m", "guestagent", "status", "--journal", directory]

    def status_in(env):
        result = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert result.returncode == 0, result.stderr
        assert b"Traceback" not in result.stderr
        # The last cycle's age is counted from the clock: the three runs may straddle a minute.
        return re.sub(rb"\(\d+ min ago\)", b"(? min ago)", result.stdout)

    plain = status_in({"PYTHONPATH": ROOT})  # as `env -i`: no LANG, no LC_*
    ascii_only = status_in({"PYTHONPATH": ROOT, "LC_ALL": "C", "PYTHONIOENCODING": "ascii"})
    utf8 = status_in({"PYTHONPATH": ROOT, "PYTHONIOENCODING": "utf-8"})
    ascii_only.decode("ascii")
    assert b"_ 0 loss  - <=1%" in ascii_only
    assert "\u2581 0 loss  \u2583 <=1%".encode("utf-8") in utf8
    if sys.version_info < (3, 7):
        assert plain == ascii_only
    else:
        assert plain == utf8
    for text in (ascii_only.decode("ascii"), utf8.decode("utf-8")):
        assert all(len(line) <= 80 for line in text.splitlines())


def test_sparkline_stays_blank_for_a_new_journal_and_a_foreign_sample(tmp_path):
    older = make_report(NOW - 3600, probes=[icmp("isp-edge", 0.0, 12.0, 0.5, 4.3)])
    older["probes"] += ["not a sample", {"target": "isp-edge", "loss_ratio": "lots"},
                        {"target": ["isp-edge"]}]
    older["sla"] = {"targets": ["not", "a", "dict"]}
    latest = make_report(NOW, probes=[icmp("isp-edge", 0.0, 14.0, 0.5, 4.3)])
    directory = write_journal(tmp_path, [older, latest])
    status = day_status(directory)
    assert status["last_24h"]["test_points"]["isp-edge"]["samples"][-2:] == [2, 1]
    line = [x for x in statuses.lines(status, NOW) if x.startswith("isp-edge         |")]
    assert line == ["isp-edge         |{}__|   0.0%    0 h  13.0 ms".format(" " * 22)]


def test_data_line_shows_the_month_s_telemetry_beside_the_throughput_budget(tmp_path):
    month = time.strftime("%Y-%m", time.gmtime(NOW))
    report = make_report(NOW - 60, probes=[
        {"kind": "throughput", "target": "speed", "error": None, "skipped": "schedule",
         "budget": {"day": "x", "used_bytes": 12500000, "budget_bytes": 200000000}}])
    report["sinks_previous"] = {"cycle_id": "c0", "telemetry": {"month": month,
                                                                "wire_bytes": 1200}}
    journal_dir = write_journal(tmp_path, [report])
    status, text = status_lines(journal_dir)
    assert status["data"]["telemetry_bytes"] == 1200
    assert "data sinks 1.2 kB in {} (UTC); throughput tests 12.5 MB of 200.0 MB today".format(
        month) in text
    # The outcome file is newer than the report: its count wins; a past month's reads as 0.
    outcome = {"cycle_id": "c1", "telemetry": {"month": month, "wire_bytes": 3400000}}
    assert statuses.data_use(report, outcome, NOW)["telemetry_bytes"] == 3400000
    outcome["telemetry"]["month"] = "1999-01"
    assert statuses.data_use(report, outcome, NOW)["telemetry_bytes"] == 0
    assert statuses.data_use({"probes": []}, None, NOW)["telemetry_bytes"] is None
