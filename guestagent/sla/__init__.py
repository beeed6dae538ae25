"""The service-quality engine: state across cycles (availability, outages, baselines, counters).

`update(config, report)` stores the cycle's samples and returns the report's `sla` section;
`metrics(section, out)` adds its gauges and cumulative counters. Neither lets a state problem
(full disk, corrupt file) stop the cycle: the section then carries `error`.
"""

import os


# Journaled reports the state lacks (a cycle killed between its journal write and its commit)
# replayed at most per cycle; older gaps are left to `state rebuild`.
RECONCILE_MAX = 20


def update(config, report):
    from guestagent.sla import config as sla_config_module
    path = os.path.join(config.agent.state_dir, "sla.sqlite3")
    return update_store(path, sla_config_module.section(config),
                        sla_config_module.interval_of(config), report)


def begin(config, report, journal_dir=None):
    """The cycle's SLA pass inside an open transaction: `Pending.section` is the report's `sla`
    section, `Pending.commit()` stores it. The cycle commits only after the journal holds the
    report, so the state never has samples the journal lacks; with `journal_dir`, reports that
    were journaled but never committed are replayed first (by cycle id)."""
    from guestagent.sla import config as sla_config_module
    sla_config = sla_config_module.section(config)
    interval_s = sla_config_module.interval_of(config)
    path = os.path.join(config.agent.state_dir, "sla.sqlite3")
    return begin_store(path, sla_config, interval_s, report, journal_dir)


def update_store(path, sla_config, interval_s, report):
    pending = begin_store(path, sla_config, interval_s, report)
    error = pending.commit()
    if error:
        return _fallback(report, sla_config, interval_s, path, error, pending.section["notes"])
    return pending.section


class Pending(object):
    """A computed section whose transaction is still open."""

    def __init__(self, store, section):
        self.store = store
        self.section = section

    def commit(self):
        """Store it; returns None, or the error (then the state is as before this cycle)."""
        import sqlite3
        if self.store is None:
            return self.section.get("error")
        try:
            self.store.commit()
            return None
        except (sqlite3.Error, OSError) as exc:
            self.store.rollback()
            self.section["error"] = "state not updated: {}".format(exc)
            return self.section["error"]
        finally:
            self.close()

    def rollback(self, reason):
        if self.store is not None:
            self.store.rollback()
            self.close()
        self.section["error"] = reason

    def close(self):
        if self.store is not None:
            try:
                self.store.close()
            except Exception:
                pass
            self.store = None


def _reconcile(store, sla_config, interval_s, report, journal_dir, notes):
    """Replay journaled reports newer than the state's last cycle (inside the transaction)."""
    from guestagent.sinks import journal
    from guestagent.sla import apply as updating
    last_id = store.meta("last_cycle_id")
    cycle_id = report["cycle"].get("id")
    if not journal_dir or last_id == cycle_id:
        return
    try:
        missed, found = journal.after(journal_dir, last_id, limit=RECONCILE_MAX + 1)
    except (IOError, OSError) as exc:
        notes.append("journal not read to reconcile the state: {}".format(exc))
        return
    missed = [r for r in missed if r["cycle"]["id"] != cycle_id]
    if not missed:
        return
    if not found and (last_id or len(missed) > RECONCILE_MAX):
        # The state's last cycle is not in the journal (rotated away), or a fresh state beside
        # a long journal: nothing to line up with here; `state rebuild` rebuilds from it all.
        return
    for old in missed[:RECONCILE_MAX]:
        points = updating.apply_report(store, sla_config, interval_s, old)
        updating.build_section(store, sla_config, interval_s, old, points)  # as it reported
        store.set_meta("last_cycle_id", old["cycle"]["id"])
        store.set_meta("last_cycle_ts", old["cycle"]["started_ts"])
    notes.append("state lacked {} journaled report(s) ({}{}); replayed {}".format(
        len(missed), missed[0]["cycle"]["id"], "..." if len(missed) > 1 else "",
        min(len(missed), RECONCILE_MAX)))


def begin_store(path, sla_config, interval_s, report, journal_dir=None):
    import sqlite3
    from guestagent.sla import store as stores
    from guestagent.sla import apply as updating
    notes = []
    for attempt in (1, 2):
        try:
            store, note = stores.Store.open(path)
        except (stores.StoreError, sqlite3.Error, OSError) as exc:
            return Pending(None, _fallback(report, sla_config, interval_s, path, str(exc), notes))
        if note:
            notes.append(note)
        try:
            store.begin()
            _reconcile(store, sla_config, interval_s, report, journal_dir, notes)
            cycle_id = report["cycle"].get("id")
            if cycle_id and store.meta("last_cycle_id") == cycle_id:
                points = {}  # this report is already in the state: count nothing twice
            else:
                points = updating.apply_report(store, sla_config, interval_s, report)
            section = updating.build_section(store, sla_config, interval_s, report, points)
            store.set_meta("last_cycle_id", cycle_id)
            store.set_meta("last_cycle_ts", report["cycle"].get("started_ts"))
            section.update(store=path, error=None, notes=notes)
            return Pending(store, section)
        except sqlite3.DatabaseError as exc:
            store.rollback()
            store.close()
            if attempt == 1 and stores._is_corruption(exc):
                aside = stores.move_aside(path)
                notes.append("state {} was corrupt ({}); moved to {}, started afresh".format(
                    path, exc, aside))
                continue
            return Pending(None, _fallback(report, sla_config, interval_s, path,
                                           "state not updated: {}".format(exc), notes))
        except OSError as exc:
            store.rollback()
            store.close()
            return Pending(None, _fallback(report, sla_config, interval_s, path,
                                           "state not updated: {}".format(exc), notes))
        except BaseException:
            store.rollback()
            store.close()
            raise
    return Pending(None, _fallback(report, sla_config, interval_s, path, "state unusable", notes))


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
