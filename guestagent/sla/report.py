"""The SLA report over a time window, from the state store or from journal files.

Used by `guestagent sla`; returns plain data that the command renders as a table, JSON or CSV.
"""

import time

from guestagent.sla import config as sla_config_module
from guestagent.sla import engine


def records_from_journal(journal_dir, sla_config, interval_s, skipped=None):
    """{target: records in journal order} with verdicts computed as the cycles would have."""
    from guestagent.sinks import journal
    from guestagent.sla import apply
    by_target = {}
    seen = set()
    for report in journal.read(journal_dir, skipped):
        cycle = report.get("cycle") if isinstance(report, dict) else None
        if not isinstance(cycle, dict) or cycle.get("started_ts") is None:
            if skipped is not None:
                skipped.append("report without cycle.started_ts")
            continue
        if cycle.get("id") in seen:
            continue
        seen.add(cycle.get("id"))
        try:
            records = apply.records_of(report, sla_config, interval_s)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            if skipped is not None:
                skipped.append("cycle {}: {}: {}".format(cycle.get("id"), type(exc).__name__,
                                                         exc))
            continue
        for record, _ in records:
            by_target.setdefault(record["target"], []).append(record)
    for target, records in by_target.items():
        engine.verdicts(records, sla_config_module.effective(sla_config, interval_s, target))
    return by_target


def records_from_store(store, until_ts=None):
    """{target: all its records} from the store (tests; the command loads point by point)."""
    by_target = {}
    for point in store.points():
        records = store.records(point, None, until_ts)
        if records:
            by_target[point["name"]] = records
    return by_target


class MemorySource(object):
    """Records already in memory (the journal's): outages are computed from them."""

    def __init__(self, by_target):
        self.by_target = by_target

    def meta(self):
        return dict((name, {"role": recs[-1]["role"], "groups": recs[-1]["groups"],
                            "kind": recs[-1]["kind"]})
                    for name, recs in self.by_target.items() if recs)

    def records(self, name, since_ts, until_ts):
        return self.by_target.get(name) or []

    def outages(self, name, records, cfg, end_ts):
        return engine.outages(records, cfg["outage_min_s"], cfg["restore_min_s"], end_ts)

    def extent(self, name):
        """(first, last) sample time of a test point, or (None, None)."""
        records = self.by_target.get(name) or []
        if not records:
            return None, None
        return min(r["ts"] for r in records), max(r["ts"] for r in records)


class StoreSource(object):
    """The state store, read one test point at a time (a quarter of 5-minute samples for ten
    test points would not fit the Guest Shell's memory at once). Outages come from the store's
    outage table: as the cycles detected them, including those that began before the samples
    loaded."""

    def __init__(self, store):
        self.store = store
        self.points = dict((p["name"], p) for p in store.points())

    def meta(self):
        return dict((name, {"role": p["role"], "groups": p["groups"], "kind": p["kind"]})
                    for name, p in self.points.items())

    def records(self, name, since_ts, until_ts):
        return self.store.records(self.points[name], since_ts, until_ts)

    def extent(self, name):
        """(first, last) sample time of a test point, or (None, None)."""
        return self.store.extent(self.points[name]["id"])

    def outages(self, name, records, cfg, end_ts):
        out = []
        for row in self.store.outages(self.points[name]["id"]):
            if end_ts is not None and row["start_ts"] >= end_ts:
                continue
            outage = {"start_ts": row["start_ts"], "end_ts": row["end_ts"]}
            if row["end_ts"] is not None:  # its real end, even after the window
                outage["duration_s"] = max(0.0, row["end_ts"] - row["start_ts"])
            else:
                until = end_ts if end_ts is not None else (records[-1]["ts"] if records
                                                           else row["start_ts"])
                outage["duration_so_far_s"] = max(0.0, until - row["start_ts"])
            out.append(outage)
        return out


def source_of(data):
    """A source from a store, or from {target: records}."""
    if isinstance(data, dict):
        return MemorySource(data)
    if isinstance(data, (MemorySource, StoreSource)):
        return data
    return StoreSource(data)


def select(meta, sla_config, targets=None, groups=None):
    """(target names, {group name: (mode, members)}) chosen by --target/--group (all: none given)."""
    from guestagent.sla import apply
    all_groups = apply.group_members(sla_config, meta)
    if not targets and not groups:
        return sorted(meta), all_groups
    chosen_targets = [t for t in (targets or []) if t in meta]
    chosen_groups = {}
    for name in groups or []:
        for key in (name, "role:" + name):
            if key in all_groups:
                chosen_groups[key] = all_groups[key]
                break
    return chosen_targets, chosen_groups


def build(data, sla_config, interval_s, start_ts, end_ts, by=None, targets=None,
          groups=None):
    """The report: {"from", "to", "by", "targets": [...], "groups": [...], "missing": [...]}.

    `data`: a Store, or {target: records} (the journal's)."""
    source = source_of(data)
    meta = source.meta()
    names, chosen_groups = select(meta, sla_config, targets, groups)
    periods = engine.buckets(start_ts, end_ts, by) if by else [(None, start_ts, end_ts)]
    out = {"from_ts": start_ts, "to_ts": end_ts, "from": _iso(start_ts), "to": _iso(end_ts),
           "by": by, "interval_s": interval_s, "targets": [], "groups": [],
           "missing": sorted(set(targets or []) - set(meta))}
    for name in names:
        cfg = sla_config_module.effective(sla_config, interval_s, name)
        window_s = cfg["baseline_window_days"] * 86400.0
        # what can matter: the window and a baseline window (plus a day) before it
        records = source.records(name, start_ts - window_s - 86400.0, end_ts)
        history = source.outages(name, records, cfg, end_ts)
        entry = {"name": name, "role": meta[name]["role"], "kind": meta[name]["kind"],
                 "periods": []}
        running_max = engine.running_max_ts(records)
        ends = [hi for _, _, hi in periods]
        baselines = dict((metric, engine.baselines_at(records, column, ends,
                                                      engine.Thresholds(column, cfg)))
                         for metric, column in engine.metrics_of(meta[name]["kind"]))
        for index, (label, lo, hi) in enumerate(periods):
            summary = engine.summarize(
                engine.slice_window(records, running_max, lo, hi, 2 * interval_s), interval_s,
                cfg, lo, hi, history=history,
                baselines=dict((metric, values[index]) for metric, values in baselines.items()))
            summary["period"] = label
            entry["periods"].append(summary)
        out["targets"].append(entry)
    for name, (mode, members) in sorted(chosen_groups.items()):
        out["groups"].append(_group(source, name, mode, members, meta, sla_config, interval_s,
                                    start_ts, end_ts, periods))
    return out


def _group(source, name, mode, members, meta, sla_config, interval_s, start_ts, end_ts,
           periods):
    """A group's entry; members are read one at a time and reduced to their time intervals and
    pooled values, so a group of many test points over months stays small in memory.

    A group has no outage table of its own: its outages come from its members' samples. The
    samples read reach back before the window (and on after it) as far as the group's state at
    the edge of what was read is still an outage, so an outage that began days before the
    window has its real start and its real end, as a member's has."""
    group_cfg = (sla_config.get("groups") or {}).get(name) or {}
    outage_min_s = _first(group_cfg.get("outage_min_s"), sla_config["outage_min_s"])
    restore_min_s = _first(group_cfg.get("restore_min_s"), sla_config["restore_min_s"])
    present = [m for m in members if m in meta]
    extents = [source.extent(m) for m in present]
    first_ts = min((e[0] for e in extents if e[0] is not None), default=None)
    last_ts = max((e[1] for e in extents if e[1] is not None), default=None)
    read_from, read_to = start_ts - 86400.0, end_ts
    step_s = 86400.0
    while True:
        segments, pooled = _group_timeline(source, present, mode, interval_s, read_from,
                                           read_to, start_ts, end_ts, periods)
        history = engine.outages(engine.group_records(segments), outage_min_s, restore_min_s,
                                 end_ts)
        # Earlier samples can matter unless the group was up long enough (restore_min_s) at the
        # start of what was read; later ones while an outage is still open at its end.
        settled = bool(segments) and segments[0][2] and \
            segments[0][1] - segments[0][0] >= restore_min_s and segments[0][0] > read_from
        earlier = not settled and first_ts is not None and first_ts < read_from
        later = bool(history) and history[-1]["end_ts"] is None and last_ts is not None \
            and last_ts >= read_to
        if not earlier and not later:
            break
        step_s *= 2
        if earlier:
            read_from -= step_s
        if later:
            read_to += step_s
    entry = {"name": name, "mode": mode, "members": members, "periods": []}
    for (label, lo, hi), acc in zip(periods, pooled):
        entry["periods"].append(_group_period(segments, history, acc, label, lo, hi))
    return entry


def _group_timeline(source, members, mode, interval_s, read_from, read_to, start_ts, end_ts,
                    periods):
    """The group's segments from its members' samples in [read_from, read_to), and per period
    the members' values pooled over [start_ts, end_ts)."""
    import bisect
    starts = [lo for _, lo, _ in periods]
    pooled = [{"delays": [], "sent": 0, "received": 0, "n": 0, "nb": 0, "samples": 0,
               "errors": 0} for _ in periods]
    intervals = []
    for member in members:
        records = source.records(member, read_from, read_to)
        intervals.extend(engine.member_intervals(
            [r for r in records if r["ts"] < read_to], interval_s, None, read_to))
        for record in records:
            if not start_ts <= record["ts"] < end_ts:
                continue
            acc = pooled[bisect.bisect_right(starts, record["ts"]) - 1]
            if record["error"]:
                acc["errors"] += 1
                continue
            acc["samples"] += 1
            if record["values"].get("delay_ms") is not None:
                acc["delays"].append(record["values"]["delay_ms"])
            if record["sent"]:
                acc["sent"] += record["sent"]
                acc["received"] += record["received"] or 0
            verdict = (record.get("within") or {}).get("delay_ms")
            if verdict is not None:
                acc["n"] += 1
                acc["nb"] += 1 if verdict else 0
        del records
    return engine.segments_of(intervals, mode), pooled


def _first(*values):
    for value in values:
        if value is not None:
            return value
    return None


def _group_period(segments, history, acc, label, lo, hi):
    inside = [(max(s, lo), min(e, hi), up) for s, e, up in segments if e > lo and s < hi]
    avail = engine.group_availability(inside)
    clipped = engine.clip_outages(history, lo, hi)
    between = engine.time_between_outages([o for o in clipped if o["start_ts"] >= lo])
    delays, sent, received, n, nb = (acc["delays"], acc["sent"], acc["received"], acc["n"],
                                     acc["nb"])
    # Performance pooled over the members' samples (never a mean of the members' means).
    return {
        "period": label, "availability": avail["availability"], "known_s": avail["known_s"],
        "available_s": avail["available_s"], "samples": acc["samples"],
        "errors": acc["errors"],
        "outages": {"count": len(clipped), "total_s": sum(o["in_window_s"] for o in clipped),
                    "longest_s": max([o.get("duration_s", o.get("duration_so_far_s")) or 0
                                      for o in clipped]) if clipped else None,
                    "list": clipped},
        "mean_time_between_outages_s": (sum(between) / len(between)) if between else None,
        "delay_ms": {"p50": engine._pct(delays, 50), "p95": engine._pct(delays, 95),
                     "p99": engine._pct(delays, 99)},
        "loss_ratio": ((sent - received) / float(sent)) if sent else None,
        "fa": {"delay_ms": {"n": n, "nb": nb, "fa": (nb / float(n)) if n else None}},
        "baseline": {},
    }


def _iso(ts):
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# -- rendering -------------------------------------------------------------------------------------
def duration(seconds):
    """Compact duration for the table: 45s, 12m, 3h05m, 2d04h."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return "{}s".format(seconds)
    if seconds < 3600:
        return "{}m{:02d}s".format(seconds // 60, seconds % 60) if seconds < 600 else \
            "{}m".format(seconds // 60)
    if seconds < 86400:
        return "{}h{:02d}m".format(seconds // 3600, seconds % 3600 // 60)
    return "{}d{:02d}h".format(seconds // 86400, seconds % 86400 // 3600)


def _pct_text(ratio, digits=3):
    return "-" if ratio is None else "{:.{}f}".format(100.0 * ratio, digits)


def _ms(value):
    if value is None:
        return "-"
    return "{:.1f}".format(value) if value < 1000 else "{:.0f}".format(value)


def _primary(kind):
    return engine.metrics_of(kind)[0]


def rows(data):
    """(entity label, period label, summary, primary metric name) for every entity and period."""
    out = []
    for entry in data["targets"]:
        metric, _ = _primary(entry["kind"])
        for summary in entry["periods"]:
            out.append(("{} ({})".format(entry["name"], entry["role"]), summary["period"],
                        summary, metric))
    for entry in data["groups"]:
        for summary in entry["periods"]:
            out.append(("group {} ({})".format(entry["name"], entry["mode"]), summary["period"],
                        summary, "delay_ms"))
    return out


def table(data, source):
    """The report on 80 columns: availability/outages, then performance, then the outage list."""
    lines = ["SLA report {} .. {}".format(data["from"], data["to"]),
             "from " + (source if len(source) <= 75 else "..." + source[-72:])]
    if data["missing"]:
        lines.append("no samples for: " + ", ".join(data["missing"]))
    entries = rows(data)
    if not entries:
        lines.append("no test points with samples in this window")
        return "\n".join(lines)
    by = data["by"]
    if by:
        # An hour (day, ...) without a single sample says nothing: only the count is shown.
        shown = [e for e in entries if not _empty(e[2])]
        dropped = len(entries) - len(shown)
        silent = [e for e in _entities(entries) if e not in set(_entities(shown))]
        entries = shown
    label_column = "PERIOD" if by else "TEST POINT"

    def label_of(entity, period):
        return (period or "") if by else entity

    def headings(entity, last_entity):
        """An entity's heading line(s) in --by tables, where the rows are its periods."""
        if not by or entity == last_entity:
            return []
        return [entity]

    avail_rest = "{:>8} {:>7} {:>7} {:>8} {:>8} {:>8}"
    perf_rest = "{:>7} {:>7} {:>7} {:>7} {:>7} {:>13}"
    # one label column for both tables, so that they read as one
    width = _label_width([label_of(e, p) for e, p, _, _ in entries], label_column,
                         max(len(rest.format(*[""] * 6)) for rest in (avail_rest, perf_rest)))
    lines += ["", "Availability and outages",
              "{:<{}} ".format(label_column, width) + avail_rest.format(
                  "AVAIL%", "KNOWN", "OUTAGES", "DOWN", "LONGEST", "MTBO")]
    last = None
    for entity, period, s, _ in entries:
        lines += headings(entity, last)
        last = entity
        lines += _fitted(label_of(entity, period), width, avail_rest.format(
            _pct_text(s["availability"]), duration(s["known_s"]), s["outages"]["count"],
            duration(s["outages"]["total_s"]), duration(s["outages"]["longest_s"]),
            duration(s["mean_time_between_outages_s"])))
    if by:
        lines += _silent_lines(silent, dropped, by)
    lines += ["", "Performance (delay: per-sample medians, ms; Fa and baseline of the delay)",
              "{:<{}} ".format(label_column, width) + perf_rest.format(
                  "P50", "P95", "P99", "LOSS%", "FA%", "BASELINE B/S")]
    last = None
    for entity, period, s, metric in entries:
        lines += headings(entity, last)
        last = entity
        column = "delay_ms"
        fa = (s["fa"].get(metric) or s["fa"].get(column) or {}).get("fa")
        base = s["baseline"].get(metric) if s["baseline"] else None
        base_text = "-" if not base else "{}/{}{}".format(_ms(base["B"]), _ms(base["S"]),
                                                          "*" if base["learning"] else "")
        lines += _fitted(label_of(entity, period), width, perf_rest.format(
            _ms(s["delay_ms"]["p50"]), _ms(s["delay_ms"]["p95"]), _ms(s["delay_ms"]["p99"]),
            _pct_text(s["loss_ratio"], 2), _pct_text(fa, 1), base_text))
    if any(((s["baseline"] or {}).get(metric) or {}).get("learning")
           for _, _, s, metric in entries):
        lines.append("(* baseline still learning: no within-baseline verdicts yet)")
    outages = []
    seen = set()
    for entity, _, s, _ in entries:
        for o in s["outages"]["list"]:
            key = (entity, o["start_ts"])
            if key not in seen:
                seen.add(key)
                outages.append((entity, o))
    if outages:
        # the widest duration text is "open, 12d04h so far"
        width = _label_width([entity for entity, _ in outages], "TEST POINT", 20 + 1 + 19, 36)
        lines += ["", "Outages", "{:<{}} {:<20} {}".format("TEST POINT", width, "START (UTC)",
                                                           "DURATION")]
        for entity, o in sorted(outages, key=lambda item: item[1]["start_ts"]):
            if o["end_ts"] is None:
                length = "open, {} so far".format(duration(o.get("duration_so_far_s")))
            else:
                length = duration(o["duration_s"])
            lines += _fitted(entity, width, "{:<20} {}".format(_iso(o["start_ts"]), length))
    return "\n".join(lines)


TABLE_WIDTH = 80


def _label_width(labels, heading, rest_width, least=20):
    """The label column: as wide as the longest label where the row still fits TABLE_WIDTH,
    never narrower than `least`; a longer label goes on a line of its own (_fitted)."""
    room = TABLE_WIDTH - 1 - rest_width
    longest = max([len(label) for label in labels] + [len(heading)])
    return max(least, min(longest, room))


def _fitted(label, width, rest):
    """A row of the table: the label whole, then the figures; a label wider than its column
    gets a line of its own and the figures follow on the next line, under their headings."""
    if len(label) <= width:
        return [("{:<{}} ".format(label, width) + rest).rstrip()]
    return [label, ("{:<{}} ".format("", width) + rest).rstrip()]


def _empty(summary):
    """True for a period without a single sample (nor error, nor outage) of the entity."""
    if summary["outages"]["count"]:
        return False
    if "samples" in summary:
        return not summary["samples"] and not summary.get("errors")
    return not summary["known_s"]


def _entities(entries):
    seen = []
    for entity, _, _, _ in entries:
        if entity not in seen:
            seen.append(entity)
    return seen


def _silent_lines(silent, dropped, by):
    out = []
    if dropped:
        out.append("({} {} row(s) without samples not shown)".format(dropped, by))
    for entity in silent:
        out.append("{}: no samples in this window".format(entity))
    return out


CSV_FIELDS = ("entity", "type", "role_or_mode", "period", "from", "to", "availability",
              "known_s", "available_s", "outages", "outage_total_s", "outage_longest_s",
              "mean_time_between_outages_s", "delay_p50_ms", "delay_p95_ms", "delay_p99_ms",
              "loss_ratio", "fa", "fa_n", "baseline_b", "baseline_s", "baseline_learning")


def csv_rows(data):
    out = []
    for kind, entries in (("target", data["targets"]), ("group", data["groups"])):
        for entry in entries:
            metric = _primary(entry["kind"])[0] if kind == "target" else "delay_ms"
            for s in entry["periods"]:
                fa = s["fa"].get(metric) or {}
                base = (s["baseline"] or {}).get(metric) or {}
                out.append({
                    "entity": entry["name"], "type": kind,
                    "role_or_mode": entry.get("role") or entry.get("mode"),
                    "period": s["period"] or "", "from": data["from"], "to": data["to"],
                    "availability": s["availability"], "known_s": s["known_s"],
                    "available_s": s["available_s"], "outages": s["outages"]["count"],
                    "outage_total_s": s["outages"]["total_s"],
                    "outage_longest_s": s["outages"]["longest_s"],
                    "mean_time_between_outages_s": s["mean_time_between_outages_s"],
                    "delay_p50_ms": s["delay_ms"]["p50"], "delay_p95_ms": s["delay_ms"]["p95"],
                    "delay_p99_ms": s["delay_ms"]["p99"], "loss_ratio": s["loss_ratio"],
                    "fa": fa.get("fa"), "fa_n": fa.get("n"), "baseline_b": base.get("B"),
                    "baseline_s": base.get("S"), "baseline_learning": base.get("learning"),
                })
    return out
