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


def begin(config, report, journal_dir=None, prepared=None):
    """The cycle's SLA pass inside an open transaction: `Pending.section` is the report's `sla`
    section, `Pending.commit()` stores it. The cycle commits only after the journal holds the
    report, so the state never has samples the journal lacks; with `journal_dir`, reports that
    were journaled but never committed are replayed first (by cycle id)."""
    from guestagent.sla import config as sla_config_module
    sla_config = sla_config_module.section(config)
    interval_s = sla_config_module.interval_of(config)
    path = os.path.join(config.agent.state_dir, "sla.sqlite3")
    return begin_store(path, sla_config, interval_s, report, journal_dir, prepared)


def update_store(path, sla_config, interval_s, report, journal_dir=None):
    pending = begin_store(path, sla_config, interval_s, report, journal_dir)
    error = pending.commit()
    if error:
        return _fallback(report, sla_config, interval_s, path, error, pending.section["notes"])
    return pending.section


class Pending(object):
    """A computed section whose transaction is still open. `flush`: whether `commit()` writes
    the state into the store (else the journal holds this cycle's report and the next cycles
    replay it, see working.py)."""

    def __init__(self, store, section, working=None, flush=True, sla_config=None, now_ts=None,
                 replayed=None):
        self.store = store
        self.section = section
        self.working = working
        self.flush = flush
        self.replayed = replayed  # journaled reports the store lacked (None: not lined up)
        self.sla_config = sla_config
        self.now_ts = now_ts

    def commit(self, journal_position=None):
        """Store it; returns None, or the error (then the state is as before this cycle).
        `journal_position` is where this report's journal line ends: kept with the watermark,
        the next cycles find the reports after it without searching the journal."""
        import sqlite3
        if self.store is None:
            return self.section.get("error")
        try:
            if self.flush:
                if self.working is not None:
                    self.working.set_meta("last_cycle_position", journal_position)
                    self.working.flush()
                from guestagent.sla import bounds
                if self.sla_config is not None:
                    bounds.before_commit(self.store, self.sla_config, self.now_ts, self.section)
                self.store.commit()
                bounds.after_commit(self.store, self.now_ts, self.section)
            else:
                self.store.rollback()  # nothing was written: the read lock goes
            return None
        except (sqlite3.Error, OSError) as exc:
            self.store.rollback()
            self.section["error"] = "state not updated: {}{}".format(exc, self._why())
            return self.section["error"]
        finally:
            self.close()

    def _why(self):
        from guestagent.sla import store as stores
        return stores._why_not_writable(self.store.path) if self.store is not None else ""

    def rollback(self, reason):
        if self.store is not None:
            reason += self._why()  # a read-only or full flash, where that is why
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
    """Replay journaled reports newer than the state's last cycle (inside the transaction).

    Returns how many it replayed, or None when the journal gives no watermark to line up with
    (not read, or the state's last cycle is not in it): then the state is committed this cycle.
    Up to `commit_every` reports are pending by design; more means commits failed or cycles
    were killed, which a note says."""
    from guestagent.sinks import journal
    from guestagent.sla import apply as updating
    from guestagent.sla import config as sla_config_module
    last_id = store.meta("last_cycle_id")
    cycle_id = report["cycle"].get("id")
    if not journal_dir:
        return None
    if last_id is not None and last_id == cycle_id:
        return 0
    commit_every = sla_config_module.commit_every(sla_config)
    limit = commit_every + RECONCILE_MAX
    try:
        missed, found = journal.after(journal_dir, last_id, limit=limit + 1,
                                      position=store.meta("last_cycle_position"))
    except (IOError, OSError) as exc:
        notes.append("journal not read to reconcile the state: {}".format(exc))
        return None
    missed = [r for r in missed if r["cycle"]["id"] != cycle_id]
    if not found and (last_id or len(missed) > limit):
        # The state's last cycle is not in the journal (rotated away), or a fresh state beside
        # a long journal: nothing to line up with here; `state rebuild` rebuilds from it all.
        return None
    for old in missed[:limit]:
        points = updating.apply_report(store, sla_config, interval_s, old, reuse_baselines=True)
        updating.advance(store, sla_config, interval_s, old, points)  # as it reported
        store.set_meta("last_cycle_id", old["cycle"]["id"])
        store.set_meta("last_cycle_ts", old["cycle"]["started_ts"])
    if len(missed) >= commit_every:
        notes.append("state lacked {} journaled report(s) ({}{}); replayed {}".format(
            len(missed), missed[0]["cycle"]["id"], "..." if len(missed) > 1 else "",
            min(len(missed), limit)))
    return min(len(missed), limit) if found else None


class Prepared(object):
    """The state opened, in a transaction, with the journal's newer reports replayed: the part
    of the SLA pass that does not need this cycle's samples, done while the probes run."""

    def __init__(self, store, working, replayed, notes):
        self.store = store
        self.working = working
        self.replayed = replayed
        self.notes = notes

    def discard(self):
        self.store.rollback()
        self.store.close()


def prepare(config, cycle_id, journal_dir=None):
    """`Prepared` for `begin(..., prepared=)`, or None when anything goes wrong: `begin` then
    opens and replays itself, and meets (and reports) whatever failed here."""
    from guestagent.sla import config as sla_config_module
    sla_config = sla_config_module.section(config)
    interval_s = sla_config_module.interval_of(config)
    path = os.path.join(config.agent.state_dir, "sla.sqlite3")
    return prepare_store(path, sla_config, interval_s, cycle_id, journal_dir)


def prepare_store(path, sla_config, interval_s, cycle_id, journal_dir=None):
    return _without_gc(_prepare_store, path, sla_config, interval_s, cycle_id, journal_dir)


def _prepare_store(path, sla_config, interval_s, cycle_id, journal_dir=None):
    from guestagent.sla import store as stores
    from guestagent.sla import working as workings
    if not os.path.exists(path):
        return None  # a first cycle creates the state in begin, where its errors are reported
    try:
        store = stores.Store(path)
    except Exception:
        return None
    try:
        store.check()
        store.begin()
        working = workings.Working(store)
        notes = []
        replayed = _reconcile(working, sla_config, interval_s, {"cycle": {"id": cycle_id}},
                              journal_dir, notes)
        return Prepared(store, working, replayed, notes)
    except Exception:
        try:
            store.rollback()
        finally:
            store.close()
        return None


def begin_store(path, sla_config, interval_s, report, journal_dir=None, prepared=None):
    return _without_gc(_begin_store, path, sla_config, interval_s, report, journal_dir,
                       prepared)


def _without_gc(function, *args):
    """The replay makes many small objects and no cycles: the collector's passes over them
    were a fifth of the pass's time."""
    import gc
    collecting = gc.isenabled()
    gc.disable()
    try:
        return function(*args)
    finally:
        if collecting:
            gc.enable()


def _begin_store(path, sla_config, interval_s, report, journal_dir=None, prepared=None):
    import sqlite3
    from guestagent.sla import config as sla_config_module
    from guestagent.sla import store as stores
    from guestagent.sla import apply as updating
    from guestagent.sla import working as workings
    notes = []
    for attempt in (1, 2):
        if prepared is not None:  # opened and replayed while the probes ran
            store, working, replayed = prepared.store, prepared.working, prepared.replayed
            notes.extend(prepared.notes)
            prepared = None
        else:
            try:
                store, note = stores.Store.open(path, sla_config.get("corrupt_kept"))
            except (stores.StoreError, sqlite3.Error, OSError) as exc:
                return Pending(None, _fallback(report, sla_config, interval_s, path, str(exc),
                                               notes))
            if note:
                notes.append(note)
            working = None
        try:
            if working is None:
                store.begin()
                working = workings.Working(store)
                replayed = _reconcile(working, sla_config, interval_s, report, journal_dir,
                                      notes)
            cycle_id = report["cycle"].get("id")
            if cycle_id and working.meta("last_cycle_id") == cycle_id:
                points = {}  # this report is already in the state: count nothing twice
            else:
                points = updating.apply_report(working, sla_config, interval_s, report)
            section = updating.build_section(working, sla_config, interval_s, report, points)
            working.set_meta("last_cycle_id", cycle_id)
            working.set_meta("last_cycle_ts", report["cycle"].get("started_ts"))
            flush = replayed is None or replayed + 1 >= sla_config_module.commit_every(
                sla_config)
            section.update(store=path, error=None, notes=notes)
            return Pending(store, section, working, flush, sla_config,
                           report["cycle"].get("started_ts"), replayed)
        except sqlite3.DatabaseError as exc:
            store.rollback()
            store.close()
            if attempt == 1 and stores._is_corruption(exc):
                aside = stores.move_aside(path, sla_config.get("corrupt_kept"))
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


def open_state(path, journal_dir, sla_config, interval_s):
    """The state as the cycles see it, for reading (`guestagent sla`, `state show`): the store
    and the journaled reports it does not hold yet. Returns a `working.Working` (close() it);
    raises what opening the store raises."""
    from guestagent.sla import store as stores
    from guestagent.sla import working as workings
    store = stores.Store(path)
    try:
        store.db.execute("BEGIN")  # one snapshot of the file for everything read
        working = workings.Working(store)
        if journal_dir:
            report = {"cycle": {"id": None}}  # matches no journaled report: replay them all
            _reconcile(working, sla_config, interval_s, report, journal_dir, [])
    except Exception:
        store.close()
        raise
    working.close = lambda: (store.rollback(), store.close())
    working.db = store.db
    return working


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


# A cycle without a test point (no target, no first hop) has nothing to add to the store: its
# section is empty whatever the store holds, and its pass's transaction rolls back, except at
# the commits (every `commit_every` journaled reports: the watermark, the retention, the
# orphans' pruning). Such a cycle opens the store only when it would commit: the cycle state
# (statefile.cycle_state) keeps, under IDLE, how many journaled reports the store lacks, counted
# by the cycles themselves and valid only while the journal ends where the same state says the
# last cycle's line ended (a cycle that died before saving its state makes the next one open
# the store and count again). Skipping SQLite, the replay and the SLA modules is most of such
# a cycle's work (docs/performance.md, "A cycle without a test point").
IDLE = "sla_idle"
IDLE_SKIPPED = "no test point: the state is opened at its next commit"


def _points_possible(config):
    discovery = config.path_discovery
    return bool(config.targets) or bool(discovery.enabled and discovery.first_hop)


def _fingerprint(config):
    """What an idle count was made under: the SLA settings, the interval and the store (kept on
    the config: a cycle asks twice)."""
    kept = getattr(config, "_sla_fingerprint", None)
    if kept is not None:
        return kept
    import zlib
    from guestagent import jsontext
    from guestagent.sla import config as sla_config_module
    text = jsontext.dumps([sla_config_module.section(config), sla_config_module.interval_of(config),
                           os.path.join(config.agent.state_dir, "sla.sqlite3")], sort_keys=True,
                          default=str)
    kept = zlib.crc32(text.encode("utf-8")) & 0xffffffff
    try:
        object.__setattr__(config, "_sla_fingerprint", kept)
    except AttributeError:  # a config without attributes of its own
        pass
    return kept


def _journal_ends_at(journal_dir, position):
    from guestagent.sinks.journal import CURRENT
    if not isinstance(position, dict):
        return False
    try:
        info = os.stat(os.path.join(journal_dir, CURRENT))
    except OSError:
        return False
    return [info.st_dev, info.st_ino, info.st_size] == [
        position.get("dev"), position.get("ino"), position.get("offset")]


def idle_entry(config, state, journal_dir):
    """The cycle state's idle count when this cycle need not open the store, else None.
    `state` is the cycle state as this cycle read it (its "journal" section is the last
    cycle's)."""
    if _points_possible(config) or not journal_dir:
        return None
    entry = state.get(IDLE)
    if not isinstance(entry, dict):
        return None
    from guestagent.sla import config as sla_config_module
    pending = entry.get("pending")
    if isinstance(pending, bool) or not isinstance(pending, int) or pending < 0 or \
            pending + 1 >= sla_config_module.commit_every(sla_config_module.section(config)):
        return None  # this cycle's report is the one that commits
    journal = state.get("journal")
    if not isinstance(journal, dict) or entry.get("cycle_id") is None or \
            journal.get("cycle_id") != entry.get("cycle_id") or \
            not _journal_ends_at(journal_dir, journal.get("position")) or \
            entry.get("config") != _fingerprint(config):
        return None
    return entry


def idle_section(config):
    """The section of a cycle that did not open the store (`idle_entry`): what its pass would
    have computed, and why the store was not read."""
    from guestagent.sla import config as sla_config_module
    return {"store": os.path.join(config.agent.state_dir, "sla.sqlite3"), "error": None,
            "notes": [], "interval_s": sla_config_module.interval_of(config), "targets": {},
            "groups": {}, "outages_closed": [], "skipped": IDLE_SKIPPED}


def next_idle(config, report, journaled, skipped=None, pending=None):
    """The idle count the cycle state keeps after this cycle, or None (the next cycle opens the
    store): `skipped`, this cycle's own idle entry when it did not open the store, else
    `pending`, its committed (or rolled back) pass."""
    if not journaled or _points_possible(config) or report.get("probes"):
        return None
    if skipped is not None:
        count = skipped["pending"] + 1
    else:
        section = pending.section if pending is not None else None
        if not section or section.get("error") or section.get("notes") or \
                section.get("targets") or section.get("groups") or \
                section.get("outages_closed"):
            return None
        if pending.flush:
            count = 0
        elif pending.replayed is None:
            return None
        else:
            count = pending.replayed + 1
    return {"pending": count, "cycle_id": report["cycle"]["id"],
            "config": _fingerprint(config)}


def metrics(section, out):
    from guestagent.sla import export as sla_metrics
    sla_metrics.add(section, out)
