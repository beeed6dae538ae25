"""The SLA state across cycles: one SQLite file, `<state_dir>/sla.sqlite3`.

Each cycle writes in ONE transaction, so a crash or a power loss mid-write leaves the previous
state as it was (SQLite's write-ahead log). `synchronous=FULL`: the log is fsync'd at each commit;
at one commit per cycle the cost is nothing, and a commit lost at power loss would report a
closed outage twice or lose counter increments. A file that is not a database any more is moved
aside (`sla.sqlite3.corrupt-<time>`) and a fresh one started; a full disk makes the cycle's write
fail (rolled back) and the cycle goes on. docs/sla.md describes the tables.
"""

import json
import os
import sqlite3
import time

FILENAME = "sla.sqlite3"
SCHEMA_VERSION = 2

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
]

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


def move_aside(path):
    """Rename a corrupt database (and its log) out of the way; returns the new name."""
    aside = "{}.corrupt-{}".format(path, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.rename(path + suffix, aside + suffix)
    return aside


class Store(object):
    def __init__(self, path, timeout_s=2.0):
        self.path = path
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, mode=0o750)
        self.db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.version = self._migrate()
        except Exception:
            self.db.close()
            raise

    @classmethod
    def open(cls, path):
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
            aside = move_aside(path)
            return cls(path), "state {} was corrupt ({}); moved to {}, started afresh".format(
                path, exc, aside)

    def check(self):
        """A cheap sanity read of every table (a full integrity check would read the whole file
        on slow flash each cycle); corruption found later in the cycle is handled there."""
        for table in ("points", "outages", "counters", "meta"):
            self.db.execute("SELECT * FROM {} LIMIT 1".format(table)).fetchall()
        self.db.execute("SELECT * FROM samples ORDER BY rowid DESC LIMIT 1").fetchall()

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
                        (key, json.dumps(value)))

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
            "outage_state, sample_count, baselines FROM points WHERE name = ?", (name,))
        row = cursor.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in cursor.description], row))
        out["groups"] = json.loads(out["groups"])
        out["outage_state"] = json.loads(out["outage_state"] or "{}")
        out["baselines"] = json.loads(out["baselines"] or "{}")
        return out

    def points(self):
        cursor = self.db.execute("SELECT id, name, kind, role, groups FROM points ORDER BY name")
        return [{"id": r[0], "name": r[1], "kind": r[2], "role": r[3], "groups": json.loads(r[4])}
                for r in cursor]

    def save_point(self, point_id, last_ts, last_error, last_available, outage_state,
                   baselines):
        self.db.execute("UPDATE points SET last_ts = ?, last_error = ?, last_available = ?, "
                        "outage_state = ?, baselines = ? WHERE id = ?",
                        (last_ts, int(last_error), _int(last_available), json.dumps(outage_state),
                         json.dumps(baselines, sort_keys=True), point_id))

    # -- samples ---------------------------------------------------------------------------------
    def insert_sample(self, point_id, record):
        values = record["values"]
        verdicts = record.get("within") or {}
        self.db.execute(
            "INSERT INTO samples (point_id, ts, error, available, sent, received, delay_ms, "
            "loss_ratio, jitter_ms, within_delay, within_loss, within_jitter) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (point_id, record["ts"], int(record["error"]), _int(record["available"]),
             record.get("sent"), record.get("received"), values.get("delay_ms"),
             values.get("loss_ratio"), values.get("jitter_ms"),
             _int(verdicts.get("delay_ms")), _int(verdicts.get("loss_ratio")),
             _int(verdicts.get("jitter_ms"))))
        self.db.execute("UPDATE points SET sample_count = sample_count + 1 WHERE id = ?",
                        (point_id,))

    def window_values(self, point_id, since_ts, before_ts):
        """Valid (delay_ms, loss_ratio, jitter_ms) of a point with since_ts <= ts < before_ts."""
        return self.db.execute(
            "SELECT delay_ms, loss_ratio, jitter_ms FROM samples WHERE point_id = ? AND ts >= ? "
            "AND ts < ? AND error = 0", (point_id, since_ts, before_ts)).fetchall()

    def records(self, point, since_ts=None, until_ts=None, before=1):
        """Engine records of a point in recorded order; `before` samples preceding since_ts are
        included (they stand for time inside the window)."""
        clauses, args = ["point_id = ?"], [point["id"]]
        if since_ts is not None:
            first = self.db.execute(
                "SELECT min(ts) FROM (SELECT ts FROM samples WHERE point_id = ? AND ts < ? "
                "ORDER BY ts DESC LIMIT ?)", (point["id"], since_ts, before)).fetchone()[0]
            clauses.append("ts >= ?")
            args.append(first if first is not None else since_ts)
        if until_ts is not None:
            clauses.append("ts < ?")
            args.append(until_ts)
        cursor = self.db.execute(
            "SELECT ts, error, available, sent, received, delay_ms, loss_ratio, jitter_ms, "
            "within_delay, within_loss, within_jitter FROM samples WHERE {} ORDER BY rowid".format(
                " AND ".join(clauses)), args)
        out = []
        for row in cursor:
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

    def prune(self, point_id, before_ts, max_samples):
        """Drop samples older than the retention, then the oldest beyond the bound."""
        removed = self.db.execute("DELETE FROM samples WHERE point_id = ? AND ts < ?",
                                  (point_id, before_ts)).rowcount
        count = self.db.execute("SELECT sample_count FROM points WHERE id = ?",
                                (point_id,)).fetchone()[0] - removed
        if count > max_samples:
            excess = count - max_samples
            removed += self.db.execute(
                "DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples WHERE point_id = ? "
                "ORDER BY ts LIMIT ?)", (point_id, excess)).rowcount
        if removed:
            self.db.execute("UPDATE points SET sample_count = sample_count - ? WHERE id = ?",
                            (removed, point_id))
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

    def counters(self, point_id):
        out = dict((name, 0.0) for name in COUNTERS)
        for name, value in self.db.execute("SELECT name, value FROM counters WHERE point_id = ?",
                                           (point_id,)):
            out[name] = value
        return out

    def size_bytes(self):
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(self.path + suffix)
            except OSError:
                pass
        return total


def _int(value):
    return None if value is None else int(bool(value))


def _bool(value):
    return None if value is None else bool(value)
