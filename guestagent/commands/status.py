"""`guestagent status`: the technician's picture on an 80-column console.

From the journal only (the latest report and, for the push history, the reports before it): per
test point loss, median RTT, jitter, MOS estimate, availability today and any open outage; the IP
SLA operations; location; radio; the last successful push and the failures since; and the last
24 hours per test point as a sparkline, one cell per UTC hour. It never probes and never asks the
router, so it answers at once even while the network is down.
"""

import sys
import time

from guestagent.quality import median as _median

HELP = "the latest cycle and today's picture from the journal (never probes)"

WIDTH = 80
# Reports read back for the push history at most (a day of 5-minute cycles is 288).
MAX_SCAN = 2000
HOUR_S = 3600
HOURS = 24
# Sparkline cells, by level: no loss, loss <= 1 %, <= 5 %, more, down (a cycle lost everything
# or the SLA engine had an outage open), only measurement errors. Block elements where stdout
# can encode them; ASCII where it cannot (Python 3.6 in Guest Shell's C locale).
GLYPHS_UNICODE = ("\u2581", "\u2583", "\u2585", "\u2587", "\u2588", "?")
GLYPHS_ASCII = ("_", "-", "=", "*", "#", "?")
LOSS_STEPS = (0.0, 0.01, 0.05)
LEVEL_DOWN, LEVEL_ERRORS = 4, 5


def add_arguments(parser):
    from guestagent.cli import add_config_argument
    add_config_argument(parser, "its journal directory")
    parser.add_argument("--journal", metavar="DIR", help="journal directory (default: the "
                        "config's)")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")


def newest_first(journal_dir, limit=MAX_SCAN):
    """Reports, newest first, at most `limit`; torn and foreign lines are skipped."""
    from guestagent.sinks import journal
    count = 0
    for _, _, raw, base in journal.newest_lines(journal_dir):
        report = journal.parse_line(raw, base)
        if report is None:
            continue
        yield report
        count += 1
        if count >= limit:
            return


def day_start(now):
    """UTC midnight before `now` (Guest Shell keeps UTC)."""
    return now - now % 86400


def last_outcome(journal_dir):
    """The newest cycle's sink outcomes (the cycle's state beside the journal; an older
    version's <journal dir>/sinks.json), or None."""
    import os
    from guestagent.statefile import CYCLE_STATE, SlotState, read_json
    state = SlotState(os.path.join(journal_dir, CYCLE_STATE))
    outcome = state.get("sinks") if state.found else \
        read_json(os.path.join(journal_dir, "sinks.json"))
    return outcome if isinstance(outcome, dict) and outcome.get("cycle_id") else None


def outcomes(journal_dir):
    """(report, its sink outcomes or None), newest first. A cycle journals its report before its
    sinks run, so its outcomes are in the next report's `sinks_previous` (the newest cycle's in
    the cycle's state); journals written before that carry them in the report's own `sinks`."""
    newer_previous = last_outcome(journal_dir)
    for report in newest_first(journal_dir):
        sinks = report.get("sinks")
        if not isinstance(sinks, dict):
            sinks = None
            if isinstance(newer_previous, dict) and \
                    newer_previous.get("cycle_id") == report["cycle"]["id"]:
                sinks = newer_previous
        yield report, sinks
        newer_previous = report.get("sinks_previous")


def push_history(journal_dir, now):
    """The last successful push and the failures since and today, from the journal."""
    today = day_start(now)
    out = {"last_ok": None, "last_ok_ts": None, "failures_since_ok": 0, "failures_today": 0,
           "last_error": None, "configured": False, "reports_scanned": 0}
    for report, sinks in outcomes(journal_dir):
        out["reports_scanned"] += 1
        started = report["cycle"]["started_ts"]
        outcome = (sinks or {}).get("pushgateway")
        if not isinstance(outcome, dict) or outcome.get("skipped"):
            if started < today and out["last_ok_ts"] is not None:
                break
            continue
        out["configured"] = True
        if outcome.get("ok"):
            if out["last_ok_ts"] is None:
                out["last_ok_ts"] = started
                out["last_ok"] = report["cycle"].get("started")
        else:
            if out["last_ok_ts"] is None:
                out["failures_since_ok"] += 1
                if out["last_error"] is None:
                    out["last_error"] = outcome.get("error")
            if started >= today:
                out["failures_today"] += 1
        if out["last_ok_ts"] is not None and started < today:
            break
    return out


def test_points(report):
    targets = (report.get("sla") or {}).get("targets") or {}
    rows = []
    for sample in report.get("probes") or []:
        name = sample.get("target")
        sla = targets.get(name) or {}
        rtt = sample.get("rtt_ms") if isinstance(sample.get("rtt_ms"), dict) else {}
        rows.append({
            "name": name, "kind": sample.get("kind"), "via": sample.get("via"),
            "error": sample.get("error"),
            "loss_ratio": sample.get("loss_ratio"),
            "rtt_median_ms": rtt.get("median"),
            "jitter_ms": sample.get("jitter_ms"),
            "mos_estimate": sample.get("mos_estimate"),
            "availability_today": (sla.get("today") or {}).get("availability"),
            "in_outage": bool(sla.get("in_outage")),
            "outage_since": sla.get("outage_since"),
            "outage_since_ts": sla.get("outage_since_ts"),
        })
    return rows


def hours_start(now):
    """Start of the oldest of the HOURS cells; the newest cell is the current UTC hour."""
    return now - now % HOUR_S - (HOURS - 1) * HOUR_S


def last_day(journal_dir, names, now):
    """Per test point in `names`, one entry per UTC hour of the last HOURS (oldest first):
    samples, measurement errors, down samples, mean loss ratio and median RTT of that hour.

    Reports are read newest first and the walk stops at the first one before the oldest hour."""
    start = hours_start(now)
    wanted = set(names)
    acc = dict((name, [{"samples": 0, "errors": 0, "down": 0, "losses": [], "rtts": []}
                       for _ in range(HOURS)]) for name in names)
    scanned = 0
    for report in newest_first(journal_dir, MAX_SCAN * 4):
        started = report["cycle"]["started_ts"]
        if started < start:
            break
        index = int((started - start) // HOUR_S)
        if index >= HOURS:
            continue  # from a clock ahead of ours: not in the last day
        scanned += 1
        sla = report.get("sla") if isinstance(report.get("sla"), dict) else {}
        sla_targets = sla.get("targets") if isinstance(sla.get("targets"), dict) else {}
        for sample in report.get("probes") if isinstance(report.get("probes"), list) else []:
            name = sample.get("target") if isinstance(sample, dict) else None
            if not isinstance(name, str) or name not in wanted:
                continue
            cell = acc[name][index]
            cell["samples"] += 1
            if sample.get("error"):
                cell["errors"] += 1
                continue
            loss = sample.get("loss_ratio")
            if isinstance(loss, bool) or not isinstance(loss, (int, float)):
                loss = None if sample.get("reachable") is None else (
                    0.0 if sample.get("reachable") else 1.0)
            if loss is not None:
                cell["losses"].append(float(loss))
            target_sla = sla_targets.get(name)
            if loss == 1.0 or sample.get("reachable") is False or (
                    isinstance(target_sla, dict) and target_sla.get("in_outage")):
                cell["down"] += 1
            rtt = sample.get("rtt_ms")
            median = rtt.get("median") if isinstance(rtt, dict) else None
            if isinstance(median, (int, float)) and not isinstance(median, bool):
                cell["rtts"].append(float(median))
    series = {}
    for name in names:
        cells = acc[name]
        losses = [x for c in cells for x in c["losses"]]
        series[name] = {
            "samples": [c["samples"] for c in cells],
            "errors": [c["errors"] for c in cells],
            "down": [c["down"] for c in cells],
            "loss_ratio": [(sum(c["losses"]) / len(c["losses"])) if c["losses"] else None
                           for c in cells],
            "rtt_median_ms": [_median(c["rtts"]) for c in cells],
            # over the whole day: every sample counts once, whatever its hour
            "loss_ratio_24h": (sum(losses) / len(losses)) if losses else None,
            "rtt_median_ms_24h": _median([x for c in cells for x in c["rtts"]]),
            "down_hours": sum(1 for c in cells if c["down"]),
        }
        series[name]["level"] = levels(series[name])
    return {"bucket_s": HOUR_S, "from_ts": start, "to_ts": start + HOURS * HOUR_S,
            "hours_ts": [start + i * HOUR_S for i in range(HOURS)], "reports": scanned,
            "test_points": series}


def levels(series):
    """The glyph level of each hour (an index into GLYPHS_*), None for an hour without samples."""
    out = []
    for samples, errors, down, loss in zip(series["samples"], series["errors"], series["down"],
                                           series["loss_ratio"]):
        if not samples:
            out.append(None)
        elif down:
            out.append(LEVEL_DOWN)
        elif loss is None:
            out.append(LEVEL_ERRORS if errors else None)
        else:
            out.append(sum(1 for step in LOSS_STEPS if loss > step))
    return out


def data_use(report, outcome, now):
    """What the agent put on the metered link: the sinks' bytes this UTC month (the outcome
    file's count, else the one the report carries) beside the throughput tests' daily budget."""
    telemetry = (outcome or {}).get("telemetry") or \
        (report.get("sinks_previous") or {}).get("telemetry") or {}
    month = time.strftime("%Y-%m", time.gmtime(now))
    out = {"month": month, "telemetry_bytes": None, "throughput": None}
    if isinstance(telemetry, dict) and isinstance(telemetry.get("wire_bytes"), int):
        out["telemetry_bytes"] = telemetry["wire_bytes"] if telemetry.get("month") == month \
            else 0
    for sample in report.get("probes") or []:
        budget = sample.get("budget") if isinstance(sample, dict) else None
        if sample.get("kind") == "throughput" and isinstance(budget, dict):
            out["throughput"] = {"day": budget.get("day"), "used_bytes": budget.get("used_bytes"),
                                 "budget_bytes": budget.get("budget_bytes")}
    return out


def build(report, history, now, interval_s, day=None, outcome=None):
    cycle = report["cycle"]
    agent = report.get("agent") or {}
    age_s = now - (cycle.get("started_ts") or now)
    return {
        "agent": {"version": agent.get("version"), "hostname": agent.get("hostname"),
                  "platform": agent.get("platform"), "ios_version": agent.get("ios_version"),
                  "serial": agent.get("serial"),
                  "device": (agent.get("device") or {}).get("kind")},
        "last_cycle": {"id": cycle.get("id"), "started": cycle.get("started"),
                       "started_ts": cycle.get("started_ts"),
                       "age_s": round(age_s, 1), "trigger": cycle.get("trigger"),
                       "duration_s": cycle.get("duration_s"),
                       "deadline_s": cycle.get("deadline_s"),
                       "deadline_hit": cycle.get("deadline_hit"),
                       "errors": [e.get("where", "") + ": " + str(e.get("message", ""))
                                  for e in report.get("errors") or []]},
        "stale": bool(interval_s and age_s > 2.5 * interval_s),
        "test_points": test_points(report),
        "ipsla": [{"id": op.get("id"), "type": op.get("type"), "target": op.get("target"),
                   "tag": op.get("tag"), "return_code": op.get("return_code"),
                   "latest_rtt_ms": op.get("latest_rtt_ms"),
                   "tracks": op.get("tracks") or []} for op in report.get("ipsla") or []],
        "location": report.get("location") or {},
        "cellular": report.get("cellular") or [],
        "push": history,
        "data": data_use(report, outcome, now),
        "last_24h": day,
    }


# -- text ----------------------------------------------------------------------------------------

def _ago(seconds):
    if seconds is None:
        return "?"
    seconds = max(0, int(seconds))
    if seconds < 120:
        return "{} s".format(seconds)
    if seconds < 7200:
        return "{} min".format(seconds // 60)
    if seconds < 172800:
        return "{:.1f} h".format(seconds / 3600.0)
    return "{} d".format(seconds // 86400)


def _clock(ts):
    return time.strftime("%H:%MZ", time.gmtime(ts)) if ts else "-"


def _when(ts, now):
    if not ts:
        return "-"
    if now - ts > 86400:
        return time.strftime("%Y-%m-%d %H:%MZ", time.gmtime(ts))
    return _clock(ts)


def _ms(value):
    if value is None:
        return "-"
    return ("{:.2f} ms" if value < 10 else "{:.1f} ms" if value < 1000 else "{:.0f} ms").format(
        value)


def _num(value, fmt, unit=""):
    return "-" if value is None else fmt.format(value) + unit


def glyphs_for(stream):
    """Block elements if `stream` can encode them, else ASCII."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return GLYPHS_ASCII
    try:
        "".join(GLYPHS_UNICODE).encode(encoding)
    except (LookupError, UnicodeError):
        return GLYPHS_ASCII
    return GLYPHS_UNICODE


def sparkline(level_list, glyphs):
    return "".join(" " if level is None else glyphs[level] for level in level_list)


def day_lines(day, names, glyphs):
    """The sparkline block: an hour axis, one row per test point, a legend; 80 columns."""
    axis = ""
    for i, ts in enumerate(day["hours_ts"]):
        if len(axis) > i:
            continue
        hour = int(ts % 86400 // HOUR_S)
        axis += "{:02d}".format(hour) if hour % 6 == 0 and i + 2 <= HOURS else " "
    axis = axis[:HOURS].ljust(HOURS)
    out = ["{:<16} |{}| {:>6} {:>6}  {}".format("LAST 24 H (UTC)", axis, "LOSS", "DOWN",
                                               "RTT P50")]
    shown = set()
    for name in names:
        series = day["test_points"].get(name)
        if series is None or name in shown:
            continue
        shown.add(name)
        loss = series["loss_ratio_24h"]
        out.append("{:<16} |{}| {:>6} {:>6}  {}".format(
            name[:16], sparkline(series["level"], glyphs),
            "-" if loss is None else "{:.1%}".format(loss), "{} h".format(series["down_hours"]),
            _ms(series["rtt_median_ms_24h"])))
    out.append("{} 0 loss  {} <=1%  {} <=5%  {} >5%  {} down  {} errors  blank: no cycle".format(
        *glyphs))
    return out


def lines(status, now, glyphs=GLYPHS_ASCII):
    agent, cycle = status["agent"], status["last_cycle"]
    out = []
    ident = ", ".join(x for x in (agent.get("platform"), agent.get("ios_version") and
                                  "IOS XE " + agent["ios_version"]) if x)
    out.append("guestagent {} on {}{}".format(
        agent.get("version") or "?", agent.get("hostname") or "?",
        " ({})".format(ident) if ident else ""))
    started = cycle.get("started_ts")
    out.append("last cycle {} ({} ago), {}, {} device, {} of {} s, {} error(s){}".format(
        _when(started, now), _ago(cycle["age_s"]), cycle.get("trigger"), agent.get("device"),
        _num(cycle.get("duration_s"), "{:.1f}"), _num(cycle.get("deadline_s"), "{:g}"),
        len(cycle["errors"]), ", DEADLINE HIT" if cycle.get("deadline_hit") else ""))
    if status["stale"]:
        out.append("STALE: no cycle for {}: check `show event manager history events`".format(
            _ago(cycle["age_s"])))
    out.append("")
    out.append("{:<16} {:>6} {:>9} {:>8} {:>5} {:>8}  {}".format(
        "TEST POINT", "LOSS", "MEDIAN", "JITTER", "MOS", "TODAY", "OUTAGE"))
    for row in status["test_points"]:
        if row["error"]:
            values = "measurement error: " + row["error"]
            out.append("{:<16} {}".format(row["name"][:16], values))
            continue
        if row["loss_ratio"] is None:
            loss = "-"
        else:
            loss = "{:.1%}".format(row["loss_ratio"])
        outage = "-"
        if row["in_outage"]:
            since = row["outage_since_ts"]
            outage = "since {} ({})".format(_clock(since), _ago(now - since) if since else "?")
        out.append("{:<16} {:>6} {:>9} {:>8} {:>5} {:>8}  {}".format(
            row["name"][:16], loss, _ms(row["rtt_median_ms"]), _ms(row["jitter_ms"]),
            _num(row["mos_estimate"], "{:.2f}"),
            _num(None if row["availability_today"] is None else
                 row["availability_today"] * 100, "{:.2f}", "%"), outage))
    day = status.get("last_24h")
    if day:
        out.append("")
        out.extend(day_lines(day, [row["name"] for row in status["test_points"]], glyphs))
    if status["ipsla"]:
        out.append("")
        for op in status["ipsla"][:12]:
            tracks = ", ".join("track {} {}".format(t.get("id"), t.get("state"))
                               for t in op["tracks"])
            out.append("ip sla {:<4} {:<11} {:<15} {:<13} {:>8}  {}".format(
                op["id"], (op["type"] or "?")[:11], (op["target"] or "-")[:15],
                (op["return_code"] or "?")[:13], _num(op["latest_rtt_ms"], "{}", " ms"),
                tracks or (op["tag"] or "")))
        if len(status["ipsla"]) > 12:
            out.append("ip sla ... {} more".format(len(status["ipsla"]) - 12))
    out.append("")
    out.append(_location_line(status["location"]))
    for radio in status["cellular"]:
        out.append("radio {} {} {} ({}) RSRP {}dBm RSRQ {}dB SINR {}dB".format(
            radio.get("slot"), radio.get("technology") or "?",
            (radio.get("operator") or "")[:16], radio.get("registration") or "?",
            _num(radio.get("rsrp_dbm"), "{}"), _num(radio.get("rsrq_db"), "{}"),
            _num(radio.get("snr_db"), "{}")))
    out.append(_push_line(status["push"], now))
    if status.get("data"):
        out.append(_data_line(status["data"]))
    if status["push"].get("last_error") and status["push"]["failures_since_ok"]:
        out.append("  last push error: " + status["push"]["last_error"])
    for error in cycle["errors"][:4]:
        out.append("error: " + error)
    if len(cycle["errors"]) > 4:
        out.append("error: ... {} more (guestagent run -v shows them)".format(
            len(cycle["errors"]) - 4))
    return [line[:WIDTH] for line in out]


def _location_line(location):
    source = location.get("source")
    if not location or source in (None, "none"):
        return "location none{}".format(
            " ({})".format(location.get("reason")) if location.get("reason") else "")
    parts = ["location {} {:.5f}, {:.5f}".format(source, location.get("latitude") or 0.0,
                                                 location.get("longitude") or 0.0)]
    if location.get("fix"):
        parts.append("fix " + str(location["fix"]))
    if location.get("satellites") is not None:
        parts.append("{} satellites".format(location["satellites"]))
    if location.get("age_s") is not None:
        parts.append("{} old".format(_ago(location["age_s"])))
    return ", ".join(parts)


def _bytes(value):
    if value is None:
        return "?"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return "{:.1f} {}".format(value / size, unit)
    return "{} B".format(value)


def _data_line(data):
    text = "data sinks {} in {} (UTC)".format(
        "not counted yet" if data["telemetry_bytes"] is None else _bytes(data["telemetry_bytes"]),
        data["month"])
    throughput = data.get("throughput")
    if throughput:
        text += "; throughput tests {} of {} today".format(
            _bytes(throughput.get("used_bytes")), _bytes(throughput.get("budget_bytes")))
    return text


def _push_line(push, now):
    if not push["configured"]:
        return "push none configured (or none in the last {} reports)".format(
            push["reports_scanned"])
    if push["last_ok_ts"] is None:
        return "push FAILING: no success in the last {} reports; {} failure(s) today".format(
            push["reports_scanned"], push["failures_today"])
    return "push last ok {} ({} ago); {} failure(s) since, {} today".format(
        _when(push["last_ok_ts"], now), _ago(now - push["last_ok_ts"]),
        push["failures_since_ok"], push["failures_today"])


def main(args):
    import os
    from guestagent import EXIT_USAGE
    from guestagent.cli import load_config
    journal_dir = args.journal
    interval_s = None
    if journal_dir is None:
        config = load_config(args.config)
        if config is None:
            return EXIT_USAGE
        journal_dir = config.journal.dir
        interval_s = config.agent.interval_s
    now = time.time()
    history = push_history(journal_dir, now)
    glyphs = glyphs_for(sys.stdout)
    malformed = 0
    # A line shaped like a report but holding something else: show the report before it.
    for report in newest_first(journal_dir, 50):
        try:
            names = [s.get("target") for s in report.get("probes") or []]
            day = last_day(journal_dir, [n for n in names if isinstance(n, str)], now)
            status = build(report, history, now, interval_s, day, last_outcome(journal_dir))
            text = "\n".join(lines(status, now, glyphs))
            break
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            malformed += 1
    else:
        sys.stderr.write("guestagent status: no {}report in {}{}: run a cycle (`event manager "
                         "run QOE_NOW` in IOS)\n".format(
                             "readable " if malformed else "", journal_dir,
                             "" if os.path.isdir(journal_dir) else " (no such directory)"))
        return 1
    if malformed:
        status["skipped_malformed_reports"] = malformed
        text += "\n(skipped {} newer line(s) of the journal that are not readable reports)".format(
            malformed)
    if args.json:
        import json
        sys.stdout.write(json.dumps(status, indent=2, sort_keys=True, default=str) + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0
