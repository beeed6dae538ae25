"""`guestagent report`: the customer's SLA report for a period, as one self-contained HTML file.

The figures are `guestagent sla`'s (`guestagent/sla/report.py`, `build`), for the same period and
from the same source (the state store, or the journal with `--journal`): the whole period, and
per UTC day for the charts. The journal (`--journal`, else the config's `journal.dir` when it
exists) adds what the state does not keep: the router (hostname, serial, location) and each
cycle's fault-domain verdict, shown beside the outages.

The file makes no request when opened: inline CSS and SVG, system fonts, no script. It prints on
A4 (print CSS, page breaks between test points, tables and charts sized to the page width).

The default period is the last complete calendar month (UTC): a monthly report is handed over for
a month that is over, and a month still running would show an availability that can only change.
"""

import sys

HELP = "the customer's SLA report (a calendar month or --from/--to) as a self-contained HTML file"

DEFAULT_OBJECTIVE_PCT = 99.9


def add_arguments(parser):
    from guestagent.cli import add_config_argument
    add_config_argument(parser, "its agent.state_dir, journal.dir and sla thresholds")
    parser.add_argument("--journal", metavar="DIR", action="append",
                        help="compute from journal files in DIR instead of the state store "
                        "(with --by area: repeatable, one directory per router)")
    parser.add_argument("--state-dir", metavar="DIR", help="state directory (default: from config)")
    parser.add_argument("--month", metavar="YYYY-MM",
                        help="a calendar month, UTC (default: the last complete month)")
    parser.add_argument("--from", dest="from_", metavar="TIME",
                        help="period start, UTC: 2026-11-01 or 2026-11-01T08:00[:00][Z]")
    parser.add_argument("--to", metavar="TIME", help="period end, UTC (default: now)")
    parser.add_argument("--target", action="append", metavar="NAME",
                        help="a test point (repeatable; default: all)")
    parser.add_argument("--group", action="append", metavar="NAME",
                        help="a group: a role, a named group or an sla.groups entry (repeatable)")
    parser.add_argument("--objective", type=float, metavar="PERCENT",
                        default=DEFAULT_OBJECTIVE_PCT,
                        help="the availability target, in percent (default: %(default)s)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="HTML file to write, `-` for stdout (default: "
                        "sla-report-<period>.html)")
    parser.add_argument("--by", choices=("area",),
                        help="area: the worst areas over a fleet's journals or VictoriaMetrics "
                        "instead (docs/areas.md)")
    parser.add_argument("--victoriametrics", metavar="URL",
                        help="with --by area: read the fleet from this VictoriaMetrics")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="with --by area: a table or JSON (default: table)")
    parser.add_argument("--top", type=int, metavar="N", help="with --by area: the N worst areas")


# -- the period ------------------------------------------------------------------------------------
def month_window(text):
    """"YYYY-MM" -> (start, end) unix seconds of that UTC month; ValueError otherwise."""
    import calendar
    parts = text.strip().split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
        raise ValueError("not a month: {!r} (expected YYYY-MM, e.g. 2026-11)".format(text))
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12:
        raise ValueError("not a month: {!r} (expected YYYY-MM, e.g. 2026-11)".format(text))
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    return (float(calendar.timegm((year, month, 1, 0, 0, 0))),
            float(calendar.timegm((nxt[0], nxt[1], 1, 0, 0, 0))))


def last_complete_month(now_ts):
    import time
    tm = time.gmtime(now_ts)
    year, month = (tm.tm_year - 1, 12) if tm.tm_mon == 1 else (tm.tm_year, tm.tm_mon - 1)
    return "{:04d}-{:02d}".format(year, month)


def period(args, now_ts):
    """(start, end, label) of the report; ValueError for a bad or empty period."""
    from guestagent.commands import sla as sla_command
    if args.month and (args.from_ or args.to):
        raise ValueError("give --month or --from/--to, not both")
    if args.from_ or args.to:
        if not args.from_:
            raise ValueError("--to needs --from")
        start = sla_command.parse_time(args.from_)
        end = sla_command.parse_time(args.to) if args.to else now_ts
        if start >= end:
            raise ValueError("the period is empty: --from must be before --to")
        return start, end, "{}_{}".format(_day(start), _day(end))
    month = args.month or last_complete_month(now_ts)
    start, end = month_window(month)
    return start, end, month


# -- the command -----------------------------------------------------------------------------------
def main(args):
    import os
    import time
    from guestagent import EXIT_OK, EXIT_USAGE
    if args.by == "area":
        return _by_area(args)
    if args.journal and len(args.journal) > 1:
        sys.stderr.write("guestagent report: one --journal for a router's report (several go "
                         "with --by area)\n")
        return EXIT_USAGE
    args.journal = args.journal[0] if args.journal else None
    from guestagent.cli import load_config
    from guestagent.sla import config as sla_config_module
    from guestagent.sla import report
    config = load_config(args.config)
    if config is None:
        return EXIT_USAGE
    try:
        start, end, label = period(args, time.time())
    except ValueError as exc:
        sys.stderr.write("guestagent report: {}\n".format(exc))
        return EXIT_USAGE
    if not 0 < args.objective <= 100:
        sys.stderr.write("guestagent report: --objective must be in (0, 100], got {}\n"
                         .format(args.objective))
        return EXIT_USAGE
    sla_config = sla_config_module.section(config)
    interval_s = sla_config_module.interval_of(config)
    skipped = []
    from guestagent.commands.sla import open_records
    opened = open_records(args, config, sla_config, interval_s, skipped, "report")
    if opened is None:
        return EXIT_USAGE
    data_source, source, store = opened
    journal_dir = args.journal or (getattr(config.journal, "dir", None) if config.journal
                                   else None)
    try:
        # The same call as `guestagent sla --json` for the period, then per day for the charts.
        totals = report.build(data_source, sla_config, interval_s, start, end,
                              targets=args.target, groups=args.group)
        daily = report.build(data_source, sla_config, interval_s, start, end, by="day",
                             targets=args.target, groups=args.group)
    finally:
        if store is not None:
            store.close()
    totals["source"] = source
    totals["skipped_lines"] = len(skipped)
    context = journal_context(journal_dir, start, end) if journal_dir and \
        os.path.isdir(journal_dir) else {"journal": None, "agent": {}, "location": {},
                                         "verdicts": []}
    if not context["agent"].get("hostname"):
        context["agent"].setdefault("hostname", getattr(config.agent, "instance", None))
    document = render(totals, daily, context, sla_config, interval_s, args.objective / 100.0,
                      time.time())
    output = args.output or "sla-report-{}.html".format(label)
    if output == "-":
        sys.stdout.write(document)
        return EXIT_OK
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(document)
    except (IOError, OSError) as exc:
        sys.stderr.write("guestagent report: cannot write {}: {}\n".format(
            output, exc.strerror or exc))
        return EXIT_USAGE
    sys.stdout.write("{}: {} test point(s), {} group(s), {} .. {}\n".format(
        output, len(totals["targets"]), len(totals["groups"]), totals["from"], totals["to"]))
    return EXIT_OK


def _by_area(args):
    """The worst areas (guestagent.areas): prints them, returns the exit code."""
    from guestagent import areas
    return areas.report_rows(args)


def journal_context(journal_dir, start, end):
    """From the journal: the router as its newest report in the period says (else the newest at
    all), its newest location fix there, and each cycle's fault-domain verdict [(ts, verdict)]."""
    from guestagent.sinks import journal
    agent, location, verdicts = {}, {}, []
    newest_agent = None
    for document in journal.read(journal_dir):
        cycle = document.get("cycle")
        ts = cycle.get("started_ts") if isinstance(cycle, dict) else None
        if not isinstance(ts, (int, float)):
            continue
        if isinstance(document.get("agent"), dict):
            newest_agent = document["agent"]
            if start <= ts < end:
                agent = document["agent"]
        if not start - 86400 * 31 <= ts < end:
            continue
        if start <= ts < end:
            where = document.get("location")
            if isinstance(where, dict) and where.get("latitude") is not None:
                location = where
        isolation = document.get("isolation")
        if isinstance(isolation, dict) and isolation.get("verdict"):
            verdicts.append((float(ts), str(isolation["verdict"])))
    verdicts.sort()
    return {"journal": journal_dir, "agent": dict(agent or newest_agent or {}),
            "location": location, "verdicts": verdicts}


def outage_verdict(verdicts, outage, end_ts):
    """The fault domain the cycles named during an outage: the most frequent one other than
    healthy/unknown, with its count; None when the journal has no verdict for that time."""
    import bisect
    until = outage["end_ts"] if outage["end_ts"] is not None else end_ts
    lo = bisect.bisect_left(verdicts, (outage["start_ts"],))
    hi = max(lo + 1, bisect.bisect_left(verdicts, (until,)))  # zero length: its own cycle
    named = [v for _, v in verdicts[lo:hi]]
    if not named:
        return None
    faults = [v for v in named if v not in ("healthy", "unknown")] or named
    best = max(sorted(set(faults)), key=faults.count)
    return {"verdict": best, "cycles": faults.count(best), "of": len(named)}


# -- rendering -------------------------------------------------------------------------------------
DEFINITIONS = (
    ("Sample", "one probe of one test point in one cycle (ICMP: 10 echoes). A sample the agent "
     "could not take (no ping, deadline, permission) is a measurement error: left out of every "
     "figure, never counted as loss."),
    ("Available", "a sample with loss_ratio &le; loss_max and median delay &le; rtt_max_ms; a "
     "sample with no reply is unavailable."),
    ("Availability", "available time / known time. Each sample stands for the time to the next "
     "sample of its test point, at most 2 &times; the cycle interval; time not covered is "
     "unknown and in neither sum."),
    ("Group", "available while every known member is (mode all), or while one is (mode any)."),
    ("Outage", "starts at the first unavailable sample of a run lasting &ge; outage_min_s; ends "
     "at the first available sample of a run lasting &ge; restore_min_s. Duration = end "
     "&minus; start; an outage still open at the period's end shows its duration so far."),
    ("Time between outages", "start(k) &minus; start(k&minus;1) of consecutive outages that "
     "began in the period; MTBO is their mean."),
    ("Fault domain", "per cycle, walking outward: local (first hop bad), access (ISP edge bad), "
     "beyond-isp (targets bad), dns-only (a resolver bad); the outage shows the domain its "
     "cycles named most."),
    ("Delay", "a sample's median round-trip (DNS: response) time; P50/P95/P99 are nearest-rank "
     "percentiles of the samples' medians, never a mean of means."),
    ("Loss", "lost / sent packets (DNS: queries) over the period's samples."),
    ("Baseline", "over the trailing baseline window of valid samples: B = median, S = Q3 "
     "&minus; Q1, at least max(spread floor, 10% of B). Learning until the window holds "
     "baseline_min_samples."),
    ("Fa", "Nb / N: the share of the period's valid samples within baseline, |V &minus; B| / S "
     "&le; T."),
)

CSS = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
html { background: #fff; }
body { font: 10pt/1.35 "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif;
  color: #1d2430; margin: 0 auto; padding: 8px; max-width: 186mm; }
h1 { font-size: 17pt; margin: 0 0 2px; }
h2 { font-size: 13pt; margin: 18px 0 6px; border-bottom: 2px solid #1d4e89; padding-bottom: 2px; }
h3 { font-size: 11pt; margin: 10px 0 4px; }
p, dl { margin: 4px 0; }
.sub { color: #566; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; margin: 4px 0 8px; }
th, td { padding: 2px 4px; border-bottom: 1px solid #d5dae1; text-align: right;
  overflow-wrap: break-word; word-wrap: break-word; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; font-size: 9pt; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
table.kv th { text-align: left; }
#router th { width: 22%; }
table.kv td { text-align: left; }
.ok { color: #0b6b2f; font-weight: 600; }
.miss { color: #b3261e; font-weight: 600; }
.muted { color: #778; }
section.entity { break-inside: avoid; page-break-inside: avoid; }
.charts { display: flex; flex-wrap: wrap; gap: 4mm; }
.chart { flex: 1 1 80mm; min-width: 0; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .title { font-size: 8.5pt; color: #445; margin: 2px 0; }
dl.defs dt { font-weight: 600; margin-top: 4px; }
dl.defs dd { margin: 0 0 0 4mm; }
.page { break-before: page; page-break-before: always; }
@media print { body { padding: 0; max-width: none; } h2 { break-after: avoid; } }
"""


def _esc(value):
    import html
    return html.escape("-" if value is None else str(value), quote=True)


def _day(ts):
    import time
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _iso(ts):
    import time
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def pct(ratio, digits=3):
    """A ratio as the report prints it (the same digits as `guestagent sla`'s table)."""
    from guestagent.sla import report
    return report._pct_text(ratio, digits)


def _avail_cell(summary, objective):
    ratio = summary["availability"]
    if ratio is None:
        return '<td class="avail muted" data-availability="">-</td>'
    css = "ok" if ratio >= objective else "miss"
    return '<td class="avail {}" data-availability="{!r}">{} %</td>'.format(css, ratio, pct(ratio))


def _met(summary, objective):
    ratio = summary["availability"]
    if ratio is None:
        return '<td class="muted">no data</td>'
    if ratio >= objective:
        return '<td class="ok">met</td>'
    return '<td class="miss">missed</td>'


def render(totals, daily, context, sla_config, interval_s, objective, now_ts):
    """The whole HTML document."""
    from guestagent import __version__
    from guestagent.sla import report
    duration = report.duration
    daily_by = dict((("target", e["name"]), e) for e in daily["targets"])
    daily_by.update((("group", e["name"]), e) for e in daily["groups"])
    entities = [("target", e) for e in totals["targets"]] + \
        [("group", e) for e in totals["groups"]]
    agent, location = context["agent"], context["location"]
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>SLA report {} {} .. {}</title>".format(
               _esc(agent.get("hostname")), _esc(_day(totals["from_ts"])),
               _esc(_day(totals["to_ts"]))),
           "<style>{}</style></head><body>".format(CSS)]
    out.append("<h1>Service level report</h1>")
    out.append('<p class="sub">{} &ndash; {} (UTC, end excluded) &middot; availability target '
               '{} %</p>'.format(_esc(_iso(totals["from_ts"])), _esc(_iso(totals["to_ts"])),
                                 _esc("{:g}".format(100 * objective))))
    out.append('<table class="kv" id="router">')
    rows = [("Router", agent.get("hostname")), ("Serial", agent.get("serial")),
            ("Platform", " ".join(str(agent[k]) for k in ("platform", "ios_version")
                                  if agent.get(k)) or None)]
    if location.get("latitude") is not None:
        where = "{:.5f}, {:.5f}".format(location["latitude"], location.get("longitude") or 0.0)
        if location.get("source"):
            where += " ({})".format(location["source"])
        rows.append(("Location", where))
    else:
        rows.append(("Location", "no fix in the period"))
    rows += [("Source", totals["source"]), ("Generated", "{} UTC by guestagent {}".format(
        _iso(now_ts), __version__))]
    for key, value in rows:
        out.append("<tr><th>{}</th><td>{}</td></tr>".format(_esc(key), _esc(value)))
    out.append("</table>")
    if totals.get("missing"):
        out.append("<p>No samples for: {}</p>".format(_esc(", ".join(totals["missing"]))))

    out.append("<h2>Summary</h2>")
    if not entities:
        out.append("<p>No test points with samples in this period.</p>")
    else:
        out.append('<table id="summary"><colgroup><col style="width:24%"><col style="width:15%">'
                   '<col style="width:9%"><col style="width:10%"><col style="width:10%">'
                   '<col style="width:11%"><col style="width:11%"><col style="width:10%">'
                   '</colgroup><tr><th>Test point / group</th><th>Availability</th>'
                   '<th>Target</th><th>Known</th><th>Outages</th><th>Down</th><th>Longest</th>'
                   '<th>MTBO</th></tr>')
        for kind, entry in entities:
            s = entry["periods"][0]
            out.append('<tr class="row" data-entity="{}" data-type="{}" data-availability="{}" '
                       'data-outages="{}" data-outage-total-s="{!r}"><td>{}</td>{}{}<td>{}</td>'
                       '<td class="count">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>'.format(
                           _esc(entry["name"]), kind, "" if s["availability"] is None else
                           repr(s["availability"]), s["outages"]["count"],
                           s["outages"]["total_s"], _esc(_label(kind, entry)),
                           _avail_cell(s, objective), _met(s, objective),
                           duration(s["known_s"]), s["outages"]["count"],
                           duration(s["outages"]["total_s"]),
                           duration(s["outages"]["longest_s"]),
                           duration(s["mean_time_between_outages_s"])))
        out.append("</table>")

    for index, (kind, entry) in enumerate(entities):
        out.append(_entity(kind, entry, daily_by.get((kind, entry["name"])), context,
                           totals["to_ts"], objective, first=index == 0))

    out.append('<h2 class="page">How each figure is defined</h2>')
    out.append('<p>From the agent\'s metric definitions (docs/metrics.md). Thresholds in force: '
               'loss_max {}, rtt_max_ms {}, outage_min_s {}, restore_min_s {}, baseline window '
               '{} days, T = {}; cycle interval {} s.</p>'.format(*[_esc("{:g}".format(v)) for v in (
                   sla_config["loss_max"], sla_config["rtt_max_ms"], sla_config["outage_min_s"],
                   sla_config["restore_min_s"], sla_config["baseline_window_days"],
                   sla_config["threshold_t"], interval_s)]))
    out.append('<dl class="defs">')
    for term, text in DEFINITIONS:
        out.append("<dt>{}</dt><dd>{}</dd>".format(term, text))
    out.append("</dl>")
    if context["journal"] is None:
        out.append('<p class="muted">No journal was read: fault-domain verdicts and the router\'s '
                   'serial and location are not shown.</p>')
    out.append("</body></html>\n")
    return "\n".join(out)


def _label(kind, entry):
    if kind == "target":
        return "{} ({})".format(entry["name"], entry["role"])
    return "group {} ({})".format(entry["name"], entry["mode"])


def _entity(kind, entry, daily, context, end_ts, objective, first):
    from guestagent.sla import report
    duration = report.duration
    s = entry["periods"][0]
    metric = report._primary(entry["kind"])[0] if kind == "target" else "delay_ms"
    out = ['<section class="entity" data-entity="{}" data-type="{}">'.format(
        _esc(entry["name"]), kind)]
    if first:
        out.append("<h2>Test points and groups</h2>")
    out.append("<h3>{}</h3>".format(_esc(_label(kind, entry))))
    if kind == "group":
        out.append('<p class="sub">members: {}</p>'.format(_esc(", ".join(entry["members"]))))
    fa = s["fa"].get(metric) or {}
    base = (s["baseline"] or {}).get(metric) or {}
    base_text = "-" if not base else "{} / {} ms{}".format(
        report._ms(base.get("B")), report._ms(base.get("S")),
        " (learning)" if base.get("learning") else "")
    pairs = [
        ("Availability", None), ("Delay P50 / P95 / P99", "{} / {} / {} ms".format(
            report._ms(s["delay_ms"]["p50"]), report._ms(s["delay_ms"]["p95"]),
            report._ms(s["delay_ms"]["p99"]))),
        ("Known time", duration(s["known_s"])), ("Loss", "{} %".format(pct(s["loss_ratio"], 2))),
        ("Outages / down", "{} / {}".format(s["outages"]["count"],
                                            duration(s["outages"]["total_s"]))),
        ("Fa (delay)", "-" if fa.get("fa") is None else "{} % of {} samples".format(
            pct(fa["fa"], 1), fa["n"])),
        ("Mean time between outages", duration(s["mean_time_between_outages_s"])),
        ("Baseline B / S (delay)", base_text),
    ]
    out.append('<table class="kv figures"><colgroup><col style="width:22%">'
               '<col style="width:24%"><col style="width:24%"><col style="width:30%">'
               '</colgroup>')
    for i in range(0, len(pairs), 2):
        cells = []
        for key, value in pairs[i:i + 2]:
            cells.append("<th>{}</th>{}".format(
                _esc(key), _avail_cell(s, objective) if value is None else
                "<td>{}</td>".format(_esc(value))))
        out.append("<tr>{}</tr>".format("".join(cells)))
    out.append("</table>")
    if kind == "target" and len(s["baseline"] or {}) > 1:
        others = []
        for name in sorted(s["baseline"]):
            if name == metric or not s["baseline"][name]:
                continue
            b = s["baseline"][name]
            f = (s["fa"].get(name) or {}).get("fa")
            unit = "" if "ratio" in name else " ms"
            value = (lambda v: "{:.4f}".format(v)) if "ratio" in name else report._ms
            others.append("{}: B {}{} S {}{}, Fa {}".format(
                name, value(b["B"]), unit, value(b["S"]), unit,
                "-" if f is None else pct(f, 1) + " %"))
        out.append('<p class="sub">{}</p>'.format(_esc("; ".join(others))))
    outages = s["outages"]["list"]
    if outages:
        between = [None] + report.engine.time_between_outages(outages)
        listed = list(zip(outages, between))
        if len(listed) > MAX_OUTAGES_LISTED:  # the longest ones, in time order
            longest = sorted(range(len(listed)), key=lambda i: -_length_s(outages[i]))
            keep = set(longest[:MAX_OUTAGES_LISTED])
            rest = [outages[i] for i in longest[MAX_OUTAGES_LISTED:]]
            listed = [item for i, item in enumerate(listed) if i in keep]
        out.append('<table class="outages"><colgroup><col style="width:30%">'
                   '<col style="width:22%"><col style="width:22%"><col style="width:26%">'
                   '</colgroup><tr><th>Outage start (UTC)</th><th>Duration</th>'
                   '<th>Since previous</th><th class="text">Fault domain</th></tr>')
        for outage, gap in listed:
            if outage["end_ts"] is None:
                length = "open, {} so far".format(duration(outage.get("duration_so_far_s")))
                seconds = outage.get("duration_so_far_s")
            else:
                length = duration(outage["duration_s"])
                seconds = outage["duration_s"]
            verdict = outage_verdict(context["verdicts"], outage, end_ts)
            verdict_text = "-" if verdict is None else "{} ({} of {} cycles)".format(
                verdict["verdict"], verdict["cycles"], verdict["of"])
            out.append('<tr class="outage" data-start-ts="{!r}" data-duration-s="{!r}"><td>{}'
                       '</td><td>{}</td><td>{}</td><td class="text verdict">{}</td></tr>'.format(
                           outage["start_ts"], seconds, _esc(_iso(outage["start_ts"])),
                           _esc(length), duration(gap), _esc(verdict_text)))
        out.append("</table>")
        if len(listed) < len(outages):
            out.append('<p class="sub more-outages" data-not-listed="{}">{} shorter outage(s) not '
                       'listed, each {} or less, {} in all (`guestagent sla --json` lists every '
                       'one).</p>'.format(len(rest), len(rest), duration(_length_s(rest[0])),
                                          duration(sum(o["in_window_s"] for o in rest))))
    else:
        out.append('<p class="sub">No outage in the period.</p>')
    if daily:
        days = daily["periods"]
        labels = [d["period"] for d in days]
        loss = [None if d["loss_ratio"] is None else 100.0 * d["loss_ratio"] for d in days]
        p50 = [d["delay_ms"]["p50"] for d in days]
        p95 = [d["delay_ms"]["p95"] for d in days]
        out.append('<div class="charts">')
        out.append('<div class="chart"><div class="title">Loss per day (%)</div>{}</div>'.format(
            bar_chart(labels, loss, "loss")))
        out.append('<div class="chart"><div class="title">Delay per day (ms): P50 solid, P95 '
                   'dashed{}</div>{}</div>'.format(
                       ", baseline B dotted" if base.get("B") is not None else "",
                       line_chart(labels, [(p50, ""), (p95, "6 3")], "delay",
                                  base.get("B"))))
        out.append("</div>")
    out.append("</section>")
    return "\n".join(out)


# An entity's outage list on paper: its longest outages; the others are summed up below it.
MAX_OUTAGES_LISTED = 25


def _length_s(outage):
    return outage.get("duration_s", outage.get("duration_so_far_s")) or 0.0


# -- inline SVG charts -----------------------------------------------------------------------------
CHART_W, CHART_H = 340.0, 130.0
PAD_L, PAD_R, PAD_T, PAD_B = 34.0, 6.0, 6.0, 18.0


def _scale_top(values):
    """A round upper bound for the y axis."""
    top = max([v for v in values if v is not None] or [0.0])
    if top <= 0:
        return 1.0
    import math
    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _frame(labels, top, metric):
    inner_w, inner_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    parts = ['<svg class="chart-{}" viewBox="0 0 {:g} {:g}" '
             'role="img" font-size="8" font-family="sans-serif">'.format(metric, CHART_W,
                                                                         CHART_H)]
    for i in range(5):
        y = PAD_T + inner_h * i / 4.0
        parts.append('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#dde2e8" '
                     'stroke-width="0.6"/>'.format(PAD_L, y, CHART_W - PAD_R, y))
        parts.append('<text x="{:.1f}" y="{:.1f}" text-anchor="end" fill="#556">{:g}</text>'
                     .format(PAD_L - 3, y + 3, round(top * (4 - i) / 4.0, 3)))
    n = len(labels)
    step = max(1, int(round(n / 6.0)))
    for i in range(0, n, step):
        x = PAD_L + inner_w * (i + 0.5) / max(n, 1)
        parts.append('<text x="{:.1f}" y="{:.1f}" text-anchor="middle" fill="#556">{}</text>'
                     .format(x, CHART_H - 5, _esc(labels[i][5:])))
    return parts, inner_w, inner_h


def bar_chart(labels, values, metric):
    top = _scale_top(values)
    parts, inner_w, inner_h = _frame(labels, top, metric)
    width = inner_w / max(len(values), 1)
    for i, value in enumerate(values):
        if value is None:
            continue
        h = inner_h * min(value, top) / top
        parts.append('<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" '
                     'fill="#c0392b"><title>{} {:.2f} %</title></rect>'.format(
                         PAD_L + i * width + width * 0.15, PAD_T + inner_h - h,
                         max(width * 0.7, 0.5), h, _esc(labels[i]), value))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(labels, series, metric, reference=None):
    values = [v for values, _ in series for v in values]
    top = _scale_top(values + ([reference] if reference is not None else []))
    parts, inner_w, inner_h = _frame(labels, top, metric)
    n = max(len(labels), 1)

    def xy(i, value):
        return (PAD_L + inner_w * (i + 0.5) / n, PAD_T + inner_h - inner_h * min(value, top) / top)

    if reference is not None:
        y = xy(0, reference)[1]
        parts.append('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#888" '
                     'stroke-dasharray="1 2"/>'.format(PAD_L, y, CHART_W - PAD_R, y))
    for values, dash in series:
        runs, run = [], []
        for i, value in enumerate(values):  # a day without samples breaks the line
            if value is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(xy(i, value))
        if run:
            runs.append(run)
        for run in runs:
            points = " ".join("{:.1f},{:.1f}".format(x, y) for x, y in run)
            if len(run) == 1:
                parts.append('<circle cx="{:.1f}" cy="{:.1f}" r="1.5" fill="#1d4e89"/>'.format(
                    *run[0]))
            else:
                parts.append('<polyline class="line" points="{}" fill="none" stroke="#1d4e89" '
                             'stroke-width="1.2"{}/>'.format(
                                 points, ' stroke-dasharray="{}"'.format(dash) if dash else ""))
    parts.append("</svg>")
    return "".join(parts)
