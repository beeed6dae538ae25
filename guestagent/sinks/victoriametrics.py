"""Send every journaled report's metrics, with its own timestamp, to VictoriaMetrics
(`/api/v1/import/prometheus`).

The Pushgateway keeps only the last push and rejects timestamps; a store that takes timestamps can
hold every cycle, including those measured while the uplink was down. The cycle journals its
report first; this sink then sends what the journal holds after the cursor, oldest first, in
gzip'd batches bounded by `max_reports`, by `max_bytes` of request bodies per cycle (so that a
fleet back from an outage does not flood the collector) and by the deadline. What does not fit
goes next cycle. The body is InfluxDB line protocol for `/write` (`format: influx`, one line per
label set) or the Prometheus text format for `/api/v1/import/prometheus`, both without HELP or
TYPE: the store keeps neither.

The cursor (section "victoriametrics" of the cycle's state, `<journal dir>/cycle.state`,
statefile.cycle_state) is keyed on the journal, not on the clock: `last_id` is the cycle id of the
newest report the store accepted, and every report journaled after that line is pending, whatever
the wall clock did meanwhile (steps, NTP) and across rotation. `position` (the journal file's
device and inode, which rotation's renames keep, and the byte offset just past that line) lets a
caught-up cycle read only the lines after it; when it no longer points at that line's end, the
journal is searched for `last_id` as before. The cursor reaches flash once per cycle, with the
sink outcomes (cycle.write_outcome): a batch goes out recorded `in_flight` in memory, the accepted
reply clears it, and a cycle that ends with a batch unanswered saves it in flight. A cycle that
never saved its state (killed after its journal line, or it lost power) shows in the next one as
a journaled report after the last saved cycle's (section "journal"): then what the journal holds
after `last_id` may be in the store already. A batch in flight is read back from the store
(`/api/v1/export` of `guestagent_last_cycle_timestamp_seconds` at the batch's timestamps) and only
what is missing is sent again: each journaled report reaches the store once.
"""

import json
import os
import time

CURSOR = "victoriametrics.json"
# The series every report carries once, at the report's own timestamp: what the read-back asks for.
MARKER = "guestagent_last_cycle_timestamp_seconds"
# The read-back of a batch left in flight: one series over at most a batch of reports.
EXPORT_READ_BYTES = 1 << 20


def read_cursor(state_dir, problems=None, journal_dir=None):
    """The cursor; {} when there is none. With `problems`, a cursor that cannot be read or makes
    no sense adds a line and reads as {"invalid": True}. It is the cycle's state's section
    (`journal_dir`); an older version's `<state_dir>/victoriametrics.json` is read until then."""
    from guestagent.statefile import read_json
    found = []
    state = _state(journal_dir)
    if state is not None and (state.found or state.problems):
        path = state.path
        found.extend(state.problems)
        cursor = state.get("victoriametrics", {})
        if not found and cursor and not _valid_cursor(cursor):
            found.append("{} holds no cursor: {}".format(path, json.dumps(cursor)[:80]))
    else:
        path = os.path.join(state_dir, CURSOR)
        cursor = read_json(path, problems=found)
        if not found and os.path.exists(path) and not _valid_cursor(cursor):
            found.append("{} holds no cursor: {}".format(path, json.dumps(cursor)[:80]))
    if found:
        if problems is not None:
            problems.extend(found)
        return {"invalid": True}
    return cursor


def _state(journal_dir):
    if not journal_dir:
        return None
    from guestagent.statefile import cycle_state
    return cycle_state(journal_dir)


def _valid_cursor(cursor):
    if not isinstance(cursor, dict):
        return False
    if "last_id" not in cursor:
        return False
    if cursor["last_id"] is not None and not isinstance(cursor["last_id"], str):
        return False
    flight = cursor.get("in_flight")
    return flight is None or (isinstance(flight, dict) and isinstance(flight.get("ids"), list))


def write_cursor(state_dir, cursor, journal_dir=None):
    """Into the cycle's state (on flash with the outcomes at the cycle's end); without
    `journal_dir`, to `<state_dir>/victoriametrics.json` at once."""
    state = _state(journal_dir)
    if state is not None:
        state.put("victoriametrics", cursor)
        return
    from guestagent.statefile import write_json
    write_json(os.path.join(state_dir, CURSOR), cursor)


def unsaved_cycles(journal_dir, current_id):
    """Reports journaled after the last cycle that saved its state, other than `current_id`:
    cycles that may have sent without saving the cursor. None when that cannot be known."""
    from guestagent.sinks import journal
    state = _state(journal_dir)
    saved = state.get("journal") if state is not None and state.found else None
    if not isinstance(saved, dict) or not isinstance(saved.get("cycle_id"), str):
        return None
    since, found = journal.after(journal_dir, saved["cycle_id"], limit=2,
                                 position=saved.get("position"))
    if not found:
        return None
    return [r["cycle"]["id"] for r in since if r["cycle"]["id"] != current_id]


def render_one(report, fmt="prometheus"):
    """A report's metrics at its own timestamp, in the sink's `format` (the sink passes its
    own; the default is the text import's, what /api/v1/import/prometheus takes)."""
    from guestagent.cycle import metrics_for
    metric_set = metrics_for(report, timestamp=report["cycle"]["started_ts"])
    return metric_set.render_influx() if fmt == "influx" else metric_set.render_import()


def render(reports, fmt="prometheus"):
    return b"".join(render_one(report, fmt) for report in reports)


class Batch(object):
    """Rendered reports gathered into one request body, gzip'd as they come so that the body's
    size on the wire is known before a report is added: a report that would take the body past
    `max_bytes` waits for the next cycle (the first always goes, or a large report would stop
    the backlog for good)."""

    # What the body's end adds: the final empty block (at most 5 bytes after a sync flush) and
    # the gzip trailer (CRC and size, 8), rounded up.
    TRAILER = 16

    def __init__(self, max_bytes, compress=True, first_always=True):
        import zlib
        self.max_bytes = max_bytes
        self.first_always = first_always
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if compress else None
        self.pieces = []
        self.size = 0  # bytes of the body so far, as sent
        self.raw_bytes = 0  # the same uncompressed
        self.reports = []

    def add(self, report, rendered):
        """Add a rendered report; False (nothing added) when it would pass max_bytes."""
        import zlib
        if self.compressor is None:
            piece, compressor = rendered, None
        else:
            compressor = self.compressor.copy()
            piece = compressor.compress(rendered) + compressor.flush(zlib.Z_SYNC_FLUSH)
        trailer = self.TRAILER if compressor is not None else 0
        if (self.reports or not self.first_always) and \
                self.size + len(piece) + trailer > self.max_bytes:
            return False
        if compressor is not None:
            self.compressor = compressor
        self.pieces.append(piece)
        self.size += len(piece)
        self.raw_bytes += len(rendered)
        self.reports.append(report)
        return True

    def body(self):
        if self.compressor is not None:
            return b"".join(self.pieces) + self.compressor.flush()
        return b"".join(self.pieces)


def _stamp_ms(report):
    return int(round(report["cycle"]["started_ts"] * 1000))


def _label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"')


def held_by_store(sink_config, job, instance, reports, deadline, counter=None):
    """The cycle ids of `reports` the store already holds (read back by timestamp); raises
    sinks.http.SinkError when the store cannot be asked within the deadline. The bytes it
    puts on the wire are added to counter["wire_bytes"]."""
    from guestagent.sinks import http
    target = http.prepare("victoriametrics", sink_config)
    try:
        return _held(target, sink_config, job, instance, reports, deadline)
    finally:
        if counter is not None:
            counter["wire_bytes"] = counter.get("wire_bytes", 0) + target.wire_bytes


def _held(target, sink_config, job, instance, reports, deadline):
    from urllib.parse import urlencode
    from guestagent.sinks import http
    timeout_s = sink_config.timeout_s
    try:  # make what was just imported searchable (single-node VictoriaMetrics)
        http.send(target, "GET", target.base_path + "/internal/force_flush", {}, None,
                  deadline.within(timeout_s / 2.0), timeout_s / 2.0)
    except http.SinkError:
        pass
    stamps = dict((_stamp_ms(r), r["cycle"]["id"]) for r in reports)
    match = '{}{{job="{}",instance="{}"}}'.format(MARKER, _label(job), _label(instance))
    query = urlencode([("match[]", match), ("start", "%.3f" % (min(stamps) / 1000.0 - 1)),
                       ("end", "%.3f" % (max(stamps) / 1000.0 + 1))])
    status, data = http.send(target, "GET", target.base_path + "/api/v1/export?" + query, {},
                             None, deadline, timeout_s, answer_bytes=EXPORT_READ_BYTES)
    if status >= 300:
        raise http.SinkError("HTTP {} from VictoriaMetrics' export".format(status))
    held = set()
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            try:
                found = json.loads(line).get("timestamps") or []
            except (ValueError, AttributeError):
                continue
            for stamp in found:
                for near in (stamp - 1, stamp, stamp + 1):
                    if near in stamps:
                        held.add(stamps[near])
    return held


def send(sink_config, body, job, instance, timeout_s, deadline=None, counter=None,
         encoded=False):
    """One import request, all of it within timeout_s (and `deadline`); raises
    sinks.http.SinkError, whose text is safe to record, for any failure. `body` is rendered in
    the sink's format, gzip'd here unless `encoded` says it already is (or `compress` is off).
    The bytes put on the wire are added to counter["wire_bytes"]."""
    from urllib.parse import urlencode
    from guestagent.sinks import http
    if deadline is None:
        from guestagent.deadline import Deadline
        deadline = Deadline(timeout_s)
    target = http.prepare("victoriametrics", sink_config)
    labels = [("extra_label", "job=" + job), ("extra_label", "instance=" + instance)]
    if sink_config.get("format", "influx") == "influx":
        # Line protocol, as VictoriaMetrics and vmagent take it at /write: one line per label
        # set; the series are named <measurement>_<field>, the text format's names.
        path = "{}/write?{}".format(target.base_path, urlencode([("precision", "ms")] + labels))
        headers = []  # the path says the format: /write takes line protocol only
    else:
        path = "{}/api/v1/import/prometheus?{}".format(target.base_path, urlencode(labels))
        headers = [("Content-Type", "text/plain; version=0.0.4")]
    if sink_config.get("compress", True) is not False:
        if not encoded:
            from guestagent.sinks.pushgateway import gzip_body
            body = gzip_body(body)
        headers.append(("Content-Encoding", "gzip"))
    try:
        status, text = http.send(target, "POST", path, headers, body, deadline, timeout_s)
    finally:
        if counter is not None:
            counter["wire_bytes"] = counter.get("wire_bytes", 0) + target.wire_bytes
    if status >= 300:
        text = http.short_body(text, target.secrets)
        raise http.SinkError("HTTP {} from VictoriaMetrics{}".format(
            status, ": " + text if text else ""))


def sync(sink_config, state_dir, journal_dir, current, job, instance, deadline,
         recovered_id=None):
    """Send what the store has not accepted yet; returns the outcome for report.sinks.

    `current` is this cycle's report, already journaled. `recovered_id` is where the last outcome
    said the cursor stood: used when the cursor file is unreadable. Problems that are not the
    store's (a bad cursor, foreign journal lines) are listed in outcome["problems"].
    """
    from guestagent.sinks import journal
    from guestagent.sinks.pushgateway import redact
    started = time.monotonic()
    outcome = {"ok": False, "attempts": 0, "sent_reports": 0}
    problems = []
    cursor = read_cursor(state_dir, problems, journal_dir)
    if cursor.get("invalid"):
        cursor = {"last_id": recovered_id, "in_flight": None}
        problems.append("VictoriaMetrics cursor unusable; resuming {}".format(
            "after " + recovered_id + " (the last cycle's outcome)" if recovered_id else
            "from the start of the journal (reports may be sent twice)"))
    elif not cursor or ("last_started_ts" in cursor and not cursor.get("last_id")):
        # First use (or a cursor of the older clock-keyed format that never got past its first
        # send): start from this cycle, the journal before it was never meant for the store;
        # said on flash at once, so a first send that fails or does not fit is retried.
        before = [r for r in journal.newest(journal_dir, 2) if r["cycle"]["id"] !=
                  current["cycle"]["id"]]
        cursor = {"last_id": before[0]["cycle"]["id"] if before else None, "in_flight": None}
        try:
            write_cursor(state_dir, cursor, journal_dir)
        except (IOError, OSError):
            pass  # and nothing is sent below: the in-flight record cannot be written either
    else:
        cursor = _unsaved_in_flight(journal_dir, cursor, current, sink_config.max_reports)
    error = None
    flight = cursor.get("in_flight")
    if flight and flight.get("ids"):
        try:
            cursor = _settle(sink_config, job, instance, journal_dir, cursor, deadline, outcome)
        except Exception as exc:
            problems.append("could not read back the batch in flight ({}): sending it again"
                            .format(redact("{}: {}".format(type(exc).__name__, exc))))
    skipped, sizes = [], {"after_bytes": 0, "report_bytes": [], "positions": []}
    try:
        reports, found = journal.after(journal_dir, cursor.get("last_id"),
                                       sink_config.max_reports, skipped, sizes,
                                       position=cursor.get("position"))
        outcome["journal_read_bytes"] = sizes.get("read_bytes", 0)
        if cursor.get("last_id") and not found:
            problems.append("the cursor's report {} is no longer in the journal; sending the "
                            "journal from its oldest report".format(cursor["last_id"]))
    except (IOError, OSError) as exc:
        reports = []
        error = "cannot read the journal: {}".format(exc)
    problems.extend("journal line {} is not a report; passed over".format(s) for s in skipped)
    pending, capped = list(reports), len(reports) >= sink_config.max_reports
    fmt = sink_config.get("format", "influx")
    compress = sink_config.get("compress", True) is not False
    max_bytes = sink_config.get("max_bytes") or 65536
    counter = {"wire_bytes": outcome.pop("wire_bytes", 0)}
    body_bytes = 0  # request bodies sent this cycle, against max_bytes
    positions = dict((r["cycle"]["id"], p) for r, p in zip(reports, sizes["positions"]))
    while reports and error is None:
        timeout_s = min(sink_config.timeout_s, deadline.remaining())
        if timeout_s < 0.2:
            error = "no time left in the cycle's deadline; the rest goes next cycle"
            break
        # The cycle's share is max_bytes of bodies: the first report goes whatever its size,
        # later batches only within what is left.
        batch = Batch(max_bytes - body_bytes, compress, first_always=not body_bytes)
        taken = 0
        for report in reports[:sink_config.batch_reports]:
            try:
                rendered = render_one(report, fmt)
            except Exception as exc:  # a report-shaped line we cannot render: pass it over
                problems.append("report {} cannot be rendered ({}: {}); passed over".format(
                    report["cycle"]["id"], type(exc).__name__, exc))
                taken += 1
                continue
            if not batch.add(report, rendered):
                outcome["bytes_capped"] = True
                break
            taken += 1
        done = reports[:taken]
        reports = reports[taken:]
        if not batch.reports and outcome.get("bytes_capped"):
            break
        if not batch.reports:
            cursor = dict(cursor, last_id=done[-1]["cycle"]["id"], in_flight=None)
            continue
        try:
            write_cursor(state_dir, dict(cursor, in_flight={
                "ids": [r["cycle"]["id"] for r in batch.reports],
                "after": cursor.get("last_id")}), journal_dir)
        except (IOError, OSError) as exc:
            # Sending without a cursor on flash would send it again next cycle.
            error = "cursor not writable, nothing sent: {}".format(exc.strerror or exc)
            break
        outcome["attempts"] += 1
        body = batch.body()
        body_bytes += len(body)
        try:
            send(sink_config, body, job, instance, timeout_s, counter=counter, encoded=True)
        except Exception as exc:
            error = "{}: {}".format(type(exc).__name__, exc)
            break  # the batch stays in flight: read back next cycle
        outcome["sent_reports"] += len(batch.reports)
        cursor = {"last_id": done[-1]["cycle"]["id"], "in_flight": None,
                  "accepted_at": time.time(), "position": positions.get(done[-1]["cycle"]["id"])}
        try:
            write_cursor(state_dir, cursor, journal_dir)
        except (IOError, OSError) as exc:
            error = "cursor not written after an accepted batch: {}".format(exc.strerror or exc)
        if outcome.get("bytes_capped"):
            break
    outcome["wire_bytes"] = counter["wire_bytes"]
    outcome["body_bytes"] = body_bytes
    outcome["ok"] = error is None
    outcome["last_id"] = cursor.get("last_id")
    # What still waits in the journal for the store (its size as journaled lines, known from
    # the read above): rotation drops it once the journal's bound is reached.
    outcome["backlog_reports"] = len(pending) - outcome["sent_reports"]
    outcome["backlog_bytes"] = max(0, sizes["after_bytes"] -
                                   sum(sizes["report_bytes"][:outcome["sent_reports"]]))
    if capped:
        outcome["backlog_capped"] = True
    if error:
        outcome["error"] = redact(error)
    if problems:
        outcome["problems"] = [redact(p) for p in problems]
    outcome["duration_s"] = round(time.monotonic() - started, 6)
    return outcome


def _unsaved_in_flight(journal_dir, cursor, current, max_reports):
    """The cursor, with what follows `last_id` in flight when a cycle since the last saved one
    journaled its report but never saved the cursor (it may have sent before it was killed)."""
    if cursor.get("in_flight"):
        return cursor
    from guestagent.sinks import journal
    try:
        unsaved = unsaved_cycles(journal_dir, current["cycle"]["id"])
        if unsaved is None or unsaved:
            reports, _ = journal.after(journal_dir, cursor.get("last_id"), max_reports,
                                       position=cursor.get("position"))
        else:
            return cursor
    except (IOError, OSError):
        return cursor  # the journal read below says so
    ids = [r["cycle"]["id"] for r in reports if r["cycle"]["id"] != current["cycle"]["id"]]
    if unsaved is None and not cursor.get("last_id"):
        return cursor
    if not ids:
        return cursor
    return dict(cursor, in_flight={"ids": ids, "after": cursor.get("last_id")})


def _settle(sink_config, job, instance, journal_dir, cursor, deadline, outcome):
    """Resolve a batch left in flight: the cursor moves past the reports the store holds."""
    from guestagent.sinks import journal
    flight = cursor["in_flight"]
    reports, found = journal.after(journal_dir, flight.get("after", cursor.get("last_id")),
                                   len(flight["ids"]) + 50)
    by_id = dict((r["cycle"]["id"], r) for r in reports)
    batch = [by_id[i] for i in flight["ids"] if i in by_id]
    settled = dict(cursor, in_flight=None)
    if not batch:
        return settled
    counter = {"wire_bytes": outcome.get("wire_bytes", 0)}
    try:
        held = held_by_store(sink_config, job, instance, batch, deadline, counter)
    finally:
        outcome["wire_bytes"] = counter["wire_bytes"]
    for report in batch:  # the prefix the store holds is done; the rest is sent again
        if report["cycle"]["id"] not in held:
            break
        settled["last_id"] = report["cycle"]["id"]
    outcome["settled_in_flight"] = len(held)
    return settled
