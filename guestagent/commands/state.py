"""`guestagent state`: rebuild the SLA state from the journal, or show what it holds."""

import sys

from guestagent.statefile import fsync_path

HELP = "SLA state: `rebuild --journal DIR` from journal files, `show` its contents"


def add_arguments(parser):
    parser.add_argument("action", choices=("rebuild", "show"))
    from guestagent.cli import add_config_argument
    add_config_argument(parser, "its agent.state_dir and sla thresholds")
    parser.add_argument("--state-dir", metavar="DIR", help="state directory (default: from config)")
    parser.add_argument("--journal", metavar="DIR",
                        help="journal directory to rebuild from (default: the config's)")


def rebuild(path, journal_dir, sla_config, interval_s):
    """Replay every journal report through the cycle's own code into a new file, then swap it in.

    The old state stays in place until the new one is complete. Returns (reports, skipped)."""
    import os
    from guestagent.sinks import journal
    from guestagent.sla import apply
    from guestagent.sla import store as stores
    building = "{}.rebuild-{}".format(path, os.getpid())
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(building + suffix):
            os.remove(building + suffix)
    store = stores.Store(building)
    skipped = []
    count = 0
    seen = set()
    try:
        store.begin()
        for report in journal.read(journal_dir, skipped):
            cycle = report.get("cycle") if isinstance(report, dict) else None
            if not isinstance(cycle, dict) or cycle.get("started_ts") is None:
                skipped.append("report without cycle.started_ts")
                continue
            if cycle.get("id") in seen:
                continue
            seen.add(cycle.get("id"))
            # A report the agent cannot read (hand-edited, from a broken version) is skipped
            # alone: a savepoint undoes just its part.
            store.db.execute("SAVEPOINT report")
            try:
                apply.apply_report(store, sla_config, interval_s, report)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                store.db.execute("ROLLBACK TO report")
                store.db.execute("RELEASE report")
                skipped.append("cycle {}: {}: {}".format(cycle.get("id"), type(exc).__name__,
                                                         exc))
                continue
            store.db.execute("RELEASE report")
            store.set_meta("last_cycle_id", cycle.get("id"))
            store.set_meta("last_cycle_ts", cycle.get("started_ts"))
            count += 1
        # Outages that ended are in the journal's reports already: do not report them again.
        store.db.execute("UPDATE outages SET reported = 1 WHERE end_ts IS NOT NULL")
        store.set_meta("rebuilt_from", {"journal": journal_dir, "reports": count,
                                        "skipped": len(skipped)})
        store.commit()
        # One self-contained file (no log beside it) before it takes the old one's place.
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.db.execute("PRAGMA journal_mode=DELETE")
    except Exception:
        store.rollback()
        store.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(building + suffix):
                os.remove(building + suffix)
        raise
    store.close()
    fsync_path(building)
    old = "{}.old-{}".format(path, os.getpid())
    moved = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.rename(path + suffix, old + suffix)
            moved.append(old + suffix)
    os.rename(building, path)
    fsync_path(os.path.dirname(path) or ".")
    for name in moved:
        os.remove(name)
    return count, skipped


def show(path, out=None):
    import time
    out = out or sys.stdout
    from guestagent.sla import store as stores
    store = stores.Store(path)
    try:
        out.write("state {} (schema {}, {:.1f} KiB)\n".format(path, store.version,
                                                              store.size_bytes() / 1024.0))
        out.write("last cycle {}\n".format(store.meta("last_cycle_id") or "-"))
        rebuilt = store.meta("rebuilt_from")
        if rebuilt:
            out.write("rebuilt from {journal} ({reports} reports, {skipped} lines skipped)\n"
                      .format(**rebuilt))
        open_outages = dict((o["point_id"], o) for o in store.outages() if o["end_ts"] is None)
        out.write("{:<24} {:<10} {:>8} {:<20} {:<20}\n".format("TEST POINT", "ROLE", "SAMPLES",
                                                               "LAST SAMPLE (UTC)", "OUTAGE"))
        for point in store.points():
            row = store.db.execute("SELECT sample_count, last_ts FROM points WHERE id = ?",
                                   (point["id"],)).fetchone()
            last = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row[1])) if row[1] else "-"
            outage = open_outages.get(point["id"])
            since = ("since " + time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(outage["start_ts"]))
                     if outage else "-")
            out.write("{:<24} {:<10} {:>8} {:<20} {:<20}\n".format(
                point["name"][:24], point["role"][:10], row[0], last, since))
            counters = store.counters(point["id"])
            out.write("  " + ", ".join("{} {:g}".format(k, v) for k, v in sorted(counters.items())
                                       if v) + "\n")
    finally:
        store.close()


# The state exists but cannot be shown (corrupt, newer schema, unreadable): not a usage error.
EXIT_CANNOT_SHOW = 1


def unreadable(path):
    """Why `path` cannot be a state file, before SQLite gets to it; None when it may be one."""
    import os
    if not os.path.exists(path):
        return "no state at {}".format(path)
    if os.path.isdir(path):
        return "{} is a directory, not a state file: give --state-dir the directory that " \
            "holds it".format(path)
    return None


def _reason(exc):
    from guestagent.sla import store as stores
    if isinstance(exc, stores.StoreError):
        if "newer than" in str(exc):  # written by a later version (a downgrade)
            return "{}: run the agent version that wrote it, or move it aside and " \
                "`guestagent state rebuild` from the journal".format(exc)
        return str(exc)
    return "{}: {}".format(type(exc).__name__, exc)


def main(args):
    import os
    from guestagent import EXIT_OK, EXIT_USAGE
    from guestagent.cli import load_config
    from guestagent.sla import config as sla_config_module
    from guestagent.sla import store as stores
    config = load_config(args.config)
    if config is None:
        return EXIT_USAGE
    path = stores.path_in(args.state_dir or config.agent.state_dir)
    if args.action == "show":
        problem = unreadable(path)
        if problem:
            sys.stderr.write("guestagent state: {}\n".format(problem))
            return EXIT_USAGE
        try:
            show(path)
        except Exception as exc:  # sqlite3 errors, a newer schema, permissions
            sys.stderr.write("guestagent state: cannot show {}: {}\n".format(
                path, _reason(exc)))
            return EXIT_CANNOT_SHOW
        return EXIT_OK
    journal_dir = args.journal or config.journal.dir
    if not os.path.isdir(journal_dir):
        sys.stderr.write("guestagent state: no journal directory {}\n".format(journal_dir))
        return EXIT_USAGE
    from guestagent.cycle import CycleLock, Locked
    from guestagent import EXIT_LOCKED
    try:
        with CycleLock(os.path.dirname(path)):
            count, skipped = rebuild(path, journal_dir, sla_config_module.section(config),
                                     sla_config_module.interval_of(config))
    except Locked as exc:
        sys.stderr.write("guestagent state: {}\n".format(exc))
        return EXIT_LOCKED
    sys.stdout.write("rebuilt {} from {} report(s) in {}{}\n".format(
        path, count, journal_dir,
        "; {} line(s) skipped".format(len(skipped)) if skipped else ""))
    return EXIT_OK
