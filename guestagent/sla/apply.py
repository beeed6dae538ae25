"""One cycle's pass through the SLA state: store the samples, advance availability, outages and
baselines, and build the report's `sla` section (docs/sla.md)."""

import time

from guestagent.sla import config as sla_config_module
from guestagent.sla import engine
from guestagent.sla.store import COUNTERS, WITHIN_COLUMNS  # noqa: F401  (documented names)


def iso(ts):
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def records_of(report, sla_config, interval_s):
    """The report's samples as engine records, each with its effective thresholds."""
    return [(record, cfg) for record, cfg, _ in _records(report, _Thresholds(sla_config,
                                                                            interval_s))]


def _records(report, thresholds):
    """(record, effective config, {column: engine.Thresholds}) of the report's samples."""
    started_ts = (report.get("cycle") or {}).get("started_ts")
    known = thresholds.by_target
    out = []
    for sample in report.get("probes") or []:
        target = sample.get("target")
        if not target:
            continue
        cfg, by_column = known.get(target) or thresholds.of(target)
        record = engine.normalize(sample, cfg["loss_max"], cfg["rtt_max_ms"], started_ts)
        if record is not None:
            out.append((record, cfg, by_column))
    return out


class _Thresholds(object):
    """Each test point's effective thresholds (and their engine.Thresholds per column), made
    once per pass: they depend only on the config, and a pass applies up to 50 reports."""

    def __init__(self, sla_config, interval_s):
        self.sla_config = sla_config
        self.interval_s = interval_s
        self.max_samples = sla_config_module.max_samples(sla_config, interval_s)
        self.by_target = {}
        self._groups = {}

    def of(self, target):
        found = self.by_target.get(target)
        if found is None:
            cfg = sla_config_module.effective(self.sla_config, self.interval_s, target)
            found = (cfg, dict((c, engine.Thresholds(c, cfg)) for c in engine.COLUMNS))
            self.by_target[target] = found
        return found

    def groups_of(self, points):
        """sorted(group_members(...).items()) for the points a report sampled: the same
        points with the same roles and groups give the same groups all pass long."""
        key = tuple((name, item["record"]["role"], tuple(item["record"]["groups"] or ()))
                    for name, item in points.items())
        found = self._groups.get(key)
        if found is None:
            meta = dict((name, {"role": role, "groups": list(groups)})
                        for name, role, groups in key)
            found = self._groups[key] = sorted(group_members(self.sla_config, meta).items())
        return found


def _thresholds_of(store, sla_config, interval_s):
    """The store's `_Thresholds` for this config (a store object lives for one pass: one
    config)."""
    kept = getattr(store, "thresholds", None)
    if kept is None or kept.sla_config is not sla_config or kept.interval_s != interval_s:
        kept = _Thresholds(sla_config, interval_s)
        try:
            store.thresholds = kept
        except AttributeError:
            pass
    return kept


def _by_target(item):
    return item[0]["target"]


def apply_report(store, sla_config, interval_s, report, now_ts=None, reuse_baselines=False):
    """Add one report's samples to the store (inside the caller's transaction).

    Returns {target: per-point section} for the points sampled, plus the raw pieces the section
    needs. The same path serves every cycle and `state rebuild`. With `reuse_baselines` (a
    journaled report replayed), a baseline due for a refresh is taken from the report's own
    `sla` section, where the cycle that wrote it put what it computed from the same samples,
    instead of reading the 14-day window again.
    """
    cycle_ts = (report.get("cycle") or {}).get("started_ts")
    now_ts = cycle_ts if now_ts is None else now_ts
    today = engine.day_start(cycle_ts)
    reported = _reported_targets(report) if reuse_baselines else None
    thresholds = _thresholds_of(store, sla_config, interval_s)
    prune_before = now_ts - sla_config["retention_days"] * 86400.0
    # A retention of days is applied once a day (working.Working.flush); a shorter one as is.
    prune_daily = sla_config["retention_days"] >= 2
    cap_s = 2.0 * interval_s
    points = {}
    for record, cfg, by_column in sorted(_records(report, thresholds), key=_by_target):
        target = record["target"]
        point = store.point(target, record["kind"], record["role"], record["groups"])
        pid = point["id"]
        day = _day_sums(store, point, today, interval_s)
        parts = [(float(start), part) for start, part in sorted(day["sums"].items())]
        earlier = points.get(target)
        closed = list(earlier["closed"]) if earlier else []
        last_ts = point["last_ts"]
        stepped = bool(earlier and earlier["stepped"]) or (last_ts is not None and
                                                           record["ts"] < last_ts)
        adds = []  # (counter, amount): one call for the sample's counters
        # The previous sample of this point now knows how much time it stood for.
        if last_ts is not None and not point["last_error"]:
            # engine.span_s(last_ts, record["ts"], interval_s), inline
            span = record["ts"] - last_ts
            span = span if span > 0.0 else 0.0
            span = cap_s if cap_s < span else span
            adds.append(("known_seconds", span))
            if point["last_available"]:
                adds.append(("available_seconds", span))
            if span > 0:
                interval = [last_ts, last_ts + span, bool(point["last_available"])]
                closed.append(interval)
                _add_interval(parts, interval)
        error = record["error"]
        if not error:
            if record["kind"] == "dns":
                adds.append(("dns_queries_sent", record["sent"] or 0))
                adds.append(("dns_queries_answered", record["received"] or 0))
            else:
                adds.append(("packets_sent", record["sent"] or 0))
                adds.append(("packets_received", record["received"] or 0))
        baselines = point["baselines"] or {}
        if not error:
            baselines = _verdicts(store, pid, record, cfg, baselines,
                                  None if reported is None else _reported_of(reported, target),
                                  by_column)
            _add_verdicts(parts, record)
        store.insert_sample(pid, record)
        state = point["outage_state"] or engine.new_outage_state()
        if not error:
            state, events, added = engine.outage_step(state, record["ts"], record["available"],
                                                      cfg["outage_min_s"], cfg["restore_min_s"])
            adds.append(("outage_seconds", added))
            for event in events:
                if event[0] == "started":
                    store.open_outage(pid, event[1])
                    adds.append(("outages", 1))
                else:
                    store.close_outage(pid, event[1], event[2])
        store.add_counters(pid, adds)
        store.save_point(pid, record["ts"], error, record["available"], state, baselines)
        store.set_today(pid, day)
        store.prune(pid, prune_before, thresholds.max_samples, daily=prune_daily)
        points[target] = {"point": point, "record": record, "cfg": cfg,
                          "state": state, "baselines": baselines, "today": day,
                          "closed": closed, "stepped": stepped}
    store.prune_outages(now_ts - max(sla_config["retention_days"], 366) * 86400.0)
    return points


# -- the day's running sums ------------------------------------------------------------------------
# A point's figures since 00:00 UTC are kept as running sums instead of being computed again
# from the day's samples every cycle (that grew to most of a cycle by 23:55). The sums are kept
# for today and tomorrow, each over [day start, no end) as `engine.availability` and `engine.fa`
# count them, so the first cycle after midnight finds tomorrow's sums already right (a sample
# taken just before midnight stands for time after it). Each sum is added to in the order the
# full computation adds, so the figures are equal to it, bit for bit.

DAY_S = 86400


def _zero_sums():
    return {"known_s": 0.0, "available_s": 0.0, "fa": dict((c, [0, 0]) for c in engine.COLUMNS)}


def _day_sums(store, point, today, interval_s):
    """The point's running sums, carried to `today`; computed from the day's samples when they
    were not kept up to now (a new agent version, a rebuilt state, a gap of days)."""
    kept = point.get("today") or {}
    sums = kept.get("sums") or {}
    key = str(today)
    if key in sums:
        day = kept.get("day")
        if day == today:
            return kept
        if day == today - DAY_S:
            return {"day": today, "sums": {key: sums[key], str(today + DAY_S): _zero_sums()}}
    out = {"day": today, "sums": {}}
    records = store.records(point, since_ts=today) if point["last_ts"] is not None else []
    for start in (today, today + DAY_S):
        avail = engine.availability(records, interval_s, start, None)
        part = {"known_s": avail["known_s"], "available_s": avail["available_s"], "fa": {}}
        for column in engine.COLUMNS:
            counted = engine.fa(records, column, start, None)
            part["fa"][column] = [counted["n"], counted["nb"]]
        out["sums"][str(start)] = part
    return out


def _add_interval(parts, interval):
    """Add an interval a sample stood for to the day's [(start, sums)], by start."""
    lo, hi, up = interval
    for start, part in parts:
        # engine._overlap(lo, hi, start, None), inline: max(0.0, hi - max(lo, start))
        add = hi - (start if start > lo else lo)
        add = add if add > 0.0 else 0.0
        part["known_s"] += add
        if up:
            part["available_s"] += add


def _add_verdicts(parts, record):
    if record["error"]:
        return
    verdicts = record.get("within") or {}
    ts = record["ts"]
    for start, part in parts:
        if ts < start:
            continue
        counts = part["fa"]
        for column in engine.COLUMNS:
            verdict = verdicts.get(column)
            if verdict is not None:
                pair = counts[column]
                pair[0] += 1
                if verdict:
                    pair[1] += 1


def _reported_targets(report):
    """The `targets` of a report's own `sla` section, when it has one ({} else); each target's
    `baseline` entries are taken from it by `_reported_of`, only for the points sampled."""
    section = report.get("sla")
    if not isinstance(section, dict) or section.get("error") or not isinstance(
            section.get("targets"), dict):
        return {}
    return section["targets"]


def _reported_of(reported, target):
    """A target's `baseline` entries in a report's section (`_reported_targets`), or None."""
    entry = reported.get(target)
    if isinstance(entry, dict):
        baseline = entry.get("baseline")
        if isinstance(baseline, dict):
            return baseline
    return None


def _reported_baseline(entry, ts):
    """The baseline a report says it used (its `baseline` entry for the column's metric);
    `MISSING` when it does not say."""
    if not isinstance(entry, dict):
        return MISSING
    try:
        b, s, n, learning = entry["B"], entry["S"], entry["n"], entry["learning"]
    except KeyError:
        return MISSING
    if b is None:
        return None
    for value in (b, s, n):
        if value.__class__ is bool or not isinstance(value, (int, float)):
            return MISSING
    if learning.__class__ is not bool:
        return MISSING
    return {"B": b, "S": s, "n": n, "learning": learning, "computed_ts": ts}


MISSING = object()


def _verdicts(store, pid, record, cfg, kept, reported=None, by_column=None):
    """The sample's verdicts against the baselines of the trailing window before it; the
    window is read again only when a kept baseline is due (engine.needs_refresh): reading and
    sorting 14 days of samples every cycle is most of a cycle's time on the router.
    `by_column`: engine.Thresholds per column (made from `cfg` when not given)."""
    if by_column is None:
        by_column = dict((c, engine.Thresholds(c, cfg)) for c in engine.COLUMNS)
    ts = record["ts"]
    refresh_s = cfg["baseline_refresh_s"]
    values, verdicts = record["values"], record["within"]
    if not isinstance(reported, dict):
        reported = None
    out = {}
    rows = None
    for metric, column in engine.metrics_of(record["kind"]):
        base = kept.get(column)
        th = by_column[column]
        # engine.needs_refresh(base, ts, refresh_s), inline (three times a sample)
        computed = None if not base or base.get("learning", True) else base.get("computed_ts")
        if computed is None or ts - computed >= refresh_s or ts < computed:
            base = MISSING if reported is None else _reported_baseline(reported.get(metric), ts)
            if base is MISSING:
                if rows is None:
                    window_s = cfg["baseline_window_days"] * 86400.0
                    rows = store.window_values(pid, ts - window_s, ts)
                index = engine.COLUMNS.index(column)
                base = engine.baseline([row[index] for row in rows], th.floor_abs,
                                       th.floor_rel, th.min_samples)
                if base is not None:
                    # What a report carries of it (B, S, n, learning), so a replay can take it
                    # back.
                    base = {"B": base["B"], "S": base["S"], "n": base["n"],
                            "learning": base["learning"], "computed_ts": ts}
        out[column] = base
        # engine.within(values[column], base, th.threshold_t), inline
        if base is None or base["learning"]:
            verdicts[column] = None
        else:
            value = values[column]
            verdicts[column] = False if value is None else \
                abs(value - base["B"]) / base["S"] <= th.threshold_t
    return out


def advance(store, sla_config, interval_s, report, points):
    """What building the section changes in the state (the groups' running sums, closed
    outages marked reported), without the section: a replayed report was reported already."""
    today = engine.day_start(report["cycle"]["started_ts"])
    _groups(store, sla_config, interval_s, points, today, render=False)
    store.unreported_outages()


def build_section(store, sla_config, interval_s, report, points):
    """The report's `sla` section from the points this cycle touched."""
    cycle_ts = report["cycle"]["started_ts"]
    today = engine.day_start(cycle_ts)
    targets = {}
    for name, item in sorted(points.items()):
        point, record, cfg, state = item["point"], item["record"], item["cfg"], item["state"]
        sums = item["today"]["sums"][str(today)]
        known, available = sums["known_s"], sums["available_s"]
        entry = {
            "kind": record["kind"], "role": record["role"], "groups": record["groups"],
            "sample_ts": record["ts"],
            "available": record["available"], "measurement_error": record["error"],
            "in_outage": bool(state.get("down")),
            "outage_since": iso(state.get("start_ts")) if state.get("down") else None,
            "outage_since_ts": state.get("start_ts") if state.get("down") else None,
            "outage_duration_so_far_s": (max(0.0, record["ts"] - state["start_ts"])
                                         if state.get("down") else None),
            "baseline": {},
            "today": {"availability": (available / known) if known > 0 else None,
                      "known_s": known, "available_s": available, "fa": {}},
            "counters": _counters_of(store.counters(point["id"]), record["kind"]),
        }
        for metric, column in engine.metrics_of(record["kind"]):
            base = item["baselines"].get(column)
            value = record["values"].get(column)
            entry["baseline"][metric] = {
                "value": value,
                "B": base["B"] if base else None, "S": base["S"] if base else None,
                "n": base["n"] if base else 0,
                "learning": base["learning"] if base else True,
                "within": record["within"].get(column),
            }
            n, nb = sums["fa"][column]
            entry["today"]["fa"][metric] = (nb / float(n)) if n else None
        targets[name] = entry
    section = {
        "interval_s": interval_s,
        "targets": targets,
        "groups": _groups(store, sla_config, interval_s, points, today),
        "outages_closed": [],
    }
    for outage in store.unreported_outages():
        outage["start"] = iso(outage["start_ts"])
        outage["end"] = iso(outage["end_ts"])
        section["outages_closed"].append(outage)
    return section


def group_members(sla_config, points_meta):
    """{group name: (mode, [member names])}: one group per role, per named group of the
    targets' `group` lists, and per `sla.groups` entry (explicit members win)."""
    groups = {}
    for name, meta in points_meta.items():
        groups.setdefault("role:" + meta["role"], set()).add(name)
        for group in meta["groups"] or []:
            groups.setdefault(group, set()).add(name)
    configured = sla_config.get("groups") or {}
    out = {}
    for name, members in groups.items():
        mode = (configured.get(name) or {}).get("mode") or "all"
        out[name] = (mode, sorted(members))
    for name, group in configured.items():
        if group.get("members"):
            out[name] = (group.get("mode") or "all", sorted(group["members"]))
        elif name not in out:
            role_members = sorted(n for n, m in points_meta.items() if m["role"] == name)
            if role_members:
                out[name] = (group.get("mode") or "all", role_members)
    return out


def _groups(store, sla_config, interval_s, points, today, render=True):
    members_of = _thresholds_of(store, sla_config, interval_s).groups_of(points)
    kept = store.meta("groups_today") or {}
    states = {}
    out = {}
    for name, (mode, members) in members_of:
        present = [m for m in members if m in points]
        state = _group_state(store, kept.get(name), mode, present, points, interval_s, today)
        states[name] = state
        if render:
            states_now = [points[m]["record"]["available"] for m in present
                          if not points[m]["record"]["error"]]
            if states_now:
                now = all(states_now) if mode == "all" else any(states_now)
            else:
                now = None
            out[name] = {"mode": mode, "members": list(members), "available": now,
                         "today": _group_today(state, mode, today)}
    store.set_meta("groups_today", states)
    return out


# A group's time since 00:00 is a sweep over its members' intervals (engine.group_segments).
# Kept between cycles: the sums up to a frontier no later interval can reach (every member's
# next interval starts at or after its newest sample), and the intervals that reach past it
# (the tail: a couple per member). A cycle adds the intervals its samples closed, sweeps the tail
# up to the new frontier into the sums, and the section adds a sweep of what is left. The
# members sampled this cycle, the mode, a clock step back or a missing day make it start again
# from the day's samples, as before.

def _group_state(store, kept, mode, present, points, interval_s, today):
    if not present:
        return {"day": today, "mode": mode, "members": [], "frontier": None,
                "sums": {str(today): [0.0, 0.0], str(today + DAY_S): [0.0, 0.0]}, "tail": []}
    items = [points[m] for m in present]
    reach = None  # min(item["record"]["ts"] for item in items), in the loop below
    stepped = False
    for item in items:
        ts = item["record"]["ts"]
        if reach is None or ts < reach:
            reach = ts
        if item["stepped"]:
            stepped = True
    key = str(today)
    sums = (kept or {}).get("sums") or {}
    valid = (not stepped and isinstance(kept, dict) and kept.get("mode") == mode and
             kept.get("members") == present and key in sums and
             kept.get("day") in (today, today - DAY_S))
    if valid:
        if kept["day"] != today:
            sums = {key: sums[key], str(today + DAY_S): [0.0, 0.0]}
        # Read only (the new tail is made of new lists): no copies.
        tail = list(kept.get("tail") or [])
        for item in items:
            tail.extend(item["closed"])
        frontier = kept.get("frontier")
    else:
        sums = {key: [0.0, 0.0], str(today + DAY_S): [0.0, 0.0]}
        tail = []
        for item in items:
            records = store.records(item["point"], since_ts=today)
            tail.extend(engine.member_intervals(records, interval_s, today, None))
        frontier = None
    if frontier is not None:
        reach = max(reach, frontier)
    settled, rest = [], []
    for lo, hi, up in tail:
        top = reach if reach < hi else hi  # min(hi, reach)
        if lo < top:
            settled.append((lo, top, up))
        if hi > reach:
            rest.append([reach if reach > lo else lo, hi, up])  # max(lo, reach)
    segments = engine.segments_of(settled, mode) if settled else ()
    for start, pair in sorted(sums.items()):
        start = float(start)
        for s, e, up in segments:
            if e <= start:
                continue  # it would add 0.0 (tomorrow's sums, before midnight): no change
            # engine._overlap(s, e, start, None), inline
            add = e - (start if start > s else s)
            pair[0] += add
            if up:
                pair[1] += add
    return {"day": today, "mode": mode, "members": present, "frontier": reach,
            "sums": sums, "tail": rest}


def _group_today(state, mode, today):
    known, available = state["sums"][str(today)]
    rest = [(max(lo, today), hi, up) for lo, hi, up in state["tail"] if hi > max(lo, today)]
    for s, e, up in engine.segments_of(rest, mode):
        known += e - s
        if up:
            available += e - s
    return {"known_s": known, "available_s": available,
            "availability": (available / known) if known > 0 else None}


def _counters_of(counters, kind):
    """The running totals that apply to this kind of test point."""
    skip = "packets_" if kind == "dns" else "dns_"
    return {k: v for k, v in counters.items() if not k.startswith(skip)}
