"""The SLA state across cycles: one SQLite file, `<state_dir>/sla.sqlite3`.

A commit writes in ONE transaction, so a crash or a power loss mid-write leaves the previous
state as it was (SQLite's rollback journal, kept in place between commits: `journal_mode=PERSIST`,
so no file is created and deleted per commit, and reading the state writes nothing).
`synchronous=FULL`: the journal and the file are fsync'd at each commit. The store is committed
only every `sla.commit_every` journaled reports; `working.Working` holds the reports in between
(replayed from the journal each cycle). A file that is not a database any more is moved aside
(`sla.sqlite3.corrupt-<time>`, at most `CORRUPT_KEPT` kept) and a fresh one started; a full disk
makes the write fail (rolled back) and the cycle goes on. docs/sla.md describes the tables.
"""

import json
import os
import sqlite3
import time

FILENAME = "sla.sqlite3"
SCHEMA_VERSION = 3
# Copies of corrupt files kept beside the state (the newest); older ones are removed.
CORRUPT_KEPT = 3
# The rollback journal kept between commits is cut back to this after a big commit.
JOURNAL_SIZE_LIMIT = 256 * 1024

# Each migration brings the schema from version i to i + 1 (index i).
MIGRATIONS = [
    """
    CREATE TABLE points (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        role TEXT NOT NULL,
        groups TEXT NOT NULL DEFAULT '[]',
        last_ts REAL,               -- newest sample (valid or not)
        last_error INTEGER,         -- it was a measurement error
        last_available INTEGER,
        outage_state TEXT NOT NULL DEFAULT '{}',   -- the outage detector between cycles
        sample_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE samples (
        point_id INTEGER NOT NULL,
        ts REAL NOT NULL,
        error INTEGER NOT NULL,     -- measurement error: excluded from availability/baselines
        available INTEGER,
        sent INTEGER,               -- packets (icmp) or queries (dns)
        received INTEGER,
        delay_ms REAL,              -- median RTT (icmp) / median response time (dns)
        loss_ratio REAL,
        jitter_ms REAL,
        within_delay INTEGER,       -- verdicts at the time: 1, 0, NULL (learning)
        within_loss INTEGER,
        within_jitter INTEGER
    );
    CREATE INDEX samples_point_ts ON samples (point_id, ts);
    CREATE TABLE outages (
        id INTEGER PRIMARY KEY,
        point_id INTEGER NOT NULL,
        start_ts REAL NOT NULL,
        end_ts REAL,                -- NULL: still open
        reported INTEGER NOT NULL DEFAULT 0   -- a closed outage goes into one report only
    );
    CREATE INDEX outages_point ON outages (point_id, start_ts);
    CREATE TABLE counters (
        point_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (point_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
    """,
    # 2: baselines kept between cycles (recomputed every baseline_refresh_s, not every sample)
    """
    ALTER TABLE points ADD COLUMN baselines TEXT NOT NULL DEFAULT '{}';
    """,
    # 3: the day's running sums (availability, Fa) kept between cycles: no re-read of the day;
    # new samples go to an unindexed table appended at its end and move to the indexed one once
    # a day (an insert into the (point, time) index dirties one leaf page per test point: most
    # of what a commit wrote); `samples` reads both.
    """
    ALTER TABLE points ADD COLUMN today TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE samples RENAME TO samples_main;
    CREATE TABLE samples_recent (
        point_id INTEGER NOT NULL, ts REAL NOT NULL, error INTEGER NOT NULL, available INTEGER,
        sent INTEGER, received INTEGER, delay_ms REAL, loss_ratio REAL, jitter_ms REAL,
        within_delay INTEGER, within_loss INTEGER, within_jitter INTEGER
    );
    CREATE VIEW samples AS SELECT * FROM samples_main UNION ALL SELECT * FROM samples_recent;
    """,
]

SAMPLE_COLUMNS = ("point_id, ts, error, available, sent, received, delay_ms, loss_ratio, "
                  "jitter_ms, within_delay, within_loss, within_jitter")

WITHIN_COLUMNS = {"delay_ms": "within_delay", "loss_ratio": "within_loss",
                  "jitter_ms": "within_jitter"}
COUNTERS = ("packets_sent", "packets_received", "dns_queries_sent", "dns_queries_answered",
            "known_seconds", "available_seconds", "outage_seconds", "outages")


class StoreError(Exception):
    """The store cannot be used this cycle (full disk, read-only, locked)."""


class Corrupt(Exception):
    pass


def path_in(state_dir):
    return os.path.join(state_dir, FILENAME)


def _is_corruption(exc):
    """SQLITE_CORRUPT and SQLITE_NOTADB arrive as plain DatabaseError; its subclasses (full disk,
    locked, a constraint) are not reasons to throw the state away."""
    text = str(exc).lower()
    return type(exc) is sqlite3.DatabaseError or "malformed" in text or "not a database" in text


def _why_not_writable(path):
    """Why SQLite may have failed (it says "unable to open database file" or "disk I/O error"
    when its -wal/-shm files cannot be made): a read-only or full file system."""
    directory = os.path.dirname(path) or "."
    try:
        stat = os.statvfs(directory)
    except OSError:
        return ""
    if stat.f_flag & getattr(os, "ST_RDONLY", 1):
        return " (the file system of {} is read-only)".format(directory)
    if stat.f_bavail * stat.f_frsize < 64 * 1024:
        return " (the file system of {} is full)".format(directory)
    return ""


def move_aside(path, keep=None):
    """Rename a corrupt database (and its log) out of the way; returns the new name. Only the
    newest `keep` (CORRUPT_KEPT) copies stay: a file that keeps going bad cannot fill the flash."""
    aside = "{}.corrupt-{}".format(path, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    if os.path.exists(aside):  # twice in one second
        aside = "{}-{}".format(aside, os.getpid())
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.rename(path + suffix, aside + suffix)
    prune_corrupt(path, CORRUPT_KEPT if keep is None else keep)
    return aside


def corrupt_copies(path):
    """The corrupt copies beside `path` (their main files), oldest first."""
    directory, base = os.path.split(path)
    prefix = base + ".corrupt-"
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    found = [n for n in names if n.startswith(prefix) and not n.endswith(
        ("-wal", "-shm", "-journal"))]
    found.sort(key=lambda n: (_mtime(os.path.join(directory, n)), n))
    return [os.path.join(directory, n) for n in found]


def _mtime(path):
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


def prune_corrupt(path, keep):
    """Remove all but the newest `keep` corrupt copies (with their logs); returns the removed."""
    copies = corrupt_copies(path)
    removed = copies[:max(0, len(copies) - keep)]
    for name in removed:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(name + suffix)
            except OSError:
                pass
    return removed


class Store(object):
    def __init__(self, path, timeout_s=2.0):
        self.path = path
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, mode=0o750)
        # One thread at a time, but not always the one that opened it: the cycle opens the
        # state and replays the journal while the probes run (sla.prepare).
        self.db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None,
                                  check_same_thread=False)
        self._recent = None
        try:
            self._journal_mode()
            self.db.execute("PRAGMA synchronous=FULL")
            self.version = self._migrate()
        except Exception:
            self.db.close()
            raise

    def _journal_mode(self):
        """A rollback journal kept in place (PERSIST): a WAL file and its -shm are created at
        every open and deleted at every close, which writes the directory each cycle. A state
        written by an older agent (WAL) is switched once; if another process has it open it
        stays as it is this time."""
        try:
            self.db.execute("PRAGMA journal_mode=PERSIST")
        except sqlite3.OperationalError:
            pass
        self.db.execute("PRAGMA journal_size_limit={:d}".format(JOURNAL_SIZE_LIMIT))

    @classmethod
    def open(cls, path, corrupt_kept=None):
        """Open (creating, migrating); a corrupt file is moved aside and a fresh one started.
        Returns (store, note) where note says what happened to a corrupt file, else None."""
        try:
            store = cls(path)
            store.check()
            return store, None
        except OSError as exc:
            raise StoreError("cannot open {}: {}{}".format(path, exc.strerror or exc,
                                                           _why_not_writable(path)))
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise StoreError("cannot open {}: {}{}".format(path, exc,
                                                               _why_not_writable(path)))
            aside = move_aside(path, corrupt_kept)
            return cls(path), "state {} was corrupt ({}); moved to {}, started afresh".format(
                path, exc, aside)

    def check(self):
        """A cheap sanity read of every table (a full integrity check would read the whole file
        on slow flash each cycle); corruption found later in the cycle is handled there."""
        for table in ("points", "outages", "counters", "meta"):
            self.db.execute("SELECT * FROM {} LIMIT 1".format(table)).fetchall()
        self.db.execute("SELECT * FROM samples_main ORDER BY rowid DESC LIMIT 1").fetchall()
        self.db.execute("SELECT * FROM samples_recent ORDER BY rowid DESC LIMIT 1").fetchall()

    def close(self):
        self.db.close()

    def _migrate(self):
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        version = row[0] or 0
        if version > SCHEMA_VERSION:
            raise StoreError("state {} has schema version {}, newer than this agent's {}".format(
                self.path, version, SCHEMA_VERSION))
        while version < SCHEMA_VERSION:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                version += 1
                self.db.execute("DELETE FROM schema_version")
                self.db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                self.db.execute("COMMIT")
            except Exception:
                self.db.execute("ROLLBACK")
                raise
        return version

    # -- transactions ----------------------------------------------------------------------------
    def begin(self):
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self):
        self.db.execute("COMMIT")

    def rollback(self):
        self._recent = None
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    # -- meta ------------------------------------------------------------------------------------
    def meta(self, key, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key, value):
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        (key, _compact(value)))

    # -- test points -----------------------------------------------------------------------------
    def point(self, name, kind, role, groups):
        """The row of a test point (created on first sight; kind/role/groups follow the config)."""
        row = self._point_row(name)
        groups_json = json.dumps(sorted(groups or []))
        if row is None:
            self.db.execute("INSERT INTO points (name, kind, role, groups) VALUES (?, ?, ?, ?)",
                            (name, kind, role, groups_json))
            row = self._point_row(name)
        elif (row["kind"], row["role"], row["groups"]) != (kind, role, sorted(groups or [])):
            self.db.execute("UPDATE points SET kind = ?, role = ?, groups = ? WHERE id = ?",
                            (kind, role, groups_json, row["id"]))
            row.update(kind=kind, role=role, groups=sorted(groups or []))
        return row

    def _point_row(self, name):
        cursor = self.db.execute(
            "SELECT id, name, kind, role, groups, last_ts, last_error, last_available, "
            "outage_state, sample_count, baselines, today FROM points WHERE name = ?", (name,))
        row = cursor.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in cursor.description], row))
        out["groups"] = json.loads(out["groups"])
        out["outage_state"] = json.loads(out["outage_state"] or "{}")
        out["baselines"] = json.loads(out["baselines"] or "{}")
        out["today"] = json.loads(out["today"] or "{}")
        return out

    def point_rows(self):
        """Every test point's full row (as `point` returns it), by id."""
        cursor = self.db.execute(
            "SELECT id, name, kind, role, groups, last_ts, last_error, last_available, "
            "outage_state, sample_count, baselines, today FROM points ORDER BY id")
        columns = [d[0] for d in cursor.description]
        out = []
        for row in cursor:
            item = dict(zip(columns, row))
            item["groups"] = json.loads(item["groups"])
            item["outage_state"] = json.loads(item["outage_state"] or "{}")
            item["baselines"] = json.loads(item["baselines"] or "{}")
            item["today"] = json.loads(item["today"] or "{}")
            out.append(item)
        return out

    def set_today(self, point_id, today):
        self.db.execute("UPDATE points SET today = ? WHERE id = ?",
                        (_compact(today), point_id))

    def points(self):
        cursor = self.db.execute("SELECT id, name, kind, role, groups FROM points ORDER BY name")
        return [{"id": r[0], "name": r[1], "kind": r[2], "role": r[3], "groups": json.loads(r[4])}
                for r in cursor]

    def save_point(self, point_id, last_ts, last_error, last_available, outage_state,
                   baselines):
        self.db.execute("UPDATE points SET last_ts = ?, last_error = ?, last_available = ?, "
                        "outage_state = ?, baselines = ? WHERE id = ?",
                        (last_ts, int(last_error), _int(last_available), _compact(outage_state),
                         _compact(baselines), point_id))

    # -- samples ---------------------------------------------------------------------------------
    def insert_sample(self, point_id, record):
        values = record["values"]
        verdicts = record.get("within") or {}
        row = (point_id, record["ts"], int(record["error"]), _int(record["available"]),
               record.get("sent"), record.get("received"), values.get("delay_ms"),
               values.get("loss_ratio"), values.get("jitter_ms"),
               _int(verdicts.get("delay_ms")), _int(verdicts.get("loss_ratio")),
               _int(verdicts.get("jitter_ms")))
        self.db.execute(
            "INSERT INTO samples_recent ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)".format(
                SAMPLE_COLUMNS), row)
        self.db.execute("UPDATE points SET sample_count = sample_count + 1 WHERE id = ?",
                        (point_id,))
        if self._recent is not None:
            self._recent.setdefault(point_id, []).append(row[1:])

    def _recent_rows(self, point_id):
        """The point's rows of samples_recent, in recorded order: the table is read once for
        every test point (it has no index, and holds a day at most)."""
        if self._recent is None:
            self._recent = {}
            for row in self.db.execute("SELECT {} FROM samples_recent ORDER BY rowid".format(
                    SAMPLE_COLUMNS)):
                self._recent.setdefault(row[0], []).append(row[1:])
        return self._recent.get(point_id, ())

    def move_recent(self, before_ts=None):
        """Move the recent samples (older than `before_ts`, default all) into the indexed table;
        returns how many."""
        where, args = ("WHERE ts < ?", (before_ts,)) if before_ts is not None else ("", ())
        moved = self.db.execute("INSERT INTO samples_main ({0}) SELECT {0} FROM samples_recent "
                                "{1} ORDER BY point_id, rowid".format(SAMPLE_COLUMNS, where),
                                args).rowcount
        self.db.execute("DELETE FROM samples_recent " + where, args)
        self._recent = None
        return moved

    def oldest_recent_ts(self):
        return self.db.execute("SELECT min(ts) FROM samples_recent").fetchone()[0]

    def window_values(self, point_id, since_ts, before_ts):
        """Valid (delay_ms, loss_ratio, jitter_ms) of a point with since_ts <= ts < before_ts."""
        rows = self.db.execute(
            "SELECT delay_ms, loss_ratio, jitter_ms FROM samples_main WHERE point_id = ? AND "
            "ts >= ? AND ts < ? AND error = 0", (point_id, since_ts, before_ts)).fetchall()
        rows.extend(r[5:8] for r in self._recent_rows(point_id)
                    if not r[1] and since_ts <= r[0] < before_ts)
        return rows

    def records(self, point, since_ts=None, until_ts=None, before=1):
        """Engine records of a point in recorded order; `before` samples preceding since_ts are
        included (they stand for time inside the window)."""
        clauses, args = ["point_id = ?"], [point["id"]]
        recent = [r for r in self._recent_rows(point["id"])
                  if until_ts is None or r[0] < until_ts]
        if since_ts is not None:
            earlier = [r[0] for r in self.db.execute(
                "SELECT ts FROM samples_main WHERE point_id = ? AND ts < ? ORDER BY ts DESC "
                "LIMIT ?", (point["id"], since_ts, before))]
            earlier = sorted(earlier + [r[0] for r in recent if r[0] < since_ts],
                             reverse=True)[:before]
            first = earlier[-1] if earlier else since_ts
            clauses.append("ts >= ?")
            args.append(first)
            recent = [r for r in recent if r[0] >= first]
        if until_ts is not None:
            clauses.append("ts < ?")
            args.append(until_ts)
        cursor = self.db.execute(
            "SELECT ts, error, available, sent, received, delay_ms, loss_ratio, jitter_ms, "
            "within_delay, within_loss, within_jitter FROM samples_main WHERE {} "
            "ORDER BY rowid".format(" AND ".join(clauses)), args)
        out = []
        for row in list(cursor) + recent:
            out.append({
                "ts": row[0], "target": point["name"], "kind": point["kind"],
                "role": point["role"], "groups": point["groups"], "error": bool(row[1]),
                "available": None if row[2] is None else bool(row[2]), "sent": row[3],
                "received": row[4],
                "values": {"delay_ms": row[5], "loss_ratio": row[6], "jitter_ms": row[7]},
                "within": {"delay_ms": _bool(row[8]), "loss_ratio": _bool(row[9]),
                           "jitter_ms": _bool(row[10])},
            })
        return out

    def prune(self, point_id, before_ts, max_samples, daily=False):
        """Drop samples older than `before_ts` (the retention; None: not now), then the oldest
        beyond the bound. (`daily` is for working.Working, which batches the retention.)"""
        removed = 0
        if before_ts is not None:
            removed += self.db.execute("DELETE FROM samples_main WHERE point_id = ? AND ts < ?",
                                       (point_id, before_ts)).rowcount
            removed += self.db.execute(
                "DELETE FROM samples_recent WHERE point_id = ? AND ts < ?",
                (point_id, before_ts)).rowcount
        count = self.db.execute("SELECT sample_count FROM points WHERE id = ?",
                                (point_id,)).fetchone()[0] - removed
        if count > max_samples:
            excess = count - max_samples
            for table in ("samples_main", "samples_recent"):
                if excess <= 0:
                    break
                gone = self.db.execute(
                    "DELETE FROM {0} WHERE rowid IN (SELECT rowid FROM {0} WHERE point_id = ? "
                    "ORDER BY ts LIMIT ?)".format(table), (point_id, excess)).rowcount
                removed += gone
                excess -= gone
        if removed:
            self.db.execute("UPDATE points SET sample_count = sample_count - ? WHERE id = ?",
                            (removed, point_id))
            self._recent = None
        return removed

    # -- outages ---------------------------------------------------------------------------------
    def open_outage(self, point_id, start_ts):
        self.db.execute("INSERT INTO outages (point_id, start_ts) VALUES (?, ?)",
                        (point_id, start_ts))

    def close_outage(self, point_id, start_ts, end_ts):
        row = self.db.execute("SELECT id FROM outages WHERE point_id = ? AND end_ts IS NULL "
                              "ORDER BY id DESC LIMIT 1", (point_id,)).fetchone()
        if row is None:  # the detector state and the table disagree: keep the outage anyway
            self.db.execute("INSERT INTO outages (point_id, start_ts, end_ts) VALUES (?, ?, ?)",
                            (point_id, start_ts, end_ts))
        else:
            self.db.execute("UPDATE outages SET end_ts = ? WHERE id = ?", (end_ts, row[0]))

    def unreported_outages(self):
        """Closed outages not yet in a report, oldest first, marked reported in this transaction."""
        rows = self.db.execute(
            "SELECT o.id, p.name, p.role, p.kind, o.start_ts, o.end_ts FROM outages o "
            "JOIN points p ON p.id = o.point_id WHERE o.end_ts IS NOT NULL AND o.reported = 0 "
            "ORDER BY o.end_ts, o.id").fetchall()
        if rows:
            self.db.execute("UPDATE outages SET reported = 1 WHERE end_ts IS NOT NULL AND "
                            "reported = 0")
        return [{"target": r[1], "role": r[2], "kind": r[3], "start_ts": r[4], "end_ts": r[5],
                 "duration_s": max(0.0, r[5] - r[4])} for r in rows]

    def outages(self, point_id=None, since_ts=None):
        clauses, args = [], []
        if point_id is not None:
            clauses.append("point_id = ?")
            args.append(point_id)
        if since_ts is not None:
            clauses.append("(end_ts IS NULL OR end_ts >= ?)")
            args.append(since_ts)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return [{"point_id": r[0], "start_ts": r[1], "end_ts": r[2], "reported": bool(r[3])}
                for r in self.db.execute("SELECT point_id, start_ts, end_ts, reported FROM "
                                         "outages {} ORDER BY start_ts, id".format(where), args)]

    def prune_outages(self, before_ts):
        self.db.execute("DELETE FROM outages WHERE end_ts IS NOT NULL AND end_ts < ? AND "
                        "reported = 1", (before_ts,))

    # -- counters --------------------------------------------------------------------------------
    def add_counter(self, point_id, name, amount):
        if not amount:
            return
        self.db.execute("INSERT OR IGNORE INTO counters (point_id, name, value) VALUES (?, ?, 0)",
                        (point_id, name))
        self.db.execute("UPDATE counters SET value = value + ? WHERE point_id = ? AND name = ?",
                        (amount, point_id, name))

    def add_counters(self, point_id, amounts):
        """add_counter of each (name, amount), in order."""
        for name, amount in amounts:
            self.add_counter(point_id, name, amount)

    def counters(self, point_id):
        out = dict((name, 0.0) for name in COUNTERS)
        for name, value in self.db.execute("SELECT name, value FROM counters WHERE point_id = ?",
                                           (point_id,)):
            out[name] = value
        return out

    def extent(self, point_id):
        """(first, last) sample time of a test point, or (None, None)."""
        row = self.db.execute("SELECT min(ts), max(ts) FROM samples_main WHERE point_id = ?",
                              (point_id,)).fetchone()
        first, last = (row[0], row[1]) if row else (None, None)
        for r in self._recent_rows(point_id):
            first = r[0] if first is None else min(first, r[0])
            last = r[0] if last is None else max(last, r[0])
        return first, last

    def size_bytes(self):
        total = 0
        for suffix in ("", "-wal", "-journal"):
            try:
                total += os.path.getsize(self.path + suffix)
            except OSError:
                pass
        return total


def _compact(value):
    """JSON without spaces: the rows rewritten at each commit take fewer pages."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _int(value):
    return None if value is None else int(bool(value))


def _bool(value):
    return None if value is None else bool(value)
