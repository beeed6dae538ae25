"""Send every report's metrics, with its own timestamp, to VictoriaMetrics (`/api/v1/import/prometheus`).

The Pushgateway keeps only the last push and rejects timestamps; a store that takes timestamps can
hold every cycle, including those measured while the uplink was down. A cursor in the state
(`victoriametrics.json`: the start time of the last report the store accepted) says where to
resume: each cycle sends the journal's reports after the cursor, then its own, oldest first, in
batches bounded by `max_reports` and by the deadline. What does not fit goes next cycle.
"""

import os
import time

CURSOR = "victoriametrics.json"


def read_cursor(state_dir):
    from guestagent.statefile import read_json
    return read_json(os.path.join(state_dir, CURSOR))


def write_cursor(state_dir, cursor):
    from guestagent.statefile import write_json
    write_json(os.path.join(state_dir, CURSOR), cursor)


def pending_reports(journal_dir, after_ts, current, limit):
    """Journal reports started after `after_ts` plus the current one, oldest first, at most limit."""
    from guestagent.sinks import journal
    found = []
    for report in journal.read(journal_dir):
        ts = report.get("cycle", {}).get("started_ts")
        if ts is not None and ts > after_ts and report["cycle"].get("id") != current["cycle"]["id"]:
            found.append(report)
    found.sort(key=lambda r: r["cycle"]["started_ts"])
    found.append(current)
    return found[:limit]


def render(reports):
    from guestagent.cycle import metrics_for
    chunks = []
    for report in reports:
        metric_set = metrics_for(report, timestamp=report["cycle"]["started_ts"])
        chunks.append(metric_set.render())
    return b"".join(chunks)


def send(sink_config, body, job, instance, timeout_s, deadline=None):
    """One import request, all of it within timeout_s (and `deadline`); raises
    sinks.http.SinkError, whose text is safe to record, for any failure."""
    from urllib.parse import urlencode
    from guestagent.sinks import http
    if deadline is None:
        from guestagent.deadline import Deadline
        deadline = Deadline(timeout_s)
    target = http.prepare("victoriametrics", sink_config)
    path = "{}/api/v1/import/prometheus?{}".format(target.base_path, urlencode(
        [("extra_label", "job=" + job), ("extra_label", "instance=" + instance)]))
    status, text = http.send(target, "POST", path,
                             {"Content-Type": "text/plain; version=0.0.4"}, body, deadline,
                             timeout_s)
    if status >= 300:
        text = http.short_body(text, target.secrets)
        raise http.SinkError("HTTP {} from VictoriaMetrics{}".format(
            status, ": " + text if text else ""))


def sync(sink_config, state_dir, journal_dir, current, job, instance, deadline):
    """Send what the store has not accepted yet; returns the outcome for report.sinks."""
    from guestagent.sinks.pushgateway import redact
    started = time.monotonic()
    cursor = read_cursor(state_dir)
    if "last_started_ts" not in cursor:
        # First use: start from this cycle, and remember that, so a first send that fails is
        # retried next cycle instead of forgotten.
        cursor = {"last_started_ts": current["cycle"]["started_ts"] - 1e-6, "last_id": None}
        write_cursor(state_dir, cursor)
    outcome = {"ok": False, "attempts": 0}
    try:
        reports = pending_reports(journal_dir, cursor.get("last_started_ts"), current,
                                  sink_config.max_reports)
    except (IOError, OSError) as exc:
        reports = [current]
        outcome["journal_error"] = str(exc)
    sent = 0
    error = None
    for start in range(0, len(reports), sink_config.batch_reports):
        timeout_s = min(sink_config.timeout_s, deadline.remaining())
        if timeout_s < 0.2:
            error = error or "no time left in the cycle's deadline; the rest goes next cycle"
            break
        batch = reports[start:start + sink_config.batch_reports]
        outcome["attempts"] += 1
        try:
            send(sink_config, render(batch), job, instance, timeout_s)
        except Exception as exc:
            error = "{}: {}".format(type(exc).__name__, exc)
            break
        sent += len(batch)
        cursor = {"last_started_ts": batch[-1]["cycle"]["started_ts"],
                  "last_id": batch[-1]["cycle"]["id"], "accepted_at": time.time()}
        write_cursor(state_dir, cursor)
    outcome["ok"] = error is None
    outcome["sent_reports"] = sent
    if error:
        outcome["error"] = redact(error)
    outcome["duration_s"] = round(time.monotonic() - started, 6)
    return outcome
