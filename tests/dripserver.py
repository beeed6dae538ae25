"""Servers on loopback that hold a client as a bad server or a bad network would, for the deadline
tests. Each runs in threads of the test and stops (closing every connection) on `stop()`.

Modes (TCP):
- `hang`: accept, read the request, never answer (a dead backend behind a live load balancer);
- `headers`: read the request, then send the status line and headers one byte per second;
- `body`: read the request, send complete headers (`status`, Content-Length: 1 MB), then the
  body one byte per second;
- `tls`: read the ClientHello, then send a TLS record header announcing 16 KB and its bytes one
  per second (a handshake that trickles);
- `echo`: answer 502 with a body that echoes the request back, Authorization header and
  decoded basic-auth credentials first (a careless proxy), JSON-quoted too;
- `echo-status`: answer with the request's headers, Authorization first, as its status line;
- `dns-hang`, `dns-drip`: DNS over TCP, never answered / the two-byte length and then the
  message one byte per second.
UDP: `DnsUdpSilent` receives queries and never answers.
"""

import base64
import json
import socket
import threading

DRIP_INTERVAL_S = 1.0


class DripServer(object):
    def __init__(self, mode, bind="127.0.0.1", status=200):
        self.mode = mode
        self.status = status
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((bind, 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.url = "http://{}:{}".format(bind, self.port)
        self.https_url = "https://{}:{}".format(bind, self.port)
        self.requests = []  # raw requests read (echo and the HTTP modes)
        self.connections = 0
        self._stop = threading.Event()
        self._socks = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="drip-" + mode)
        self._thread.daemon = True

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        try:
            self.listener.close()
        except OSError:
            pass
        with self._lock:
            for sock in self._socks:
                try:
                    sock.close()
                except OSError:
                    pass
        self._thread.join(5)

    def _accept(self):
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._socks.append(sock)
                self.connections += 1
            worker = threading.Thread(target=self._serve, args=(sock,))
            worker.daemon = True
            worker.start()

    def _drip(self, sock, data):
        """Send data one byte per DRIP_INTERVAL_S until it is sent, the client goes or stop()."""
        for i in range(len(data)):
            if self._stop.wait(DRIP_INTERVAL_S if i else 0):
                return
            try:
                sock.sendall(data[i:i + 1])
            except OSError:
                return  # the client shut its end: it gave up, as it should

    def _serve(self, sock):
        try:
            getattr(self, "_serve_" + self.mode.replace("-", "_"))(sock)
        except OSError:
            pass

    def _serve_hang(self, sock):
        self.requests.append(read_request(sock))
        self._stop.wait()

    def _serve_headers(self, sock):
        self.requests.append(read_request(sock))
        self._drip(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
                   b"X-Padding: " + b"x" * 200 + b"\r\n\r\n0123456789")

    def _serve_body(self, sock):
        self.requests.append(read_request(sock))
        sock.sendall(b"HTTP/1.1 %d Drip\r\nContent-Length: 1000000\r\n\r\n" % self.status)
        self._drip(sock, b"a" * 1000000)

    def _serve_tls(self, sock):
        sock.settimeout(2.0)
        try:
            sock.recv(4096)  # the ClientHello
        except socket.timeout:
            pass
        self._drip(sock, b"\x16\x03\x03\x40\x00" + b"\x02" * 16384)

    def _serve_echo(self, sock):
        raw = read_request(sock)
        self.requests.append(raw)
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        auth = headers.get("Authorization", "")
        echoed = "you sent Authorization: {}".format(auth)
        if auth.startswith("Basic "):
            echoed += "; that is {}".format(
                base64.b64decode(auth[6:]).decode("utf-8", "replace"))
        echoed += "; headers " + json.dumps(headers) + "; request " + head
        body = echoed.encode("utf-8")
        sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    def _serve_echo_status(self, sock):
        """Not HTTP at all: the request's header lines sent back in place of a status line."""
        raw = read_request(sock)
        self.requests.append(raw)
        head = raw.split(b"\r\n\r\n", 1)[0]
        lines = head.split(b"\r\n")[1:]
        lines.sort(key=lambda line: not line.lower().startswith(b"authorization"))
        sock.sendall(b" ".join(lines) + b"\r\n\r\n")

    def _serve_dns_hang(self, sock):
        self._stop.wait()

    def _serve_dns_drip(self, sock):
        sock.settimeout(2.0)
        try:
            sock.recv(4096)
        except socket.timeout:
            pass
        self._drip(sock, b"\x00\x40" + b"\x00" * 64)


def read_request(sock, limit_s=2.0):
    """Read one HTTP request (headers, then a Content-Length or chunked body), for at most
    limit_s; whatever arrived by then."""
    sock.settimeout(limit_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                return data
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        lowered = head.lower()
        if b"transfer-encoding: chunked" in lowered:
            while not rest.endswith(b"0\r\n\r\n"):
                piece = sock.recv(65536)
                if not piece:
                    break
                rest += piece
        else:
            length = 0
            for line in lowered.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            while len(rest) < length:
                piece = sock.recv(65536)
                if not piece:
                    break
                rest += piece
        return head + b"\r\n\r\n" + rest
    except socket.timeout:
        return data
    finally:
        sock.settimeout(None)


class DnsUdpSilent(object):
    """A UDP port that takes DNS queries and never answers (a resolver that is gone)."""

    def __init__(self, bind="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, 0))
        self.port = self.sock.getsockname()[1]

    def start(self):
        return self

    def stop(self):
        self.sock.close()
