"""Simulated routers for the fleet's side: the requests of one real agent cycle, captured from
the agent's own sinks, replayed as many routers with their own instance labels.

capture_cycle() runs `python -m guestagent run` once with both sinks pointed at a loopback
server that answers as the Pushgateway and VictoriaMetrics do, and keeps each request as sent
(method, path, headers, body: compressed or not, whatever the sinks send). A Fleet then sends
those requests for router i with `instance` replaced and, for the import (which carries
timestamps), the cycle's timestamp moved to the simulated time. Only loopback addresses.
Used by tests/test_deploy.py and bench/fleet.py.
"""

import asyncio
import base64
import gzip
import os
import subprocess
import sys
import threading
import zlib
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CAPTURE_INSTANCE = "capture-router-0"


class Request(object):
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers  # [(name, value)] as sent, hop-by-hop ones removed
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _capture_server(requests):
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from socketserver import ThreadingMixIn

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _answer(self, status, body=b""):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = [(k, v) for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "connection",
                                            "authorization", "user-agent")]
            requests.append(Request(self.command, self.path, headers, body))
            # As the real receivers answer: the Pushgateway 200 to PUT/POST, VictoriaMetrics'
            # import and /write 204, its export 200 with no series (nothing held yet), flush 200.
            if self.path.startswith("/metrics/"):
                self._answer(200)
            elif self.path.startswith(("/api/v1/import", "/write")):
                self._answer(204)
            else:
                self._answer(200)

        do_PUT = do_POST = do_GET = do_DELETE = _handle

    class Server(ThreadingMixIn, HTTPServer):
        daemon_threads = True

    return Server(("127.0.0.1", 0), Handler)


def agent_config(work_dir, url, n_targets):
    targets = "\n".join("  - {{name: tp{0}, host: 127.0.0.{0}}}".format(i + 1)
                        for i in range(n_targets))
    return """
agent: {{state_dir: {state}, deadline_s: 30, instance: {instance}}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes:
  icmp: {{count: 3, interval_s: 0.2, timeout_s: 1.0}}
targets:
{targets}
sinks:
  pushgateway: {{url: "{url}"}}
  victoriametrics: {{url: "{url}"}}
""".format(state=os.path.join(work_dir, "state"), instance=CAPTURE_INSTANCE, url=url,
           targets=targets)


def capture_cycle(work_dir, n_targets=10, python=None, timeout_s=120):
    """{"pushgateway": Request, "victoriametrics": Request, "report": the run's stdout tail}
    from one real cycle of the agent with n_targets ICMP test points on 127.0.0.x."""
    os.makedirs(work_dir, exist_ok=True)
    requests = []
    server = _capture_server(requests)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:{}".format(server.server_address[1])
        path = os.path.join(work_dir, "capture.yaml")
        with open(path, "w") as f:
            f.write(agent_config(work_dir, url, n_targets))
        env = dict(os.environ)
        env.pop("GUESTAGENT_CONFIG", None)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.Popen([python or sys.executable, "-m", "guestagent", "run", "--trigger",
                                 "timer", "-c", path], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        server.shutdown()
        server.server_close()
    found = {}
    for request in requests:
        if request.path.startswith("/metrics/") and request.method in ("PUT", "POST"):
            found["pushgateway"] = request
        elif request.path.startswith(("/api/v1/import", "/write")):
            # the text import or line protocol (sinks.victoriametrics.format)
            found["victoriametrics"] = request
    if len(found) < 2:
        raise RuntimeError("the cycle sent {} (exit {}): {}".format(
            sorted(found) or "nothing", proc.returncode, err[-2000:]))
    found["stdout"] = out
    return found


# -- replay ------------------------------------------------------------------------------------

def decode(body, encoding):
    if not encoding or encoding == "identity":
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "snappy":
        import snappy  # only if the sinks send snappy
        return snappy.uncompress(body)
    raise ValueError("cannot decode Content-Encoding {}".format(encoding))


def encode(body, encoding):
    if not encoding or encoding == "identity":
        return body
    if encoding == "gzip":
        return gzip.compress(body, 6)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "snappy":
        import snappy
        return snappy.compress(body)
    raise ValueError(encoding)


def _samples(text, line_protocol):
    """Samples in a body: one per line of the text format; one per field of line protocol
    (`measurement,tags field=v,field=v ts`, the fields after the first unescaped space)."""
    import re
    count = 0
    for line in text.split(b"\n"):
        if not line.strip() or line.startswith(b"#"):
            continue
        if not line_protocol:
            count += 1
            continue
        tokens = re.split(br"(?<!\\) ", line)
        fields = tokens[1] if len(tokens) > 1 else b""
        count += len(re.split(br"(?<!\\),", fields)) if fields else 0
    return count


def _stamp_of(text):
    """The timestamp most lines of an exposition end with (the cycle's start, ms)."""
    counts = {}
    for line in text.split(b"\n"):
        if line and not line.startswith(b"#"):
            parts = line.rsplit(b" ", 2)
            if len(parts) == 3 and parts[2].isdigit():
                counts[parts[2]] = counts.get(parts[2], 0) + 1
    if not counts:
        return None, 0
    stamp = max(counts, key=counts.get)
    return stamp, counts[stamp]


class Replay(object):
    """One captured request as any router's: request(instance, stamp_ms) -> bytes on the wire
    (without the Host and Authorization lines, which the sender adds)."""

    def __init__(self, kind, captured):
        self.kind = kind
        self.method = captured.method
        self.encoding = captured.header("Content-Encoding")
        self.headers = [(k, v) for k, v in captured.headers]
        self.wire = captured.body
        self.plain = decode(captured.body, self.encoding)
        self.samples = _samples(self.plain, "/write" in captured.path)
        if kind == "pushgateway":
            marker = "/instance/" + CAPTURE_INSTANCE
            if marker not in captured.path:
                encoded = "/instance@base64/" + base64.urlsafe_b64encode(
                    CAPTURE_INSTANCE.encode()).decode().rstrip("=")
                marker = encoded if encoded in captured.path else None
            if marker is None:
                raise ValueError("no instance in the push path " + captured.path)
            self.path_parts = captured.path.split(marker, 1)
            self.path_format = "/instance/{}"
        else:
            marker = quote("instance=" + CAPTURE_INSTANCE, safe="")
            if marker not in captured.path:
                marker = "instance=" + CAPTURE_INSTANCE
            self.path_parts = captured.path.split(marker, 1)
            self.path_format = quote("instance=", safe="") + "{}"
        self.stamp, self.stamped_lines = _stamp_of(self.plain) if kind != "pushgateway" else (
            None, 0)
        self._bodies = {}

    def path(self, instance):
        return self.path_parts[0] + self.path_format.format(instance) + self.path_parts[1]

    def body(self, stamp_ms=None):
        """The body with the cycle's timestamp moved to stamp_ms, encoded as captured."""
        if self.stamp is None or stamp_ms is None:
            return self.wire
        key = int(stamp_ms)
        body = self._bodies.get(key)
        if body is None:
            if len(self._bodies) > 4096:
                self._bodies.clear()
            new = str(key).encode()
            plain = self.plain.replace(b" " + self.stamp + b"\n", b" " + new + b"\n")
            body = self._bodies[key] = encode(plain, self.encoding)
        return body


def request_bytes(replay, instance, host, auth=None, stamp_ms=None, prefix=""):
    body = replay.body(stamp_ms)
    lines = ["{} {}{} HTTP/1.1".format(replay.method, prefix, replay.path(instance)),
             "Host: " + host, "Content-Length: {}".format(len(body)), "Connection: close"]
    lines += ["{}: {}".format(k, v) for k, v in replay.headers]
    if auth:
        lines.append("Authorization: Basic " + base64.b64encode(
            "{}:{}".format(*auth).encode()).decode())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def router_name(i):
    return "rtr-{:05d}".format(i)


class Result(object):
    def __init__(self):
        self.status = {}  # HTTP status (or "timeout", "refused") -> count
        self.latencies_s = []
        self.bytes_sent = 0

    @property
    def accepted(self):
        return sum(n for s, n in self.status.items() if isinstance(s, int) and s < 300)

    @property
    def errors(self):
        return sum(self.status.values()) - self.accepted


async def send_one(addr, data, timeout_s, result, loop):
    host, port = addr.rsplit(":", 1)
    started = loop.time()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)),
                                                timeout_s)
        writer.write(data)
        remaining = max(0.01, timeout_s - (loop.time() - started))
        line = await asyncio.wait_for(reader.readline(), remaining)
        status = int(line.split()[1]) if line else "closed"
        remaining = max(0.01, timeout_s - (loop.time() - started))
        await asyncio.wait_for(reader.read(), remaining)
        result.bytes_sent += len(data)
    except asyncio.TimeoutError:
        status = "timeout"
    except (OSError, ValueError, IndexError):
        status = "refused"
    finally:
        if writer is not None:
            writer.close()
    result.status[status] = result.status.get(status, 0) + 1
    result.latencies_s.append(loop.time() - started)
    return status


def push_all(addr, jobs, concurrency=32, timeout_s=5.0):
    """Send every (data) in jobs as fast as `concurrency` connections allow; a Result."""
    result = Result()

    async def main(loop):
        semaphore = asyncio.Semaphore(concurrency)

        async def one(data):
            async with semaphore:
                await send_one(addr, data, timeout_s, result, loop)

        await asyncio.gather(*[one(data) for data in jobs])

    run(main)
    return result


def run(main):
    """main(loop) to its end on a new event loop (no asyncio.run on Python 3.6)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main(loop))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
