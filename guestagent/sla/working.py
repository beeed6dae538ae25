"""The state as the cycles see it: the committed store plus, in memory, the journaled reports
it does not hold yet.

Committing SQLite costs the flash a dozen pages or more whatever the change (the file's header,
the points', counters' and meta rows, each copied to the rollback journal first), so the store
is committed only every `sla.commit_every` reports. In between, each cycle replays the
journal's reports newer than the store's watermark (`meta.last_cycle_id`) into this overlay
through the same `apply_report`, so its figures are the ones a rebuild from the journal gives.
`Working` has the methods of `store.Store` that `apply.py` and `report.py` use; `flush()` writes
everything into the store in the caller's transaction.
"""

import json

from guestagent.sla.store import COUNTERS, _compact


# The UTC day (days since the epoch) of the retention bound last applied.
RETENTION_META = "retention_pruned_day"


def _retention_day(prunes, outages_before):
    bounds = [before_ts for before_ts, _ in prunes.values() if before_ts is not None]
    if outages_before is not None:
        bounds.append(outages_before)
    return int(max(bounds) // 86400) if bounds else None


class Working(object):
    def __init__(self, store):
        self.store = store
        self.path = store.path
        self.version = store.version
        self._rows = dict((row["id"], row) for row in store.point_rows())
        self._by_name = dict((row["name"], row["id"]) for row in self._rows.values())
        self._new_points = set()
        self._dirty_points = set()
        self._counters = {}  # point id -> {name: value}
        for point_id, name, value in store.db.execute(
                "SELECT point_id, name, value FROM counters"):
            self._counters.setdefault(point_id, {})[name] = value
        self._dirty_counters = set()
        self._meta = dict((key, json.loads(value)) for key, value in store.db.execute(
            "SELECT key, value FROM meta"))
        self._dirty_meta = set()
        self._outages = [{"id": r[0], "point_id": r[1], "start_ts": r[2], "end_ts": r[3],
                          "reported": bool(r[4]), "new": False, "dirty": False}
                         for r in store.db.execute(
                             "SELECT id, point_id, start_ts, end_ts, reported FROM outages "
                             "WHERE end_ts IS NULL OR reported = 0 ORDER BY id")]
        self._next_outage_id = (store.db.execute("SELECT max(id) FROM outages").fetchone()[0]
                                or 0) + 1
        self._next_point_id = max(list(self._rows) or [0]) + 1
        self._samples = {}  # point id -> [records not in the store yet], in recorded order
        self._prune = {}
        self._prune_always = False  # a retention shorter than two days: no daily batch
        self._prune_outages_before = None
        self.pending_reports = 0
        self.thresholds = None  # apply._Thresholds of this pass's config

    # -- what apply.py uses ----------------------------------------------------------------------
    # What apply.py is given it does not change in place but replaces (outage_step, _verdicts
    # and _group_state build new values), so rows and values are handed out without a deep copy.
    def meta(self, key, default=None):
        return self._meta.get(key, default)

    def set_meta(self, key, value):
        self._meta[key] = value
        self._dirty_meta.add(key)

    def point(self, name, kind, role, groups):
        point_id = self._by_name.get(name)
        groups = sorted(groups or [])
        if point_id is None:
            point_id = self._next_point_id
            self._next_point_id += 1
            self._rows[point_id] = {
                "id": point_id, "name": name, "kind": kind, "role": role, "groups": groups,
                "last_ts": None, "last_error": None, "last_available": None, "outage_state": {},
                "sample_count": 0, "baselines": {}, "today": {}}
            self._by_name[name] = point_id
            self._new_points.add(point_id)
        row = self._rows[point_id]
        if (row["kind"], row["role"], row["groups"]) != (kind, role, groups):
            row.update(kind=kind, role=role, groups=groups)
            self._dirty_points.add(point_id)
        return dict(row)

    def points(self):
        return [{"id": r["id"], "name": r["name"], "kind": r["kind"], "role": r["role"],
                 "groups": list(r["groups"])}
                for r in sorted(self._rows.values(), key=lambda r: r["name"])]

    def point_rows(self):
        return [dict(self._rows[i]) for i in sorted(self._rows)]

    def save_point(self, point_id, last_ts, last_error, last_available, outage_state,
                   baselines):
        row = self._rows[point_id]
        row["last_ts"] = last_ts
        row["last_error"] = int(last_error)
        row["last_available"] = None if last_available is None else int(bool(last_available))
        row["outage_state"] = outage_state
        row["baselines"] = baselines
        self._dirty_points.add(point_id)

    def set_today(self, point_id, today):
        self._rows[point_id]["today"] = today
        self._dirty_points.add(point_id)

    def insert_sample(self, point_id, record):
        values = record["values"]
        verdicts = record.get("within") or {}
        delay, loss, jitter = (verdicts.get("delay_ms"), verdicts.get("loss_ratio"),
                               verdicts.get("jitter_ms"))
        available = record["available"]
        samples = self._samples.get(point_id)
        if samples is None:
            samples = self._samples[point_id] = []
        # As the store keeps them (0/1/NULL) and gives them back: bool or None.
        samples.append({
            "ts": record["ts"], "error": bool(record["error"]),
            "available": None if available is None else bool(available),
            "sent": record.get("sent"), "received": record.get("received"),
            "values": {"delay_ms": values.get("delay_ms"), "loss_ratio": values.get("loss_ratio"),
                       "jitter_ms": values.get("jitter_ms")},
            "within": {"delay_ms": None if delay is None else bool(delay),
                       "loss_ratio": None if loss is None else bool(loss),
                       "jitter_ms": None if jitter is None else bool(jitter)}})
        self._rows[point_id]["sample_count"] += 1

    def window_values(self, point_id, since_ts, before_ts):
        rows = [] if point_id in self._new_points else self.store.window_values(
            point_id, since_ts, before_ts)
        for sample in self._samples.get(point_id, ()):
            if not sample["error"] and since_ts <= sample["ts"] < before_ts:
                v = sample["values"]
                rows.append((v["delay_ms"], v["loss_ratio"], v["jitter_ms"]))
        return rows

    def records(self, point, since_ts=None, until_ts=None, before=1):
        """As `Store.records`: the store's records, then those not in it yet."""
        stored = [] if point["id"] in self._new_points else self.store.records(
            point, since_ts, until_ts, before)
        pending = [self._record(point, s) for s in self._samples.get(point["id"], ())]
        if since_ts is not None:
            earlier = sorted([r["ts"] for r in stored + pending if r["ts"] < since_ts],
                             reverse=True)[:before]
            first = earlier[-1] if earlier else since_ts
            stored = [r for r in stored if r["ts"] >= first]
            pending = [r for r in pending if r["ts"] >= first]
        if until_ts is not None:
            pending = [r for r in pending if r["ts"] < until_ts]
        return stored + pending

    @staticmethod
    def _record(point, sample):
        out = dict(sample, target=point["name"], kind=point["kind"], role=point["role"],
                   groups=point["groups"])
        out["values"] = dict(sample["values"])
        out["within"] = dict(sample["within"])
        return out

    def extent(self, point_id):
        first, last = (None, None) if point_id in self._new_points else self.store.extent(
            point_id)
        for sample in self._samples.get(point_id, ()):
            first = sample["ts"] if first is None else min(first, sample["ts"])
            last = sample["ts"] if last is None else max(last, sample["ts"])
        return first, last

    def prune(self, point_id, before_ts, max_samples, daily=False):
        """Done at the flush: retention is counted in days, a few hours more change nothing;
        with `daily`, the retention at the first flush of a UTC day only (flush())."""
        self._prune[point_id] = (before_ts, max_samples)
        if not daily:
            self._prune_always = True
        return 0

    def open_outage(self, point_id, start_ts):
        self._outages.append({"id": self._next_outage_id, "point_id": point_id,
                              "start_ts": start_ts, "end_ts": None, "reported": False,
                              "new": True, "dirty": True})
        self._next_outage_id += 1

    def close_outage(self, point_id, start_ts, end_ts):
        for outage in reversed(self._outages):
            if outage["point_id"] == point_id and outage["end_ts"] is None:
                outage.update(end_ts=end_ts, dirty=True)
                return
        self._outages.append({"id": self._next_outage_id, "point_id": point_id,
                              "start_ts": start_ts, "end_ts": end_ts, "reported": False,
                              "new": True, "dirty": True})
        self._next_outage_id += 1

    def unreported_outages(self):
        rows = sorted((o for o in self._outages if o["end_ts"] is not None and
                       not o["reported"]), key=lambda o: (o["end_ts"], o["id"]))
        out = []
        for outage in rows:
            outage.update(reported=True, dirty=True)
            point = self._rows[outage["point_id"]]
            out.append({"target": point["name"], "role": point["role"], "kind": point["kind"],
                        "start_ts": outage["start_ts"], "end_ts": outage["end_ts"],
                        "duration_s": max(0.0, outage["end_ts"] - outage["start_ts"])})
        return out

    def outages(self, point_id=None, since_ts=None):
        rows = {}
        for row in self.store.db.execute("SELECT id, point_id, start_ts, end_ts, reported FROM "
                                         "outages"):
            rows[row[0]] = {"id": row[0], "point_id": row[1], "start_ts": row[2],
                            "end_ts": row[3], "reported": bool(row[4])}
        for outage in self._outages:
            rows[outage["id"]] = outage
        out = []
        for o in sorted(rows.values(), key=lambda o: (o["start_ts"], o["id"])):
            if point_id is not None and o["point_id"] != point_id:
                continue
            if since_ts is not None and o["end_ts"] is not None and o["end_ts"] < since_ts:
                continue
            out.append({"point_id": o["point_id"], "start_ts": o["start_ts"],
                        "end_ts": o["end_ts"], "reported": o["reported"]})
        return out

    def prune_outages(self, before_ts):
        self._prune_outages_before = before_ts

    def add_counter(self, point_id, name, amount):
        if not amount:
            return
        values = self._counters.get(point_id)
        if values is None:
            values = self._counters[point_id] = {}
        values[name] = values.get(name, 0.0) + amount
        self._dirty_counters.add((point_id, name))

    def add_counters(self, point_id, amounts):
        """add_counter of each (name, amount), in order."""
        values = None
        for name, amount in amounts:
            if amount:
                if values is None:
                    values = self._counters.get(point_id)
                    if values is None:
                        values = self._counters[point_id] = {}
                values[name] = values.get(name, 0.0) + amount
                self._dirty_counters.add((point_id, name))

    def counters(self, point_id):
        out = dict.fromkeys(COUNTERS, 0.0)
        out.update(self._counters.get(point_id) or {})
        return out

    def size_bytes(self):
        return self.store.size_bytes()

    # -- transactions ----------------------------------------------------------------------------
    def begin(self):
        pass

    def flush(self):
        """Write everything this overlay holds into the store (inside the caller's transaction)."""
        db = self.store.db
        for point_id in sorted(self._new_points):
            row = self._rows[point_id]
            db.execute("INSERT INTO points (id, name, kind, role, groups) VALUES (?, ?, ?, ?, ?)",
                       (point_id, row["name"], row["kind"], row["role"],
                        json.dumps(row["groups"])))
        for point_id in sorted(self._dirty_points | self._new_points):
            row = self._rows[point_id]
            db.execute("UPDATE points SET kind = ?, role = ?, groups = ?, last_ts = ?, "
                       "last_error = ?, last_available = ?, outage_state = ?, baselines = ?, "
                       "today = ? WHERE id = ?",
                       (row["kind"], row["role"], json.dumps(row["groups"]), row["last_ts"],
                        row["last_error"], row["last_available"], _compact(row["outage_state"]),
                        _compact(row["baselines"]), _compact(row["today"]), point_id))
        for point_id in sorted(self._samples):
            for sample in self._samples[point_id]:
                self.store.insert_sample(point_id, sample)
        for key in sorted(self._dirty_counters):
            db.execute("INSERT OR REPLACE INTO counters (point_id, name, value) VALUES (?, ?, ?)",
                       (key[0], key[1], self._counters[key[0]][key[1]]))
        for outage in self._outages:
            if outage["new"]:
                db.execute("INSERT INTO outages (id, point_id, start_ts, end_ts, reported) "
                           "VALUES (?, ?, ?, ?, ?)", (outage["id"], outage["point_id"],
                                                      outage["start_ts"], outage["end_ts"],
                                                      int(outage["reported"])))
            elif outage["dirty"]:
                db.execute("UPDATE outages SET end_ts = ?, reported = ? WHERE id = ?",
                           (outage["end_ts"], int(outage["reported"]), outage["id"]))
        for key in sorted(self._dirty_meta):
            self.store.set_meta(key, self._meta[key])
        # Retention is counted in days: what passed it goes once a day, in one batch (the
        # oldest day's rows lie together), not a few rows at every commit, each of which
        # rewrote a table and an index page per test point, and copied them to the rollback
        # journal first: in a store that had reached its retention that was two thirds of the
        # SLA pass's flash (bench/bench_sla.py --history-days 100). The count bound stays
        # checked at every commit.
        day = _retention_day(self._prune, self._prune_outages_before)
        due = day is not None and (self._prune_always or self.store.meta(RETENTION_META) != day)
        for point_id, (before_ts, max_samples) in sorted(self._prune.items()):
            if due and before_ts is not None and not self._prune_always:
                before_ts -= before_ts % 86400.0  # whole days: no day row is rewritten
            self.store.prune(point_id, before_ts if due else None, max_samples)
        if self._prune_outages_before is not None and due:
            self.store.prune_outages(self._prune_outages_before)
        if due:
            self.store.set_meta(RETENTION_META, day)
