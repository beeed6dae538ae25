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
import sys
import time
from array import array

FILENAME = "sla.sqlite3"
SCHEMA_VERSION = 4
# Copies of corrupt files kept beside the state (the newest); older ones are removed.
CORRUPT_KEPT = 3
# The rollback journal kept between commits is cut back to this after a big commit.
JOURNAL_SIZE_LIMIT = 256 * 1024
# Days of one test point packed from the table of an older schema (samples_main) per commit: a
# quarter of 50 test points would take a router's cycle many times over in one go.
LEGACY_DAYS_PER_COMMIT = 128

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
    # 4: sample_days, into which samples_main is packed over the next commits (_to_sample_days,
    # below the class).
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
        self.legacy = False  # samples_main (schema 3's) still holds samples: see pack_legacy
        try:
            self._journal_mode()
            self.db.execute("PRAGMA synchronous=FULL")
            # Builds with SQLITE_SECURE_DELETE (Debian's, Fedora's and so CentOS 8's) zero every
            # freed page, which copies it to the rollback journal and writes it back: the
            # samples are not secrets, and FAST zeroes only what is written anyway.
            self.db.execute("PRAGMA secure_delete=FAST")
            self.version = self._migrate()
            self.legacy = self.db.execute("SELECT count(*) FROM sqlite_master WHERE type = "
                                          "'table' AND name = 'samples_main'").fetchone()[0] > 0
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
        self.db.execute("SELECT * FROM sample_days ORDER BY rowid DESC LIMIT 1").fetchall()
        if self.legacy:
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
                if version < len(MIGRATIONS):
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                else:
                    MIGRATED_BY_CODE[version - len(MIGRATIONS)](self.db)
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
        """Pack the recent samples older than `before_ts` (default all) into their test point's
        day rows; returns how many. The recent table is then emptied whole, which frees its
        pages without writing them, and the samples that stay (today's) are written back."""
        where, args = ("WHERE ts < ?", (before_ts,)) if before_ts is not None else ("", ())
        # Sorted by SQLite, one (point, day) at a time here: a rebuilt state's recent table can
        # hold weeks, more than a router's memory as rows.
        cursor = self.db.execute(
            "SELECT {} FROM samples_recent {} ORDER BY point_id, CAST(ts / 86400 AS INTEGER), "
            "rowid".format(SAMPLE_COLUMNS, where), args)
        moved, key, rows = 0, None, []
        for row in cursor:
            day_key = (row[0], _day(row[1]))
            if day_key != key:
                if rows:
                    self._add_to_day(key[0], key[1], rows)
                key, rows = day_key, []
            rows.append(row[1:])
            moved += 1
        if rows:
            self._add_to_day(key[0], key[1], rows)
        if not moved:
            return 0
        kept = [] if before_ts is None else self.db.execute(
            "SELECT {} FROM samples_recent WHERE ts >= ? ORDER BY rowid".format(SAMPLE_COLUMNS),
            (before_ts,)).fetchall()
        self.db.execute("DELETE FROM samples_recent")
        self.db.executemany(
            "INSERT INTO samples_recent ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)".format(
                SAMPLE_COLUMNS), kept)
        self._recent = None
        return moved

    def _add_to_day(self, point_id, day, rows, first=False):
        """`rows` join the point's day row (after what it holds; `first`: before it)."""
        found = self.db.execute("SELECT id, count, data FROM sample_days WHERE point_id = ? AND "
                                "day = ?", (point_id, day)).fetchone()
        if found is None:
            self._write_day(None, point_id, day, rows)
        else:
            held = _unpack(found[2], found[1])
            self._write_day(found[0], point_id, day, rows + held if first else held + rows)

    def _legacy_rows(self, point_id, since_ts=None, until_ts=None):
        """The point's samples still in samples_main (all older than its day rows), as
        samples_recent holds them, in recorded order."""
        if not self.legacy:
            return []
        where, args = _point_range(point_id, "ts", since_ts, "ts", until_ts)
        return self.db.execute("SELECT {} FROM samples_main WHERE {} ORDER BY rowid".format(
            SAMPLE_COLUMNS.split(", ", 1)[1], where), args).fetchall()

    def pack_legacy(self, days=None):
        """Pack up to `days` (LEGACY_DAYS_PER_COMMIT) test-point days of samples_main into day
        rows, each point's newest day first (so what stays there is older than every day row),
        and drop the table once it is empty; returns how many samples moved."""
        if not self.legacy:
            return 0
        days = LEGACY_DAYS_PER_COMMIT if days is None else days
        moved, packed = 0, 0
        ids = [r[0] for r in self.db.execute("SELECT DISTINCT point_id FROM samples_main")]
        while ids and packed < days:
            for point_id in list(ids):
                newest = self.db.execute("SELECT max(ts) FROM samples_main WHERE point_id = ?",
                                         (point_id,)).fetchone()[0]
                if newest is None:
                    ids.remove(point_id)
                    continue
                day_start = _day(newest) * 86400.0
                rows = self._legacy_rows(point_id, day_start)
                self._add_to_day(point_id, _day(newest), rows, first=True)
                self.db.execute("DELETE FROM samples_main WHERE point_id = ? AND ts >= ?",
                                (point_id, day_start))
                moved += len(rows)
                packed += 1
                if packed >= days:
                    break
        if not ids:  # all packed
            self.db.execute("DROP TABLE samples_main")
            self.legacy = False
        return moved

    def _write_day(self, row_id, point_id, day, rows):
        """A day row (a new one when `row_id` is None) holding `rows`; none: the row goes."""
        if not rows:
            self.db.execute("DELETE FROM sample_days WHERE id = ?", (row_id,))
            return
        values = (min(r[0] for r in rows), max(r[0] for r in rows), len(rows),
                  sqlite3.Binary(_pack(rows)))
        if row_id is None:
            self.db.execute("INSERT INTO sample_days (point_id, day, first_ts, last_ts, count, "
                            "data) VALUES (?, ?, ?, ?, ?, ?)", (point_id, day) + values)
        else:
            self.db.execute("UPDATE sample_days SET first_ts = ?, last_ts = ?, count = ?, "
                            "data = ? WHERE id = ?", values + (row_id,))

    def _day_rows(self, point_id, since_ts=None, until_ts=None):
        """The point's packed rows of the days that [since_ts, until_ts) touches, in day order
        (not cut to it)."""
        where, args = _point_range(point_id, "last_ts", since_ts, "first_ts", until_ts)
        out = []
        for count, data in self.db.execute("SELECT count, data FROM sample_days WHERE {} ORDER "
                                           "BY day".format(where), args):
            out.extend(_unpack(data, count))
        return out

    def oldest_recent_ts(self):
        return self.db.execute("SELECT min(ts) FROM samples_recent").fetchone()[0]

    def window_values(self, point_id, since_ts, before_ts):
        """Valid (delay_ms, loss_ratio, jitter_ms) of a point with since_ts <= ts < before_ts."""
        rows = [] if not self.legacy else self.db.execute(
            "SELECT delay_ms, loss_ratio, jitter_ms FROM samples_main WHERE point_id = ? AND "
            "ts >= ? AND ts < ? AND error = 0", (point_id, since_ts, before_ts)).fetchall()
        for first_ts, last_ts, count, data in self.db.execute(
                "SELECT first_ts, last_ts, count, data FROM sample_days WHERE point_id = ? AND "
                "last_ts >= ? AND first_ts < ? ORDER BY day", (point_id, since_ts, before_ts)):
            rows.extend(_window_values(data, count, since_ts, before_ts,
                                       since_ts <= first_ts and last_ts < before_ts))
        rows.extend(r[5:8] for r in self._recent_rows(point_id)
                    if not r[1] and since_ts <= r[0] < before_ts)
        return rows

    def records(self, point, since_ts=None, until_ts=None, before=1):
        """Engine records of a point in recorded order; `before` samples preceding since_ts are
        included (they stand for time inside the window)."""
        recent = [r for r in self._recent_rows(point["id"])
                  if until_ts is None or r[0] < until_ts]
        first = None
        if since_ts is not None:
            earlier = [r[0] for r in recent if r[0] < since_ts]
            for count, data in self.db.execute(
                    "SELECT count, data FROM sample_days WHERE point_id = ? AND first_ts < ? "
                    "ORDER BY day DESC", (point["id"], since_ts)):
                earlier.extend(r[0] for r in _unpack(data, count) if r[0] < since_ts)
                if len(earlier) >= before:
                    break
            if len(earlier) < before and self.legacy:
                earlier.extend(r[0] for r in self.db.execute(
                    "SELECT ts FROM samples_main WHERE point_id = ? AND ts < ? ORDER BY ts DESC "
                    "LIMIT ?", (point["id"], since_ts, before)))
            earlier = sorted(earlier, reverse=True)[:before]
            first = earlier[-1] if earlier else since_ts
            recent = [r for r in recent if r[0] >= first]
        stored = self._legacy_rows(point["id"], first, until_ts) + [
            r for r in self._day_rows(point["id"], first, until_ts)
            if (first is None or r[0] >= first) and (until_ts is None or r[0] < until_ts)]
        out = []
        for row in stored + recent:
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

    def sample_rows(self, point_id=None):
        """Every stored sample as (point_id, ts, error, ...: SAMPLE_COLUMNS), by test point then
        recorded order. The day rows cannot be read in SQL, so whoever looks into a state file
        reads them here (the tests do; the cycle reads through records and window_values)."""
        ids = [point_id] if point_id is not None else [r[0] for r in self.db.execute(
            "SELECT DISTINCT point_id FROM sample_days UNION SELECT DISTINCT point_id FROM "
            "samples_recent{} ORDER BY 1".format(
                " UNION SELECT DISTINCT point_id FROM samples_main" if self.legacy else ""))]
        return [(pid,) + tuple(r) for pid in ids for r in self._legacy_rows(pid) +
                self._day_rows(pid) + list(self._recent_rows(pid))]

    def sample_total(self):
        return (self.db.execute("SELECT coalesce(sum(count), 0) FROM sample_days").fetchone()[0] +
                self.db.execute("SELECT count(*) FROM samples_recent").fetchone()[0] +
                (self.db.execute("SELECT count(*) FROM samples_main").fetchone()[0]
                 if self.legacy else 0))

    def recount(self):
        """Every test point's sample_count from what the tables hold."""
        self.db.execute(
            "UPDATE points SET sample_count = (SELECT coalesce(sum(count), 0) FROM sample_days "
            "WHERE sample_days.point_id = points.id) + (SELECT count(*) FROM samples_recent "
            "WHERE samples_recent.point_id = points.id){}".format(
                " + (SELECT count(*) FROM samples_main WHERE samples_main.point_id = points.id)"
                if self.legacy else ""))

    def prune(self, point_id, before_ts, max_samples, daily=False):
        """Drop samples older than `before_ts` (the retention; None: not now), then the oldest
        beyond the bound. (`daily` is for working.Working, which batches the retention; it
        passes a day's start, so that whole day rows go and none is rewritten.)"""
        removed = 0
        if before_ts is not None:
            if self.legacy:
                removed += self.db.execute(
                    "DELETE FROM samples_main WHERE point_id = ? AND ts < ?",
                    (point_id, before_ts)).rowcount
            for row_id, held, data, last_ts in self.db.execute(
                    "SELECT id, count, data, last_ts FROM sample_days WHERE point_id = ? AND "
                    "first_ts < ?", (point_id, before_ts)).fetchall():
                kept = [] if last_ts < before_ts else [
                    r for r in _unpack(data, held) if r[0] >= before_ts]
                self._write_day(row_id, point_id, None, kept)
                removed += held - len(kept)
            removed += self.db.execute(
                "DELETE FROM samples_recent WHERE point_id = ? AND ts < ?",
                (point_id, before_ts)).rowcount
        count = self.db.execute("SELECT sample_count FROM points WHERE id = ?",
                                (point_id,)).fetchone()[0] - removed
        if count > max_samples:
            excess = count - max_samples
            if self.legacy:
                gone = self.db.execute(
                    "DELETE FROM samples_main WHERE rowid IN (SELECT rowid FROM samples_main "
                    "WHERE point_id = ? ORDER BY ts LIMIT ?)", (point_id, excess)).rowcount
                removed += gone
                excess -= gone
            for row_id, held, data in self.db.execute(
                    "SELECT id, count, data FROM sample_days WHERE point_id = ? ORDER BY day",
                    (point_id,)).fetchall():
                if excess <= 0:
                    break
                rows = sorted(_unpack(data, held), key=lambda r: r[0])
                kept = [] if held <= excess else rows[excess:]
                self._write_day(row_id, point_id, None, kept)
                removed += held - len(kept)
                excess -= held - len(kept)
            if excess > 0:
                removed += self.db.execute(
                    "DELETE FROM samples_recent WHERE rowid IN (SELECT rowid FROM samples_recent "
                    "WHERE point_id = ? ORDER BY ts LIMIT ?)", (point_id, excess)).rowcount
        if removed:
            self.db.execute("UPDATE points SET sample_count = sample_count - ? WHERE id = ?",
                            (removed, point_id))
            self._recent = None
        return removed

    def drop_oldest_days(self, at_least):
        """Remove the oldest day rows of all test points until `at_least` samples are gone;
        returns how many went (whole days: the byte bound leaves headroom anyway)."""
        removed = 0
        if self.legacy:
            removed += self.db.execute(
                "DELETE FROM samples_main WHERE rowid IN (SELECT rowid FROM samples_main ORDER BY "
                "ts LIMIT ?)", (at_least,)).rowcount
        for row_id, count in self.db.execute(
                "SELECT id, count FROM sample_days ORDER BY first_ts, id").fetchall():
            if removed >= at_least:
                break
            self.db.execute("DELETE FROM sample_days WHERE id = ?", (row_id,))
            removed += count
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
        row = self.db.execute("SELECT min(first_ts), max(last_ts) FROM sample_days WHERE "
                              "point_id = ?", (point_id,)).fetchone()
        first, last = (row[0], row[1]) if row else (None, None)
        if self.legacy:
            lo, hi = self.db.execute("SELECT min(ts), max(ts) FROM samples_main WHERE "
                                     "point_id = ?", (point_id,)).fetchone()
            if lo is not None:
                first = lo if first is None else min(first, lo)
                last = hi if last is None else max(last, hi)
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


def _point_range(point_id, since_column, since_ts, until_column, until_ts):
    """(WHERE clause, arguments): the point's rows with since_column >= since_ts and
    until_column < until_ts, each bound left out when None."""
    clauses, args = ["point_id = ?"], [point_id]
    if since_ts is not None:
        clauses.append(since_column + " >= ?")
        args.append(since_ts)
    if until_ts is not None:
        clauses.append(until_column + " < ?")
        args.append(until_ts)
    return " AND ".join(clauses), args


def _compact(value):
    """JSON without spaces: the rows rewritten at each commit take fewer pages."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _int(value):
    return None if value is None else int(bool(value))


def _bool(value):
    return None if value is None else bool(value)


# -- the day rows ---------------------------------------------------------------------------------
# One row per test point and UTC day holds that day's samples, packed: a day's samples are
# written into the file once, when the day is over, and leave it as one row at the retention.
# (Rows of their own with a (point, time) index had each sample written twice, the index leaf
# of every test point rewritten daily, and the retention's deletes rewrite every page of the
# oldest day: half of all the store wrote, bench/bench_sla.py --history-days 100.)
#
# Layout (DAY_FORMAT 1): one byte 1, then zlib of the columns one after another, little-endian:
# ts, sent, received, delay_ms, loss_ratio, jitter_ms as doubles (NaN: NULL, as SQLite keeps
# a NaN), and 16-bit flags: bit 0 error; bits 1-2 available, 3-4 within_delay, 5-6
# within_loss, 7-8 within_jitter, each 0 NULL, 1 false, 2 true.
DAY_FORMAT = 1
_NAN = float("nan")
_LITTLE = sys.byteorder == "little"


def _day(ts):
    return int(ts // 86400)


def _three(value):
    return 0 if value is None else (2 if value else 1)


def _pack(rows):
    """rows: (ts, error, available, sent, received, delay_ms, loss_ratio, jitter_ms,
    within_delay, within_loss, within_jitter) tuples, as samples_recent holds them."""
    import zlib
    columns = [array("d", [r[0] for r in rows])]
    for index in (3, 4, 5, 6, 7):
        columns.append(array("d", [_NAN if r[index] is None or r[index] != r[index]
                                   else r[index] for r in rows]))
    columns.append(array("H", [(1 if r[1] else 0) | _three(r[2]) << 1 | _three(r[8]) << 3 |
                               _three(r[9]) << 5 | _three(r[10]) << 7 for r in rows]))
    if not _LITTLE:
        for column in columns:
            column.byteswap()
    return _FORMAT_BYTE + zlib.compress(b"".join(
        c.tobytes() for c in columns), 6)


def _columns(data, count):
    """The columns of a day row: ts, sent, received, delay_ms, loss_ratio, jitter_ms (arrays of
    doubles), flags, and the payload; a row that does not decode is corruption (moved aside)."""
    import zlib
    data = bytes(data)
    try:
        if data[:1] != _FORMAT_BYTE:
            raise ValueError("format {!r}".format(data[:1]))
        payload = zlib.decompress(data[1:])
        if len(payload) != count * (6 * 8 + 2):
            raise ValueError("{} bytes for {} samples".format(len(payload), count))
    except (ValueError, zlib.error) as exc:
        raise sqlite3.DatabaseError("malformed day row in the SLA state: {}".format(exc))
    columns = []
    for index in range(6):
        column = array("d")
        column.frombytes(payload[index * 8 * count:(index + 1) * 8 * count])
        columns.append(column)
    flags = array("H")
    flags.frombytes(payload[48 * count:])
    if not _LITTLE:
        for column in columns + [flags]:
            column.byteswap()
    return columns + [flags, payload]


def _unpack(data, count):
    """The rows `_pack` was given."""
    ts, sent, received, delay, loss, jitter, flags, _ = _columns(data, count)
    three = _THREE
    return [(t, f & 1, three[f >> 1 & 3], _count(s), _count(r), None if d != d else d,
             None if l != l else l, None if j != j else j, three[f >> 3 & 3], three[f >> 5 & 3],
             three[f >> 7 & 3])
            for t, s, r, d, l, j, f in zip(ts, sent, received, delay, loss, jitter, flags)]


def _window_values(data, count, since_ts, before_ts, whole):
    """(delay_ms, loss_ratio, jitter_ms) of the valid samples in [since_ts, before_ts); `whole`:
    the day row lies inside it. The baselines read 14 days of every test point this way: a day
    with no error and no NULL value is zipped whole, in C."""
    ts, _, _, delay, loss, jitter, flags, payload = _columns(data, count)
    if whole and _NAN_BYTES not in payload[24 * count:48 * count] and not any(
            payload[48 * count::2].translate(_ERROR_BIT)):
        return list(zip(delay, loss, jitter))
    return [(None if d != d else d, None if l != l else l, None if j != j else j)
            for t, f, d, l, j in zip(ts, flags, delay, loss, jitter)
            if not f & 1 and since_ts <= t < before_ts]


_FORMAT_BYTE = bytes(bytearray([DAY_FORMAT]))
_THREE = (None, 0, 1, None)
_NAN_BYTES = array("d", [_NAN]).tobytes()
# Maps a flags word's low byte to its error bit (bytes.translate: the test runs in C).
_ERROR_BIT = bytes(bytearray(b & 1 for b in range(256)))


def _count(number):
    if number != number:
        return None
    return int(number) if number.is_integer() else number


def _to_sample_days(db):
    """Schema 4: the day rows. samples_main stays until `Store.pack_legacy` has packed it, a few
    days at each commit (all at once would not fit a router's cycle in a big store)."""
    db.execute("CREATE TABLE sample_days (id INTEGER PRIMARY KEY, point_id INTEGER NOT NULL, "
               "day INTEGER NOT NULL, first_ts REAL NOT NULL, last_ts REAL NOT NULL, "
               "count INTEGER NOT NULL, data BLOB NOT NULL)")
    db.execute("CREATE UNIQUE INDEX sample_days_point_day ON sample_days (point_id, day)")
    db.execute("DROP VIEW samples")


# Migrations written in code, after those in SQL: entry i brings len(MIGRATIONS) + i to the next.
MIGRATED_BY_CODE = [_to_sample_days]
