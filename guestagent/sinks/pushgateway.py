"""Push a cycle's metrics to a Prometheus Pushgateway.

The push protocol is the Pushgateway's: PUT to /metrics/job/<job>/instance/<instance> (a value
that holds `/` or is empty goes as `@base64`), the body the Prometheus text format of
`MetricSet.render()`, compressed with gzip (`Content-Encoding: gzip`, which Debian's
Pushgateway 1.5.1 accepts; `compress: false` sends it plain).

The gateway keeps what it was sent, so a value it already holds need not go again: after an
accepted push, the next one POSTs only the metric families whose lines changed (a POST
replaces the families it names and keeps the others). A full PUT goes when the previous push
failed or is unknown, when the set of families differs (a PUT is what removes one), and at
least every `full_push_s` (renewing a gateway that lost its store). The last push's family
digests ride in its outcome (the outcome file, read back as the previous outcome). The request goes through
sinks/http.py: basic auth or bearer token, TLS as the other sink does it, and a whole-request
deadline that a slow gateway cannot stretch. One retry inside the deadline. The Pushgateway
rejects timestamps, so none are sent: cumulative counters carry what happened while pushes failed.
"""

import time

from guestagent.sinks import http

CONTENT_TYPE = "text/plain; version=0.0.4"  # the text format is UTF-8 by definition


def redact(text, secrets=()):
    return http.redact(text, secrets)


def grouping_path(job, instance):
    """/metrics/job/<job>/instance/<instance> as the Pushgateway reads it."""
    return "/metrics/{}/{}/{}/{}".format(*(_escape("job", job) + _escape("instance", instance)))


def _escape(key, value):
    import base64
    from urllib.parse import quote_plus
    value = str(value)
    if value == "":
        return key + "@base64", "="
    if "/" in value:
        return key + "@base64", base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")
    return key, quote_plus(value)


def _handler(target, deadline=None):
    """A request through sinks/http.py within `timeout` and `deadline`, called as
    handler(url, method, timeout, headers, data)() (what `doctor` asks the gateway with).
    `target` is a sinks.http.Target, or the sink's config (which may raise SinkError)."""
    if not isinstance(target, http.Target):
        target = http.prepare("pushgateway", target)

    def handler(url, method, timeout, headers, data):
        def handle():
            from urllib.parse import urlsplit
            from guestagent.deadline import Deadline
            parts = urlsplit(url)
            path = parts.path + ("?" + parts.query if parts.query else "")
            status, body = http.send(target, method, path, headers, data,
                                     deadline or Deadline(timeout), timeout)
            if status >= 400:
                text = http.short_body(body, target.secrets)
                raise http.SinkError("HTTP {} from the Pushgateway{}".format(
                    status, ": " + text if text else ""))
        return handle
    return handler


def gzip_body(body):
    """gzip at level 6 (level 9 saves a few bytes at twice the CPU); no file name, no time, so
    the same body compresses to the same bytes."""
    import zlib
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


def request(body, push_config):
    """The headers and body one push sends."""
    headers = [("Content-Type", CONTENT_TYPE)]
    if push_config.get("compress", True) is not False:
        body = gzip_body(body)
        headers.append(("Content-Encoding", "gzip"))
    return headers, body


DIGEST_HEX = 6  # per family: a missed change every ~16 million changed families


def _digest(text):
    import zlib
    return "%0*x" % (DIGEST_HEX, zlib.crc32(text) & ((1 << (4 * DIGEST_HEX)) - 1))


def plan(metric_set, previous, push_config, now, group=""):
    """(method, body before compression, what the outcome keeps for the next push). `group`
    names where the push goes (URL, job, instance): a different one starts with a PUT."""
    import zlib
    texts = metric_set.family_texts()
    names = "%08x" % (zlib.crc32("\n".join([group] + [name for name, _ in texts])
                                 .encode("utf-8")))
    digests = "".join(_digest(text) for _, text in texts)
    previous = previous if isinstance(previous, dict) else {}
    full_push_s = push_config.get("full_push_s")
    full_push_s = 3600 if full_push_s is None else full_push_s
    last_full = previous.get("full_ts")
    held = previous.get("digests")
    if (full_push_s and previous.get("ok") is True and previous.get("names") == names and
            isinstance(held, str) and len(held) == len(digests) and
            isinstance(last_full, (int, float)) and 0 <= now - last_full < full_push_s):
        step = DIGEST_HEX
        changed = [text for i, (_, text) in enumerate(texts)
                   if held[i * step:(i + 1) * step] != digests[i * step:(i + 1) * step]]
        kept = {"names": names, "digests": digests, "full_ts": last_full,
                "families_sent": len(changed)}
        return "POST", b"".join(changed), kept
    kept = {"names": names, "digests": digests, "full_ts": round(now, 3),
            "families_sent": len(texts)}
    return "PUT", b"".join(text for _, text in texts), kept


def push(metric_set, push_config, job, instance, deadline, attempts=2, previous=None):
    """Push; returns the outcome dict recorded under report.sinks.pushgateway (with
    `wire_bytes`, what the requests put on the wire). `previous` is the last cycle's outcome
    of this sink: after an accepted push only the changed families go (see above). Never raises
    for what the outside does (secret and CA files, the network, the gateway)."""
    outcome = {"ok": False, "attempts": 0}
    started = time.monotonic()
    secrets = []
    try:
        target = http.prepare("pushgateway", push_config)
    except http.SinkError as exc:
        outcome["error"] = str(exc)
        outcome["duration_s"] = round(time.monotonic() - started, 6)
        return outcome
    secrets = target.secrets
    path = target.base_path + grouping_path(job, instance)
    method, text, kept = plan(metric_set, previous, push_config, time.time(),
                              "{}:{}{}".format(target.host, target.port, path))
    headers, body = request(text, push_config)
    last_error = None
    for attempt in range(attempts):
        timeout_s = min(push_config.timeout_s, deadline.remaining())
        if timeout_s < 0.2:
            last_error = last_error or "no time left in the cycle's deadline"
            break
        outcome["attempts"] = attempt + 1
        try:
            status, answer = http.send(target, method, path, headers, body, deadline, timeout_s)
            if status >= 400:
                text = http.short_body(answer, target.secrets)
                raise http.SinkError("HTTP {} from the Pushgateway{}".format(
                    status, ": " + text if text else ""))
            outcome["ok"] = True
            last_error = None
            break
        except http.SinkError as exc:
            last_error = str(exc)
        except Exception as exc:
            last_error = "{}: {}".format(type(exc).__name__, exc)
    if last_error:
        outcome["error"] = redact(last_error, secrets)
    else:
        outcome["method"] = method
        outcome.update(kept)
    outcome["wire_bytes"] = target.wire_bytes
    outcome["duration_s"] = round(time.monotonic() - started, 6)
    return outcome
