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
    started_ts = (report.get("cycle") or {}).get("started_ts")
    out = []
    for sample in report.get("probes") or []:
        if not sample.get("target"):
            continue
        cfg = sla_config_module.effective(sla_config, interval_s, sample["target"])
        record = engine.normalize(sample, cfg["loss_max"], cfg["rtt_max_ms"], started_ts)
        if record is not None:
            out.append((record, cfg))
    return out


def apply_report(store, sla_config, interval_s, report, now_ts=None):
    """Add one report's samples to the store (inside the caller's transaction).

    Returns {target: per-point section} for the points sampled, plus the raw pieces the section
    needs. The same path serves every cycle and `state rebuild`.
    """
    cycle_ts = (report.get("cycle") or {}).get("started_ts")
    now_ts = cycle_ts if now_ts is None else now_ts
    points = {}
    for record, cfg in sorted(records_of(report, sla_config, interval_s),
                              key=lambda item: item[0]["target"]):
        point = store.point(record["target"], record["kind"], record["role"], record["groups"])
        pid = point["id"]
        # The previous sample of this point now knows how much time it stood for.
        if point["last_ts"] is not None and not point["last_error"]:
            span = engine.span_s(point["last_ts"], record["ts"], interval_s)
            store.add_counter(pid, "known_seconds", span)
            if point["last_available"]:
                store.add_counter(pid, "available_seconds", span)
        if not record["error"]:
            if record["kind"] == "dns":
                store.add_counter(pid, "dns_queries_sent", record["sent"] or 0)
                store.add_counter(pid, "dns_queries_answered", record["received"] or 0)
            else:
                store.add_counter(pid, "packets_sent", record["sent"] or 0)
                store.add_counter(pid, "packets_received", record["received"] or 0)
        baselines = point["baselines"] or {}
        if not record["error"]:
            baselines = _verdicts(store, pid, record, cfg, baselines)
        store.insert_sample(pid, record)
        state = point["outage_state"] or engine.new_outage_state()
        if not record["error"]:
            state, events, added = engine.outage_step(state, record["ts"], record["available"],
                                                      cfg["outage_min_s"], cfg["restore_min_s"])
            store.add_counter(pid, "outage_seconds", added)
            for event in events:
                if event[0] == "started":
                    store.open_outage(pid, event[1])
                    store.add_counter(pid, "outages", 1)
                else:
                    store.close_outage(pid, event[1], event[2])
        store.save_point(pid, record["ts"], record["error"], record["available"], state,
                         baselines)
        store.prune(pid, now_ts - sla_config["retention_days"] * 86400.0,
                    sla_config_module.max_samples(sla_config, interval_s))
        points[record["target"]] = {"point": point, "record": record, "cfg": cfg,
                                    "state": state, "baselines": baselines}
    store.prune_outages(now_ts - max(sla_config["retention_days"], 366) * 86400.0)
    return points


def _verdicts(store, pid, record, cfg, kept):
    """The sample's verdicts against the baselines of the trailing window before it; the
    window is read again only when a kept baseline is due (engine.needs_refresh): reading and
    sorting 14 days of samples every cycle is most of a cycle's time on the router."""
    columns = [column for _, column in engine.metrics_of(record["kind"])]
    out = dict((c, kept.get(c)) for c in columns)
    due = [c for c in columns
           if engine.needs_refresh(kept.get(c), record["ts"], cfg["baseline_refresh_s"])]
    if due:
        window_s = cfg["baseline_window_days"] * 86400.0
        rows = store.window_values(pid, record["ts"] - window_s, record["ts"])
        for column in due:
            index = engine.COLUMNS.index(column)
            th = engine.Thresholds(column, cfg)
            base = engine.baseline([row[index] for row in rows], th.floor_abs, th.floor_rel,
                                   th.min_samples)
            if base is not None:
                base["computed_ts"] = record["ts"]
            out[column] = base
    for column in columns:
        th = engine.Thresholds(column, cfg)
        record["within"][column] = engine.within(record["values"][column], out[column],
                                                 th.threshold_t)
    return out


def build_section(store, sla_config, interval_s, report, points):
    """The report's `sla` section from the points this cycle touched."""
    cycle_ts = report["cycle"]["started_ts"]
    today = engine.day_start(cycle_ts)
    targets = {}
    today_records = {}
    for name, item in sorted(points.items()):
        point, record, cfg, state = item["point"], item["record"], item["cfg"], item["state"]
        records = store.records(point, since_ts=today)
        today_records[name] = records
        avail = engine.availability(records, interval_s, today, None)
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
            "today": {"availability": avail["availability"], "known_s": avail["known_s"],
                      "available_s": avail["available_s"], "fa": {}},
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
            entry["today"]["fa"][metric] = engine.fa(records, column, today, None)["fa"]
        targets[name] = entry
    section = {
        "interval_s": interval_s,
        "targets": targets,
        "groups": _groups(sla_config, interval_s, points, today_records, today),
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


def _groups(sla_config, interval_s, points, today_records, today):
    meta = dict((name, {"role": item["record"]["role"], "groups": item["record"]["groups"]})
                for name, item in points.items())
    out = {}
    for name, (mode, members) in sorted(group_members(sla_config, meta).items()):
        present = [m for m in members if m in points]
        states = [points[m]["record"]["available"] for m in present
                  if not points[m]["record"]["error"]]
        if states:
            now = all(states) if mode == "all" else any(states)
        else:
            now = None
        segments = engine.group_segments(dict((m, today_records[m]) for m in present),
                                         interval_s, mode, today, None)
        out[name] = {"mode": mode, "members": members, "available": now,
                     "today": engine.group_availability(segments)}
    return out


def _counters_of(counters, kind):
    """The running totals that apply to this kind of test point."""
    skip = "packets_" if kind == "dns" else "dns_"
    return dict((k, v) for k, v in counters.items() if not k.startswith(skip))
