"""Throughput ("speed test"): download and upload rates against a configured HTTP server, plus the
latency to it.

Download: GET `download_path` (with `{bytes}` replaced by `download_bytes`), streamed and counted
until the body ends, `max_bytes` or `max_seconds`. Upload: POST of a generated body of
`upload_bytes`, sent in chunks and cut at the same caps. Rate = bits / seconds of the transfer;
`stopped_by` says which cap ended it. Each direction is one guestagent.httpio exchange: its time
is bounded in total (`max_seconds`, the cycle's deadline), however slowly the server sends.
Latency: the median TCP handshake time to the server's port (one round trip), over 3 connects.

Cellular data costs money: the bytes moved each UTC day are kept in
`<state_dir>/throughput.json` and a test that would pass `daily_budget_bytes` is skipped, saying
so. The test is heavy, so it runs on its own schedule: on a `cron` or `manual` cycle (the EEM cron
applet), or every `every_n_cycles`-th timer cycle; other cycles skip it.
"""

import os
import socket
import time

from guestagent.probes import common
from guestagent.schema import Int, ListOf, Num, Section, Str

OPTIONS = Section({
    "scheme": Str("http", "", choices=("http", "https")),
    "port": Int(None, "default: 80 or 443", minimum=1, maximum=65535),
    "download_path": Str("/download?bytes={bytes}", "GET path; {bytes} becomes download_bytes",
                         pattern=r"^/"),
    "upload_path": Str("/upload", "POST path", pattern=r"^/"),
    "download_bytes": Int(10000000, "bytes asked for", minimum=0),
    "upload_bytes": Int(2000000, "bytes sent", minimum=0),
    "max_bytes": Int(50000000, "cap per direction", minimum=1),
    "max_seconds": Num(8.0, "cap per direction", above=0),
    "timeout_s": Num(5.0, "connect and read timeout", above=0),
    "ca_file": Str(None, "CA bundle for a private PKI (https)"),
    "daily_budget_bytes": Int(200000000, "bytes per UTC day for all throughput tests",
                              minimum=0),
    "every_n_cycles": Int(12, "run on every Nth timer cycle (cron and manual cycles always run)",
                          minimum=1),
    "run_on": ListOf(Str(choices=("timer", "track", "manual", "cli", "cron")),
                     ["cron", "manual", "cli"], "triggers that always run the test"),
}, default={})

STATE_FILE = "throughput.json"
_CHUNK = b"\0" * 65536


def _state_path(context):
    return os.path.join(context.state_dir, STATE_FILE)


def _today():
    return time.strftime("%Y-%m-%d", time.gmtime())


def due(options, context, state):
    """Whether this cycle runs the test, and why not."""
    trigger = getattr(context, "trigger", "cli")
    if trigger in options.run_on:
        return True, None
    cycles = state.get("timer_cycles", 0)
    if cycles % options.every_n_cycles == 0:
        return True, None
    return False, "runs every {} cycles or on {}; {} of {}".format(
        options.every_n_cycles, "/".join(options.run_on), cycles % options.every_n_cycles,
        options.every_n_cycles)


def connect_rtt_ms(address, port, timeout_s, count=3, deadline=None):
    """Median TCP handshake time over `count` connects, each within timeout_s and the deadline."""
    times = []
    for _ in range(count):
        wait_s = timeout_s if deadline is None else min(timeout_s, deadline.remaining())
        if wait_s < 0.05:
            break
        started = time.monotonic()
        try:
            socket.create_connection((address, port), timeout=wait_s).close()
        except OSError:
            continue
        times.append((time.monotonic() - started) * 1000.0)
    if not times:
        return None
    from guestagent.quality import median
    return median(times)


class TransferFailed(Exception):
    pass


class _Server(object):
    """Where the test connects: address, port, TLS, and the names for SNI and Host."""

    def __init__(self, address, port, host, scheme, tls):
        from guestagent.httpio import host_header
        self.address, self.port, self.host, self.tls = address, port, host, tls
        self.host_header = host_header(host, port, scheme)


def _open(exchange, server, method, path, headers):
    exchange.connect(server.address, server.port)
    if server.tls is not None:
        exchange.start_tls(server.tls, server.host)
    exchange.request(method, path, [("Connection", "close"), ("User-Agent", "guestagent")] +
                     headers, host=server.host_header)


def _check(response):
    if response.status >= 400:
        raise TransferFailed("HTTP {} {}".format(response.status, response.reason))


def download(server, path, options, deadline, until):
    """GET, counting body bytes until the end, max_bytes or `until`; (bytes, seconds, why it
    stopped). The whole exchange ends by `until` whatever the server sends."""
    from guestagent.httpio import BODY, Exchange
    received = 0
    started = time.monotonic()
    with Exchange(deadline.within(until - started), options.timeout_s) as exchange:
        try:
            _open(exchange, server, "GET", path, [("Accept-Encoding", "identity")])
            response = exchange.response()
            _check(response)
            exchange.phase(BODY, until - time.monotonic(), read_timeout_s=options.timeout_s)
        except TransferFailed:
            raise
        except Exception as exc:
            raise TransferFailed(exchange.failure(exc))
        stopped = "end"
        try:
            while True:
                piece = response.read1(65536)
                if not piece:
                    break
                received += len(piece)
                if received >= options.max_bytes:
                    stopped = "max_bytes"
                    break
                if time.monotonic() >= until:
                    stopped = "max_seconds"
                    break
        except Exception as exc:
            if not exchange.guard.expired():
                raise TransferFailed(exchange.failure(exc))
        if stopped == "end" and exchange.guard.expired():
            stopped = "max_seconds"  # the watchdog ended the body at `until`
    return received, time.monotonic() - started, stopped


def upload(server, path, options, deadline, until):
    """POST a generated body (chunked) until upload_bytes, max_bytes or `until`; (bytes,
    seconds, why it stopped). The answer must come within timeout_s after the body."""
    from guestagent.httpio import Exchange, SEND
    limit = min(options.upload_bytes, options.max_bytes)
    sent = [0]
    stopped = ["end"]

    def body():
        while sent[0] < limit:
            if time.monotonic() >= until:
                stopped[0] = "max_seconds"
                return
            piece = _CHUNK[:min(len(_CHUNK), limit - sent[0])]
            sent[0] += len(piece)
            yield piece
        if limit < options.upload_bytes:
            stopped[0] = "max_bytes"

    started = time.monotonic()
    with Exchange(deadline.within(until - started + options.timeout_s),
                  options.timeout_s) as exchange:
        try:
            _open(exchange, server, "POST", path, [
                ("Transfer-Encoding", "chunked"), ("Content-Type", "application/octet-stream")])
            # Sending stops at `until`; the last piece may take up to timeout_s to go out.
            exchange.phase(SEND, until - time.monotonic() + options.timeout_s,
                           read_timeout_s=options.timeout_s)
            exchange.send_chunked(body())
            _check(exchange.response())
        except TransferFailed:
            raise
        except Exception as exc:
            raise TransferFailed(exchange.failure(exc))
    return sent[0], time.monotonic() - started, stopped[0]


def probe(target, options, deadline, context=None):
    from guestagent.statefile import read_json, write_json
    started = time.monotonic()
    sample = common.new_sample(target, "throughput")
    port = options.port or (443 if options.scheme == "https" else 80)
    base = "{}://{}:{}".format(options.scheme, _url_host(target.host), port)
    sample["server"] = base
    state_path = _state_path(context)
    state = read_json(state_path)
    if state.get("day") != _today():
        state = {"day": _today(), "bytes": 0, "timer_cycles": state.get("timer_cycles", 0)}
    run, why = due(options, context, state)
    if getattr(context, "trigger", None) == "timer":
        state["timer_cycles"] = state.get("timer_cycles", 0) + 1
    planned = min(options.download_bytes, options.max_bytes) + min(options.upload_bytes,
                                                                    options.max_bytes)
    if run and state["bytes"] + planned > options.daily_budget_bytes:
        run, why = False, "daily budget: {} of {} bytes used today, this test needs {}".format(
            state["bytes"], options.daily_budget_bytes, planned)
    sample["budget"] = {"day": state["day"], "used_bytes": state["bytes"],
                        "budget_bytes": options.daily_budget_bytes}
    if not run:
        sample["skipped"] = why
        _save(write_json, state_path, state)
        return common.finish(sample, started)
    address, _ = common.resolve_into(sample, target.host, deadline)
    if address is None:
        _save(write_json, state_path, state)
        return common.finish(sample, started)
    tls = None
    if options.scheme == "https":
        import ssl
        from guestagent.httpio import tls_context
        try:
            tls = tls_context(options.ca_file)
        except (IOError, OSError, ssl.SSLError, ValueError) as exc:
            sample["error"] = "cannot load ca_file {}: {}".format(
                options.ca_file, getattr(exc, "strerror", None) or exc)
            _save(write_json, state_path, state)
            return common.finish(sample, started)
    server = _Server(address, port, target.host, options.scheme, tls)
    sample["latency_ms"] = connect_rtt_ms(address, port, options.timeout_s, deadline=deadline)
    moved = 0
    for direction, action, path in (("download", download, options.download_path.replace(
            "{bytes}", str(options.download_bytes))), ("upload", upload, options.upload_path)):
        budget_s = min(options.max_seconds, deadline.remaining() - 0.5)
        if budget_s <= 0.2:
            sample.setdefault("errors", []).append(direction + ": no time left in the cycle")
            continue
        try:
            count, seconds, stopped = action(server, path, options, deadline,
                                             time.monotonic() + budget_s)
        except TransferFailed as exc:
            sample.setdefault("errors", []).append("{}: {}".format(direction, str(exc)[:160]))
            continue
        moved += count
        sample[direction] = {"bytes": count, "seconds": round(seconds, 6),
                             "bits_per_second": count * 8.0 / seconds if seconds > 0 else None,
                             "stopped_by": stopped}
    state["bytes"] += moved
    sample["budget"]["used_bytes"] = state["bytes"]
    _save(write_json, state_path, state)
    if "download" not in sample and "upload" not in sample and sample.get("errors"):
        sample["reachable"] = False
    else:
        sample["reachable"] = True
    return common.finish(sample, started)


def _url_host(host):
    return "[{}]".format(host) if ":" in host else host


def _save(write_json, path, state):
    try:
        write_json(path, state)
    except (IOError, OSError):
        pass  # the budget is then counted from the last state that could be written


def metrics(sample, out):
    labels = out.probe_labels(sample)
    budget = sample.get("budget") or {}
    if "used_bytes" in budget:
        out.gauge("guestagent_throughput_budget_used_bytes",
                  "Bytes the throughput tests moved today (UTC) against the daily budget.",
                  budget["used_bytes"], labels)
    for direction in ("download", "upload"):
        result = sample.get(direction)
        if result and result.get("bits_per_second") is not None:
            out.gauge("guestagent_throughput_bits_per_second",
                      "Rate of the last throughput test, by direction.",
                      result["bits_per_second"], dict(labels, direction=direction))
            out.gauge("guestagent_throughput_bytes", "Bytes moved by the last test.",
                      result["bytes"], dict(labels, direction=direction))
    if sample.get("latency_ms") is not None:
        out.gauge("guestagent_throughput_latency_seconds",
                  "TCP handshake time to the throughput server (median of 3).",
                  sample["latency_ms"] / 1000.0, labels)
