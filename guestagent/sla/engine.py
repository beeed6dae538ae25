"""Service-quality computations of docs/metrics.md as pure functions on lists of records.

A *record* is one sample reduced to what the definitions need (see `normalize`):

    {"ts": unix seconds, "target", "kind", "role", "groups": [..], "error": bool,
     "available": True | False | None (None: measurement error),
     "sent", "received",                       # packets (icmp) or queries (dns)
     "values": {"delay_ms", "loss_ratio", "jitter_ms"},   # None when there is no value
     "within": {metric: True | False | None}}  # verdict at the time (None: learning)

Records of one test point are taken in the order they were recorded, not re-sorted by time: a
clock that stepped backwards then gives the earlier sample zero time (unknown), never negative
time and never a reordered history.
"""

import bisect
import time
from operator import itemgetter

from guestagent import quality

# Canonical value columns and, per kind, the metric names they are reported under.
COLUMNS = ("delay_ms", "loss_ratio", "jitter_ms")
KIND_METRICS = {
    "icmp": (("rtt_ms", "delay_ms"), ("loss_ratio", "loss_ratio"), ("jitter_ms", "jitter_ms")),
    "dns": (("response_ms", "delay_ms"), ("query_loss_ratio", "loss_ratio")),
}
GENERIC_METRICS = (("delay_ms", "delay_ms"), ("loss_ratio", "loss_ratio"))


def metrics_of(kind):
    """(reported name, column) pairs tracked for a kind of sample."""
    return KIND_METRICS.get(kind, GENERIC_METRICS)


def is_ratio(column):
    return column == "loss_ratio"


# -- one sample -> one record ----------------------------------------------------------------------
def normalize(sample, loss_max, rtt_max_ms, default_ts=None):
    """Reduce a probe sample to a record; None for kinds without loss or reachability (traceroute).

    Available when loss_ratio <= loss_max and the delay value (median; the average where the
    sample has none, `delay_of`) <= rtt_max_ms; a sample with no reply is unavailable; a
    measurement error is neither (available None).
    """
    get = sample.get  # once per sample of every report replayed: the lookups add up
    kind = get("kind") or "icmp"
    if kind == "traceroute" or kind == "throughput":
        return None  # a path and a capacity test: no availability of their own
    if kind == "dns":
        sent, received = get("queries_sent"), get("queries_answered")
        delay = (get("response_ms") or {}).get("median")
    elif kind == "http":
        sent, received = get("requests_sent"), get("requests_ok")
        delay = ((get("phases_ms") or {}).get("total") or {}).get("median")
    else:
        sent, received = get("sent"), get("received")
        rtt_ms = get("rtt_ms") or {}  # delay_of(rtt_ms), inline
        delay = rtt_ms.get("median")
        if delay is None:
            delay = rtt_ms.get("avg")
    loss = get("loss_ratio")
    reachable = get("reachable")
    if loss is None and sent:
        loss = (sent - (received or 0)) / float(sent)
    if loss is None and reachable is not None:
        loss = 0.0 if reachable else 1.0
    error = bool(get("error"))
    if loss is None and not error:
        return None
    ts = get("started")
    if ts is None:
        ts = default_ts
    if error:
        return {
            "ts": float(ts), "target": get("target"), "kind": kind,
            "role": get("role") or "target", "groups": list(get("group") or []),
            "error": True, "sent": None, "received": None,
            "values": {"delay_ms": None, "loss_ratio": None, "jitter_ms": None}, "within": {},
            "available": None,
        }
    replied = (received is None or received > 0) and reachable is not False
    # No delay despite replies (IOS stopped before its summary line): loss alone decides.
    delay_ok = delay <= rtt_max_ms if delay is not None else (received or 0) > 0
    return {
        "ts": float(ts), "target": get("target"), "kind": kind,
        "role": get("role") or "target", "groups": list(get("group") or []),
        "error": False, "sent": sent, "received": received,
        "values": {"delay_ms": delay, "loss_ratio": loss,
                   "jitter_ms": get("jitter_ms") if kind != "dns" else None},
        "within": {},
        "available": bool(replied and delay_ok and loss <= loss_max),
    }


def delay_of(rtt_ms):
    """The delay an ICMP sample stands for: the median of its replies; where only min/avg/max
    exist (IOS's own ping prints no per-reply times) the average."""
    rtt_ms = rtt_ms or {}
    if rtt_ms.get("median") is not None:
        return rtt_ms["median"]
    return rtt_ms.get("avg")


# -- availability ----------------------------------------------------------------------------------
def span_s(ts, next_ts, interval_s):
    """Time a sample stands for: to the next sample, capped at 2 x interval, never negative."""
    if next_ts is None:
        return 0.0
    return min(max(0.0, next_ts - ts), 2.0 * interval_s)


def spans(records, interval_s, end_ts=None):
    """(record, span_s) for records of one test point; the last one runs to end_ts when given."""
    out = []
    for i, record in enumerate(records):
        if i + 1 < len(records):
            next_ts = records[i + 1]["ts"]
        else:
            next_ts = end_ts
        out.append((record, span_s(record["ts"], next_ts, interval_s)))
    return out


def _overlap(a0, a1, b0, b1):
    lo = a0 if b0 is None else max(a0, b0)
    hi = a1 if b1 is None else min(a1, b1)
    return max(0.0, hi - lo)


def availability(records, interval_s, start_ts=None, end_ts=None):
    """Available time / known time over [start_ts, end_ts) for one test point.

    Measurement errors and time beyond 2 x interval after a sample are unknown: in neither sum.
    """
    known = available = 0.0
    for record, span in spans(records, interval_s, end_ts):
        if record["error"] or span <= 0:
            continue
        part = _overlap(record["ts"], record["ts"] + span, start_ts, end_ts)
        known += part
        if record["available"]:
            available += part
    return {"known_s": known, "available_s": available,
            "availability": (available / known) if known > 0 else None}


# -- outages ---------------------------------------------------------------------------------------
def new_outage_state():
    """State of the outage detector for one test point (kept in the store between cycles)."""
    return {"down": False, "start_ts": None, "run_start_ts": None, "counted_to_ts": None}


def outage_step(state, ts, available, outage_min_s, restore_min_s):
    """Feed one valid sample to the detector; returns (state, events, outage_seconds_added).

    An outage starts at the first unavailable sample of a run of unavailable samples that has
    lasted (last sample time - first sample time) at least outage_min_s, and ends at the first
    available sample of a run of available samples that has lasted at least restore_min_s.
    Events: ("started", start_ts) and ("closed", start_ts, end_ts). outage_seconds_added counts
    only time known to be in an outage, so a running total of it never has to go back.
    """
    state = dict(state)
    events = []
    added = 0.0
    if not state["down"]:
        if available:
            state["run_start_ts"] = None
        else:
            if state["run_start_ts"] is None:
                state["run_start_ts"] = ts
            if ts - state["run_start_ts"] >= outage_min_s:
                state["down"] = True
                state["start_ts"] = state["run_start_ts"]
                state["run_start_ts"] = None
                state["counted_to_ts"] = state["start_ts"]
                events.append(("started", state["start_ts"]))
    else:
        if not available:
            state["run_start_ts"] = None  # a restore run too short: the outage goes on
        else:
            if state["run_start_ts"] is None:
                state["run_start_ts"] = ts
            if ts - state["run_start_ts"] >= restore_min_s:
                end_ts = max(state["run_start_ts"], state["start_ts"])
                added += max(0.0, end_ts - state["counted_to_ts"])
                events.append(("closed", state["start_ts"], end_ts))
                return new_outage_state(), events, added
    if state["down"]:
        # Certain so far: up to the start of a pending restore run, else up to this sample.
        certain = state["run_start_ts"] if state["run_start_ts"] is not None else ts
        if certain > state["counted_to_ts"]:
            added += certain - state["counted_to_ts"]
            state["counted_to_ts"] = certain
    return state, events, added


def outages(records, outage_min_s=0.0, restore_min_s=0.0, end_ts=None):
    """Outages of one test point: [{"start_ts", "end_ts" (None: open), "duration_s" or
    "duration_so_far_s"}]. Measurement errors are skipped (they neither start nor end one)."""
    state = new_outage_state()
    found = []
    last_ts = None
    for record in records:
        if record["error"]:
            continue
        last_ts = record["ts"]
        state, events, _ = outage_step(state, record["ts"], record["available"], outage_min_s,
                                       restore_min_s)
        for event in events:
            if event[0] == "started":
                found.append({"start_ts": event[1], "end_ts": None})
            else:
                found[-1]["end_ts"] = event[2]
    for outage in found:
        if outage["end_ts"] is None:
            until = end_ts if end_ts is not None else last_ts
            outage["duration_so_far_s"] = max(0.0, until - outage["start_ts"])
        else:
            outage["duration_s"] = max(0.0, outage["end_ts"] - outage["start_ts"])
    return found


def time_between_outages(outage_list):
    """start(k) - start(k-1) for consecutive outages."""
    starts = [o["start_ts"] for o in outage_list]
    return [b - a for a, b in zip(starts, starts[1:])]


def clip_outages(outage_list, start_ts, end_ts):
    """Outages overlapping [start_ts, end_ts), each with the time it spent inside the window."""
    out = []
    for outage in outage_list:
        end = outage["end_ts"]
        until = end if end is not None else outage["start_ts"] + outage.get("duration_so_far_s", 0)
        if end_ts is not None and outage["start_ts"] >= end_ts:
            continue
        if start_ts is not None and end is not None and end <= start_ts:
            continue
        clipped = dict(outage)
        clipped["in_window_s"] = _overlap(outage["start_ts"], until, start_ts, end_ts)
        out.append(clipped)
    return out


# -- baselines -------------------------------------------------------------------------------------
def quantile_linear(ordered, p):
    """Quantile p (0..1) of a sorted non-empty list, linear interpolation between order statistics
    (position (n - 1) p), as numpy and R type 7 do."""
    position = (len(ordered) - 1) * p
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def baseline(values, floor_abs, floor_rel, min_samples):
    """B = median, S = max(Q3 - Q1, floor_abs, floor_rel x B) of the valid values of the window."""
    return baseline_of_sorted(sorted(v for v in values if v is not None), floor_abs, floor_rel,
                              min_samples)


def baseline_of_sorted(ordered, floor_abs, floor_rel, min_samples):
    if not ordered:
        return None
    b = quality.median(ordered)
    iqr = quantile_linear(ordered, 0.75) - quantile_linear(ordered, 0.25)
    s = max(iqr, floor_abs, floor_rel * abs(b))
    return {"B": b, "S": s, "iqr": iqr, "n": len(ordered), "learning": len(ordered) < min_samples}


def within(value, base, threshold_t):
    """True when |V - B| / S <= T; False for a missing value (all lost); None while learning."""
    if base is None or base["learning"]:
        return None
    if value is None:
        return False
    return abs(value - base["B"]) / base["S"] <= threshold_t


def fa(records, column, start_ts=None, end_ts=None):
    """Fa = Nb / N over the records with a verdict for `column` in [start_ts, end_ts)."""
    n = nb = 0
    for record in records:
        if record["error"] or not _inside(record["ts"], start_ts, end_ts):
            continue
        verdict = (record.get("within") or {}).get(column)
        if verdict is None:
            continue
        n += 1
        nb += 1 if verdict else 0
    return {"n": n, "nb": nb, "fa": (nb / float(n)) if n else None}


def _inside(ts, start_ts, end_ts):
    return (start_ts is None or ts >= start_ts) and (end_ts is None or ts < end_ts)


def baselines_at(records, column, ends, th):
    """B and S of the trailing window ending at each of `ends` (increasing): one sorted window
    slid forward, not one sort per end (a report by hour over a quarter has 2200 ends)."""
    points = sorted((r["ts"], r["values"][column]) for r in records
                    if not r["error"] and r["values"].get(column) is not None)
    ordered, out = [], []
    lo = hi = 0
    for end in ends:
        while hi < len(points) and points[hi][0] < end:
            bisect.insort(ordered, points[hi][1])
            hi += 1
        while lo < hi and points[lo][0] < end - th.window_s:
            del ordered[bisect.bisect_left(ordered, points[lo][1])]
            lo += 1
        out.append(baseline_of_sorted(ordered, th.floor_abs, th.floor_rel, th.min_samples))
    return out


def needs_refresh(cached, ts, refresh_s):
    """Whether a kept baseline must be computed again for a sample at ts: none yet, still
    learning (so that learning ends at exactly baseline_min_samples), older than refresh_s, or
    computed after ts (the clock stepped back)."""
    if not cached or cached.get("learning", True):
        return True
    computed = cached.get("computed_ts")
    return computed is None or ts - computed >= refresh_s or ts < computed


class Thresholds(object):
    """The baseline parameters for one column, from an effective per-test-point config."""

    def __init__(self, column, cfg):
        self.floor_abs = cfg["spread_floor_abs_ratio"] if is_ratio(column) \
            else cfg["spread_floor_abs_ms"]
        self.floor_rel = cfg["spread_floor_rel"]
        self.min_samples = cfg["baseline_min_samples"]
        self.threshold_t = cfg["threshold_t"]
        self.window_s = cfg["baseline_window_days"] * 86400.0
        self.refresh_s = cfg.get("baseline_refresh_s") or 0.0


def verdicts(records, cfg):
    """Give records of one test point their verdicts, each against the baseline of the trailing
    window of valid samples before it, recomputed as the cycles do (`needs_refresh`); sliding
    sorted windows keep it fast enough for a journal's worth."""
    columns = [column for _, column in metrics_of(records[0]["kind"])] if records else []
    windows = dict((c, ([], [])) for c in columns)  # column -> (sorted values, fifo of (ts, v))
    thresholds = dict((c, Thresholds(c, cfg)) for c in columns)
    kept = {}
    for record in records:
        record["within"] = {}
        if record["error"]:
            continue
        for column in columns:
            ordered, fifo = windows[column]
            th = thresholds[column]
            while fifo and fifo[0][0] < record["ts"] - th.window_s:
                _, old = fifo.pop(0)
                del ordered[bisect.bisect_left(ordered, old)]
            if needs_refresh(kept.get(column), record["ts"], th.refresh_s):
                # `ordered` is sorted and holds no None: no copy and sort per refresh (a month of
                # journal has one refresh per sample while learning)
                kept[column] = baseline_of_sorted(ordered, th.floor_abs, th.floor_rel,
                                                  th.min_samples)
                if kept[column] is not None:
                    kept[column]["computed_ts"] = record["ts"]
            record["within"][column] = within(record["values"][column], kept[column],
                                              th.threshold_t)
            value = record["values"][column]
            if value is not None:
                bisect.insort(ordered, value)
                fifo.append((record["ts"], value))
    return records


# -- groups ----------------------------------------------------------------------------------------
def group_segments(member_records, interval_s, mode="all", start_ts=None, end_ts=None):
    """Time segments (start, end, available) of a group from its members' records.

    At each instant, a member is known while a valid sample of it covers the instant. Members not
    known then are left out; the group is unknown when no member is known. mode "all": available
    when every known member is available; "any": when at least one is.
    """
    intervals = []
    for records in member_records.values():
        intervals.extend(member_intervals(records, interval_s, start_ts, end_ts))
    return segments_of(intervals, mode)


def member_intervals(records, interval_s, start_ts=None, end_ts=None):
    """(start, end, available) of the time each valid sample of one member stands for."""
    out = []
    for record, span in spans(records, interval_s, end_ts):
        if record["error"] or span <= 0:
            continue
        lo, hi = record["ts"], record["ts"] + span
        if start_ts is not None:
            lo = max(lo, start_ts)
        if end_ts is not None:
            hi = min(hi, end_ts)
        if hi > lo:
            out.append((lo, hi, bool(record["available"])))
    return out


_FIRST = itemgetter(0)


def segments_of(intervals, mode="all"):
    """Sweep over members' intervals: counts of known and of available members between
    consecutive boundaries give the group's state (n log n, for months of samples)."""
    events = []
    append = events.append
    for lo, hi, up in intervals:
        append((lo, 1, up))
        append((hi, -1, up))
    events.sort(key=_FIRST)
    any_mode = mode != "all"
    segments = []
    known = available = 0
    i, count = 0, len(events)
    while i < count:
        t = events[i][0]
        while i < count:
            at, delta, up = events[i]
            if at != t:
                break
            known += delta
            if up:
                available += delta
            i += 1
        if known <= 0 or i >= count:
            continue
        nxt = events[i][0]
        up = (available > 0) if any_mode else (available == known)
        if segments and segments[-1][1] == t and segments[-1][2] == up:
            segments[-1] = (segments[-1][0], nxt, up)
        else:
            segments.append((t, nxt, up))
    return segments


def group_availability(segments):
    known = sum(e - s for s, e, _ in segments)
    available = sum(e - s for s, e, up in segments if up)
    return {"known_s": known, "available_s": available,
            "availability": (available / known) if known > 0 else None}


def group_records(segments, kind="group"):
    """Segments as pseudo-records (one per segment start), so `outages` works on groups too."""
    return [{"ts": s, "error": False, "available": up, "kind": kind, "values": {}, "within": {}}
            for s, _, up in segments]


# -- aggregation intervals -------------------------------------------------------------------------
def buckets(start_ts, end_ts, by):
    """[(label, start_ts, end_ts)] of UTC hours, days, ISO weeks (from Monday) or months covering
    [start_ts, end_ts)."""
    out = []
    t = _floor(start_ts, by)
    while t < end_ts:
        nxt = _next(t, by)
        out.append((_label(t, by), max(t, start_ts), min(nxt, end_ts)))
        t = nxt
    return out


def _timegm(year, month, day):
    """calendar.timegm of a date at 00:00 UTC (proleptic Gregorian days since 1970-01-01): the
    calendar module costs start-up for this one function."""
    year -= month <= 2
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719468
    return days * 86400


def _floor(ts, by):
    tm = time.gmtime(ts)
    if by == "hour":
        return _timegm(tm.tm_year, tm.tm_mon, tm.tm_mday) + tm.tm_hour * 3600
    day = _timegm(tm.tm_year, tm.tm_mon, tm.tm_mday)
    if by == "day":
        return day
    if by == "week":
        return day - tm.tm_wday * 86400
    if by == "month":
        return _timegm(tm.tm_year, tm.tm_mon, 1)
    raise ValueError("unknown aggregation interval {!r}".format(by))


def _next(ts, by):
    if by == "hour":
        return ts + 3600
    if by == "day":
        return ts + 86400
    if by == "week":
        return ts + 7 * 86400
    tm = time.gmtime(ts)
    year, month = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
    return _timegm(year, month, 1)


def _label(ts, by):
    fmt = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}[by]
    return time.strftime(fmt, time.gmtime(ts))


def day_start(ts):
    return _floor(ts, "day")


# -- a window's summary ----------------------------------------------------------------------------
def summarize(records, interval_s, cfg, start_ts=None, end_ts=None, history=None,
              baseline_records=None, baselines=None):
    """Everything the SLA report shows for one test point over [start_ts, end_ts).

    `records` are the point's records in order (they may begin before start_ts: a sample just
    before the window stands for time inside it, and earlier samples settle outage state).
    `history` (optional) is the list of outages already computed over the whole record list;
    `baseline_records` (optional) the records to take the baseline window from (default: records);
    `baselines` (optional) {metric: baseline} already computed at end_ts (`baselines_at`).
    """
    inside = [r for r in records if _inside(r["ts"], start_ts, end_ts) and not r["error"]]
    avail = availability(records, interval_s, start_ts, end_ts)
    all_outages = history if history is not None else outages(
        records, cfg["outage_min_s"], cfg["restore_min_s"], end_ts)
    clipped = clip_outages(all_outages, start_ts, end_ts)
    between = time_between_outages([o for o in clipped
                                    if start_ts is None or o["start_ts"] >= start_ts])
    delays = [r["values"]["delay_ms"] for r in inside if r["values"].get("delay_ms") is not None]
    sent = sum(r["sent"] or 0 for r in inside if r["sent"] is not None)
    received = sum(r["received"] or 0 for r in inside if r["sent"] is not None)
    kind = records[0]["kind"] if records else "icmp"
    out = {
        "availability": avail["availability"], "known_s": avail["known_s"],
        "available_s": avail["available_s"], "samples": len(inside),
        "errors": sum(1 for r in records if r["error"] and _inside(r["ts"], start_ts, end_ts)),
        "outages": {
            "count": len(clipped),
            "total_s": sum(o["in_window_s"] for o in clipped),
            "longest_s": max([o.get("duration_s", o.get("duration_so_far_s", 0)) or 0
                              for o in clipped] or [None]) if clipped else None,
            "list": clipped,
        },
        "mean_time_between_outages_s": (sum(between) / len(between)) if between else None,
        "delay_ms": {"p50": _pct(delays, 50), "p95": _pct(delays, 95), "p99": _pct(delays, 99)},
        "sent": sent, "received": received,
        "loss_ratio": ((sent - received) / float(sent)) if sent else None,
        "fa": {}, "baseline": {},
    }
    until = end_ts if end_ts is not None else (records[-1]["ts"] + 1 if records else None)
    for name, column in metrics_of(kind):
        out["fa"][name] = fa(records, column, start_ts, end_ts)
        if baselines is not None:
            out["baseline"][name] = baselines.get(name)
            continue
        th = Thresholds(column, cfg)
        source = records if baseline_records is None else baseline_records
        window = [r["values"][column] for r in source if not r["error"] and until is not None
                  and until - th.window_s <= r["ts"] < until]
        out["baseline"][name] = baseline(window, th.floor_abs, th.floor_rel, th.min_samples)
    return out


def _pct(values, p):
    return quality.percentile_nearest_rank(values, p) if values else None


def running_max_ts(records):
    """Non-decreasing list of the greatest time seen so far, to bisect records that are in
    recorded order (sorted by time except after a clock step backwards)."""
    out, top = [], float("-inf")
    for record in records:
        top = max(top, record["ts"])
        out.append(top)
    return out


def slice_window(records, running_max, start_ts, end_ts, before_s=0.0):
    """The contiguous run of records that can matter for [start_ts - before_s, end_ts), plus the
    one sample before it (it stands for time inside)."""
    lo = 0 if start_ts is None else max(0, bisect.bisect_left(running_max,
                                                              start_ts - before_s) - 1)
    hi = len(records) if end_ts is None else bisect.bisect_left(running_max, end_ts)
    return records[lo:hi]
