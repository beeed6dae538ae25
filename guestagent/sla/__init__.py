"""The service-quality engine: state across cycles (availability, outages, baselines, counters).

`update(config, report)` stores the cycle's samples and returns the report's `sla` section;
`metrics(section, out)` adds its gauges and cumulative counters. Neither lets a state problem
(full disk, corrupt file) stop the cycle: the section then carries `error`.
"""

import os


def update(config, report):
    from guestagent.sla import config as sla_config_module
    sla_config = sla_config_module.section(config)
    interval_s = sla_config_module.interval_of(config)
    path = os.path.join(config.agent.state_dir, "sla.sqlite3")
    return update_store(path, sla_config, interval_s, report)


def update_store(path, sla_config, interval_s, report):
    import sqlite3
    from guestagent.sla import store as stores
    from guestagent.sla import apply as updating
    notes = []
    for attempt in (1, 2):
        try:
            store, note = stores.Store.open(path)
        except (stores.StoreError, sqlite3.Error, OSError) as exc:
            return _fallback(report, sla_config, interval_s, path, str(exc), notes)
        if note:
            notes.append(note)
        try:
            store.begin()
            cycle_id = report["cycle"].get("id")
            if cycle_id and store.meta("last_cycle_id") == cycle_id:
                points = {}  # this report is already in the state: count nothing twice
            else:
                points = updating.apply_report(store, sla_config, interval_s, report)
            section = updating.build_section(store, sla_config, interval_s, report, points)
            store.set_meta("last_cycle_id", cycle_id)
            store.set_meta("last_cycle_ts", report["cycle"].get("started_ts"))
            store.commit()
            section.update(store=path, error=None, notes=notes)
            return section
        except sqlite3.DatabaseError as exc:
            store.rollback()
            store.close()
            if attempt == 1 and stores._is_corruption(exc):
                aside = stores.move_aside(path)
                notes.append("state {} was corrupt ({}); moved to {}, started afresh".format(
                    path, exc, aside))
                continue
            return _fallback(report, sla_config, interval_s, path,
                             "state not updated: {}".format(exc), notes)
        except OSError as exc:
            store.rollback()
            store.close()
            return _fallback(report, sla_config, interval_s, path,
                             "state not updated: {}".format(exc), notes)
        finally:
            try:
                store.close()
            except Exception:
                pass
    return _fallback(report, sla_config, interval_s, path, "state unusable", notes)


def _fallback(report, sla_config, interval_s, path, error, notes):
    """What can be said without the state: each test point's availability now."""
    from guestagent.sla import apply as updating
    targets = {}
    for record, _ in updating.records_of(report, sla_config, interval_s):
        targets[record["target"]] = {"kind": record["kind"], "role": record["role"],
                                     "groups": record["groups"], "sample_ts": record["ts"],
                                     "available": record["available"],
                                     "measurement_error": record["error"]}
    return {"store": path, "error": error, "notes": notes, "interval_s": interval_s,
            "targets": targets, "groups": {}, "outages_closed": []}


def metrics(section, out):
    from guestagent.sla import export as sla_metrics
    sla_metrics.add(section, out)
