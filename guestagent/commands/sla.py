"""`guestagent sla`: the service-quality report over a window, from the state or the journal."""

import sys

HELP = "SLA report: availability, outages, delay percentiles, loss, Fa, baselines"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def add_arguments(parser):
    from guestagent.cli import add_config_argument
    add_config_argument(parser, "its agent.state_dir and sla thresholds")
    parser.add_argument("--journal", metavar="DIR",
                        help="compute from journal files in DIR instead of the state store")
    parser.add_argument("--state-dir", metavar="DIR", help="state directory (default: from config)")
    parser.add_argument("--from", dest="from_", metavar="TIME",
                        help="window start, UTC: 2026-11-01 or 2026-11-01T08:00[:00][Z]")
    parser.add_argument("--to", metavar="TIME", help="window end, UTC (default: now)")
    parser.add_argument("--last", metavar="SPAN",
                        help="window ending now: 24h, 7d, 30d, 90m, 2w (default: 24h)")
    parser.add_argument("--target", action="append", metavar="NAME",
                        help="a test point (repeatable; default: all)")
    parser.add_argument("--group", action="append", metavar="NAME",
                        help="a group: a role, a named group or an sla.groups entry (repeatable)")
    parser.add_argument("--by", choices=("hour", "day", "week", "month"),
                        help="one row per UTC hour, day, ISO week or month")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", action="store_true", help="print CSV (one row per period)")


def parse_time(text):
    """ISO 8601 UTC date or date-time -> unix seconds; ValueError otherwise."""
    import calendar
    import time
    value = text.strip().rstrip("Z").replace(" ", "T")
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return float(calendar.timegm(time.strptime(value.split(".")[0], fmt)))
        except ValueError:
            continue
    raise ValueError("not a UTC time: {!r} (expected e.g. 2026-11-01 or 2026-11-01T08:00Z)"
                     .format(text))


def parse_span(text):
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in _UNITS:
        raise ValueError("not a span: {!r} (expected e.g. 24h, 7d, 30d)".format(text))
    number = float(text[:-1])
    if number <= 0:
        raise ValueError("a span must be > 0: {!r}".format(text))
    return number * _UNITS[text[-1]]


def window(args, now_ts):
    if args.last and (args.from_ or args.to):
        raise ValueError("give --last or --from/--to, not both")
    end = parse_time(args.to) if args.to else now_ts
    if args.from_:
        start = parse_time(args.from_)
    else:
        start = end - parse_span(args.last or "24h")
    if start >= end:
        raise ValueError("the window is empty: --from must be before --to")
    return start, end


def open_records(args, config, sla_config, interval_s, skipped, command):
    """What `sla.report.build` reads: the journal in `args.journal`, else the state store.
    Returns (records, source text, store to close or None), or None after saying why on stderr.
    `guestagent sla` and `guestagent report` read their figures alike through it."""
    import os
    from guestagent.sla import report
    if args.journal:
        if not os.path.isdir(args.journal):
            sys.stderr.write("guestagent {}: no journal directory {}\n".format(
                command, args.journal))
            return None
        records = report.records_from_journal(args.journal, sla_config, interval_s, skipped)
        return records, "journal " + args.journal, None
    from guestagent.sla import store as stores
    path = stores.path_in(args.state_dir or config.agent.state_dir)
    if not os.path.exists(path):
        sys.stderr.write("guestagent {}: no state at {} (run cycles, or `guestagent state "
                         "rebuild --journal DIR`, or use --journal)\n".format(command, path))
        return None
    try:
        # The store and the journaled reports it does not hold yet (it is written every
        # sla.commit_every reports): the figures the cycles report.
        from guestagent import sla
        store = sla.open_state(path, config.journal.dir, sla_config, interval_s)
    except Exception as exc:
        sys.stderr.write("guestagent {}: cannot open {}: {}\n".format(command, path, exc))
        return None
    return store, "state " + path, store


def main(args):
    import json
    import time
    from guestagent import EXIT_OK, EXIT_USAGE
    from guestagent.cli import load_config
    from guestagent.sla import config as sla_config_module
    from guestagent.sla import report
    config = load_config(args.config)
    if config is None:
        return EXIT_USAGE
    try:
        start, end = window(args, time.time())
    except ValueError as exc:
        sys.stderr.write("guestagent sla: {}\n".format(exc))
        return EXIT_USAGE
    sla_config = sla_config_module.section(config)
    interval_s = sla_config_module.interval_of(config)
    skipped = []
    opened = open_records(args, config, sla_config, interval_s, skipped, "sla")
    if opened is None:
        return EXIT_USAGE
    records, source, store = opened
    try:
        data = report.build(records, sla_config, interval_s, start, end, by=args.by,
                            targets=args.target, groups=args.group)
    finally:
        if store is not None:
            store.close()
    data["source"] = source
    data["skipped_lines"] = len(skipped)
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    elif args.csv:
        import csv
        writer = csv.DictWriter(sys.stdout, fieldnames=report.CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in report.csv_rows(data):
            writer.writerow(row)
    else:
        sys.stdout.write(report.table(data, source) + "\n")
        if skipped:
            sys.stdout.write("({} journal line(s) or report(s) skipped: not readable)\n".format(
                len(skipped)))
    return EXIT_OK
