"""What keeps the state store bounded, done when it is committed (docs/sla.md, "Bounds").

- Test points with no sample for `retention_days` (taken out of the config) are removed with
  their samples, counters and outages: every figure they had is past the retention anyway.
- The file's used pages stay under `sla.max_bytes`: beyond it, the oldest samples of all test
  points go first.
- `VACUUM` gives free pages back to the flash only when they are worth a rewrite of the whole
  file (at least `VACUUM_MIN_BYTES` and a quarter of it), at most once a day: retention pruning
  frees a few pages that the next samples reuse, which is no reason to rewrite the file.
"""

import time

VACUUM_MIN_BYTES = 4 * 1048576
VACUUM_MIN_SHARE = 0.25
VACUUM_EVERY_S = 86400.0
# Samples removed by the byte bound leave this much room under it, so that it is not met again
# at the next commit.
BOUND_HEADROOM = 0.9


def pages(db):
    """(page size, pages in the file, free pages)."""
    return (db.execute("PRAGMA page_size").fetchone()[0],
            db.execute("PRAGMA page_count").fetchone()[0],
            db.execute("PRAGMA freelist_count").fetchone()[0])


def used_bytes(db):
    size, count, free = pages(db)
    return size * (count - free)


def prune_orphans(store, before_ts):
    """Remove the test points whose newest sample is older than `before_ts`; returns names."""
    db = store.db
    rows = db.execute("SELECT id, name FROM points WHERE last_ts IS NOT NULL AND last_ts < ?",
                      (before_ts,)).fetchall()
    for point_id, _ in rows:
        for table in ("sample_days", "samples_recent", "counters", "outages") + (
                ("samples_main",) if store.legacy else ()):
            db.execute("DELETE FROM {} WHERE point_id = ?".format(table), (point_id,))
        db.execute("DELETE FROM points WHERE id = ?", (point_id,))
    if rows:
        groups = store.meta("groups_today") or {}
        if groups:  # a group that had the point is computed again from the samples
            store.set_meta("groups_today", {})
    return [name for _, name in rows]


def enforce_max_bytes(store, max_bytes):
    """Delete the oldest samples while the used pages exceed `max_bytes`; returns how many."""
    db = store.db
    removed = 0
    for _ in range(8):  # each round removes what the average sample size says is over
        used = used_bytes(db)
        if used <= max_bytes:
            break
        total = store.sample_total()
        if not total:
            break
        per_sample = used / float(total)
        excess = int((used - BOUND_HEADROOM * max_bytes) / per_sample) + 1
        store.move_recent()
        removed += store.drop_oldest_days(min(excess, total))
    if removed:
        store.recount()
    return removed


def before_commit(store, sla_config, now_ts, section):
    """Inside the commit's transaction."""
    from guestagent.sla import config as sla_config_module
    if now_ts is None:
        return
    done = {}
    # The days before today are packed into their rows once a day, at the first commit after
    # midnight.
    oldest = store.oldest_recent_ts()
    if oldest is not None and oldest < _day_start(now_ts):
        done["samples_packed"] = store.move_recent(_day_start(now_ts))
    if store.legacy:  # a store of schema 3, packed a few days at each commit
        done["legacy_samples_packed"] = store.pack_legacy()
    gone = prune_orphans(store, now_ts - sla_config["retention_days"] * 86400.0)
    if gone:
        done["points_removed"] = gone
    removed = enforce_max_bytes(store, sla_config_module.max_bytes(sla_config))
    if removed:
        done["samples_over_max_bytes"] = removed
    if done:
        section.setdefault("maintenance", {}).update(done)


def _day_start(ts):
    return ts - ts % 86400.0


def vacuum_due(store, now_ts):
    size, count, free = pages(store.db)
    if free * size < max(VACUUM_MIN_BYTES, VACUUM_MIN_SHARE * size * count):
        return False
    last = store.meta("vacuumed_ts")
    return last is None or now_ts is None or not (0 <= now_ts - last < VACUUM_EVERY_S)


def after_commit(store, now_ts, section):
    """After the commit (VACUUM cannot run inside a transaction)."""
    import sqlite3
    try:
        if not vacuum_due(store, now_ts):
            return
        before = store.size_bytes()
        store.db.execute("VACUUM")
        store.set_meta("vacuumed_ts", now_ts if now_ts is not None else time.time())
        section.setdefault("maintenance", {})["vacuumed_bytes"] = before - store.size_bytes()
    except (sqlite3.Error, OSError) as exc:
        # The state itself is committed; the space comes back another day.
        section.setdefault("maintenance", {})["vacuum_error"] = str(exc)
