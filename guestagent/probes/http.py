"""HTTP prober: `count` requests, each on a fresh connection, timed phase by phase.

Phases as a browser meets them: name resolution (once, apart), TCP connect, TLS handshake, time to
first byte (request sent -> status line), total (connect -> last byte). Built on http.client
rather than requests because requests does not expose the connect and TLS phases; the connection
is closed after each request (no keep-alive), so every sample includes its handshakes.
"""

import socket
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
    "timeout_s": Num(5.0, "for each phase", above=0),
    "expect_status": ListOf(Int(minimum=100, maximum=599), [200, 204, 301, 302, 304],
                            "status codes that count as success"),
    "max_bytes": Int(1048576, "body bytes read at most", minimum=0),
    "ca_file": Str(None, "CA bundle for a private PKI"),
    "verify_tls": Bool(True, ""),
    "server_name": Str(None, "TLS SNI and Host header; default: the target's host"),
}, default={})

PHASES = ("connect", "tls", "ttfb", "total")


def _one_request(address, port, host, options, timeout_s):
    """Phase times (s) and status of one request on a new connection."""
    import http.client
    timings = {}
    t0 = time.monotonic()
    raw = socket.create_connection((address, port), timeout=timeout_s)
    timings["connect"] = time.monotonic() - t0
    sock = raw
    try:
        if options.scheme == "https":
            import ssl
            context = ssl.create_default_context(cafile=options.ca_file)
            if not options.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            t1 = time.monotonic()
            sock = context.wrap_socket(raw, server_hostname=host)
            timings["tls"] = time.monotonic() - t1
        connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
        connection.sock = sock  # our socket, already connected (and wrapped)
        t2 = time.monotonic()
        connection.request(options.method, options.path, headers={
            "Host": host if port in (80, 443) else "{}:{}".format(host, port),
            "Connection": "close", "User-Agent": "guestagent"})
        response = connection.getresponse()
        timings["ttfb"] = time.monotonic() - t2
        body = response.read(options.max_bytes) if options.method != "HEAD" else b""
        timings["total"] = time.monotonic() - t0
        return timings, response.status, len(body)
    finally:
        sock.close()


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
    phases = dict((p, []) for p in PHASES)
    statuses, failures, sizes, sent = {}, [], [], 0
    for _ in range(options.count):
        timeout_s = min(options.timeout_s, deadline.remaining())
        if timeout_s < 0.2:
            break
        sent += 1
        try:
            timings, status, size = _one_request(address, port, host, options, timeout_s)
        except Exception as exc:  # refused, reset, timeout, TLS failure: the service failed
            failures.append("{}: {}".format(type(exc).__name__, exc)[:200])
            continue
        for phase, seconds in timings.items():
            phases[phase].append(seconds * 1000.0)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        sizes.append(size)
        if status not in options.expect_status:
            failures.append("HTTP {}".format(status))
    if not sent:
        sample["error"] = "deadline: no request sent"
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
