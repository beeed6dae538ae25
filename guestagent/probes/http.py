"""HTTP prober: `count` requests, each on a fresh connection, timed phase by phase.

Phases as a browser meets them: name resolution (once, apart), TCP connect, TLS handshake, time to
first byte (request sent -> status line and headers), total (connect -> last byte). Built on
http.client (guestagent.httpio) rather than requests because requests does not expose the connect
and TLS phases; the connection is closed after each request (no keep-alive), so every sample
includes its handshakes. Each phase gets `timeout_s` in all, however slowly bytes arrive; a request
cut by the cycle's deadline rather than its own timeout is not counted (`requests_cut`).
"""

import time

from guestagent import quality
from guestagent.probes import common
from guestagent.schema import Bool, Int, ListOf, Num, Section, Str

OPTIONS = Section({
    "scheme": Str("https", "", choices=("http", "https")),
    "port": Int(None, "default: 80 or 443", minimum=1, maximum=65535),
    "path": Str("/", "path and query of the request", pattern=r"^/"),
    "method": Str("GET", "", choices=("GET", "HEAD")),
    "count": Int(3, "requests per sample", minimum=1, maximum=50),
    "timeout_s": Num(5.0, "for each phase (connect, TLS, first byte, body); the whole request "
                     "also ends by the cycle's deadline", above=0),
    "expect_status": ListOf(Int(minimum=100, maximum=599), [200, 204, 301, 302, 304],
                            "status codes that count as success"),
    "max_bytes": Int(1048576, "body bytes read at most", minimum=0),
    "ca_file": Str(None, "CA bundle for a private PKI"),
    "verify_tls": Bool(True, ""),
    "server_name": Str(None, "TLS SNI and Host header; default: the target's host"),
}, default={})

PHASES = ("connect", "tls", "ttfb", "total")


def _one_request(address, port, host, options, context, deadline):
    """Phase times (s), status and body size of one request on a new connection. Each phase
    gets `timeout_s` at most, the whole request ends by the deadline (httpio.Exchange)."""
    from guestagent.httpio import Exchange, host_header
    with Exchange(deadline, options.timeout_s) as exchange:
        try:
            exchange.connect(address, port)
            if context is not None:
                exchange.start_tls(context, host)
            started = time.monotonic()
            exchange.request(options.method, options.path, [
                ("Connection", "close"), ("User-Agent", "guestagent")],
                host=host_header(host, port, options.scheme))
            response = exchange.response()
            ttfb_s = time.monotonic() - started
            body = b""
            if options.method != "HEAD":
                body = exchange.read_body(response, options.max_bytes)
        except Exception as exc:  # refused, reset, timeout, TLS failure: the service failed
            raise RequestFailed(exchange.failure(exc)[:200], exchange.cut_by_deadline(exc))
        timings = dict(exchange.timings)
        timings.pop("headers", None)
        timings["ttfb"] = ttfb_s
        timings["total"] = time.monotonic() - exchange.started
        return timings, response.status, len(body)


class RequestFailed(Exception):
    def __init__(self, message, cut_by_deadline):
        Exception.__init__(self, message)
        self.cut_by_deadline = cut_by_deadline


def probe(target, options, deadline, context=None):
    started = time.monotonic()
    sample = common.new_sample(target, "http")
    port = options.port or (443 if options.scheme == "https" else 80)
    host = options.server_name or target.host
    sample.update({"url": "{}://{}:{}{}".format(options.scheme, target.host, port, options.path),
                   "count": options.count})
    address, _ = common.resolve_into(sample, target.host, deadline)
    if address is None:
        return common.finish(sample, started)
    tls = None
    if options.scheme == "https":
        import ssl
        from guestagent.httpio import tls_context
        try:
            tls = tls_context(options.ca_file, options.verify_tls)
        except (IOError, OSError, ssl.SSLError, ValueError) as exc:
            sample["error"] = "cannot load ca_file {}: {}".format(
                options.ca_file, getattr(exc, "strerror", None) or exc)
            return common.finish(sample, started)
    phases = dict((p, []) for p in PHASES)
    statuses, failures, sizes, sent, cut = {}, [], [], 0, 0
    for _ in range(options.count):
        if deadline.remaining() < 0.2:
            break
        sent += 1
        try:
            timings, status, size = _one_request(address, port, host, options, tls, deadline)
        except RequestFailed as exc:
            if exc.cut_by_deadline:
                # The cycle's deadline, not the server within its timeout, ended it.
                sent -= 1
                cut += 1
            failures.append(str(exc))
            continue
        for phase, seconds in timings.items():
            phases[phase].append(seconds * 1000.0)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        sizes.append(size)
        if status not in options.expect_status:
            failures.append("HTTP {}".format(status))
    if cut:
        sample["requests_cut"] = cut
    if not sent:
        sample["error"] = "deadline: no request finished in time" + (
            " ({})".format(failures[-1]) if failures else ", none sent")
        if failures:
            sample["failures"] = failures[:3]
        return common.finish(sample, started)
    succeeded = sum(n for code, n in statuses.items() if int(code) in options.expect_status)
    sample.update({
        "requests_sent": sent,
        "requests_ok": succeeded,
        "loss_ratio": (sent - succeeded) / float(sent),
        "reachable": succeeded > 0,
        "statuses": statuses,
        "bytes": sizes[-1] if sizes else None,
        "phases_ms": dict((p, _summary(v)) for p, v in phases.items() if v),
    })
    if failures:
        sample["failures"] = failures[:3]
    return common.finish(sample, started)


def _summary(values_ms):
    stats = quality.rtt_stats(values_ms)
    return {"median": stats["median"], "min": stats["min"], "max": stats["max"]}


def metrics(sample, out):
    labels = out.probe_labels(sample)
    if not sample.get("requests_sent"):
        return
    out.gauge("guestagent_http_requests_sent", "HTTP requests in this cycle's sample.",
              sample["requests_sent"], labels)
    out.gauge("guestagent_http_requests_ok", "Requests answered with an expected status.",
              sample["requests_ok"], labels)
    out.gauge("guestagent_probe_reachable", "1 when at least one reply came back.",
              1 if sample["reachable"] else 0, labels)
    for phase, stats in sorted((sample.get("phases_ms") or {}).items()):
        out.gauge("guestagent_http_phase_seconds",
                  "Median time of each phase: connect, tls, ttfb, total.",
                  stats["median"] / 1000.0, dict(labels, phase=phase))
    for status, n in sorted((sample.get("statuses") or {}).items()):
        out.gauge("guestagent_http_responses", "Responses by status code.", n,
                  dict(labels, status=status))
    if sample.get("bytes") is not None:
        out.gauge("guestagent_http_content_bytes", "Body bytes of the last response.",
                  sample["bytes"], labels)
