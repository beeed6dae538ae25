"""One HTTP/1.1 exchange on a fresh connection, held to a total deadline whatever the server does.

http.client on a socket opened here and watched by a `deadline.Watchdog`: each phase (connect,
TLS handshake, sending, the wait for the status line and headers, the body) gets at most
`timeout_s`, all of it ends by the deadline, and a server that sends one byte per second extends
neither (socket timeouts alone apply per read). Used by the sinks and the HTTP-based probers.
No proxy from the environment, no redirects, no keep-alive.
"""

import socket
import time

from guestagent.deadline import Watchdog

CONNECT = "connect"
TLS = "the TLS handshake"
SEND = "sending the request"
HEADERS = "the wait for the response"
BODY = "reading the body"


class DeadlineReached(socket.timeout):
    """No time was left to start a phase."""


class Exchange(object):
    """`with Exchange(deadline, timeout_s) as x: x.connect(..); x.start_tls(..); ...`

    `timings` holds the seconds each phase took; after an exception, `failure(exc)` says what
    to record and `cut_by_deadline(exc)` whether the overall deadline (not the server within
    its own timeout) ended it.
    """

    def __init__(self, deadline, timeout_s):
        self.deadline = deadline
        self.timeout_s = float(timeout_s)
        self.guard = Watchdog(deadline)
        self.sock = None
        self.connection = None
        self.timings = {}
        self.started = time.monotonic()

    def __enter__(self):
        self.guard.__enter__()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self.guard.stop()
        for thing in (self.connection, self.sock):
            if thing is not None:
                try:
                    thing.close()
                except (OSError, ValueError):
                    pass

    def phase(self, name, seconds=None, read_timeout_s=None):
        """Start a phase: it ends within `seconds` (default `timeout_s`) and by the deadline;
        each read waits at most `read_timeout_s` (default: the phase's time left)."""
        self.guard.limit(self.timeout_s if seconds is None else seconds, name)
        left = self.guard.remaining()
        if left <= 0:
            raise DeadlineReached("no time left for " + name)
        if self.sock is not None:
            self.sock.settimeout(left if read_timeout_s is None else min(left, read_timeout_s))
        return left

    def connect(self, address, port):
        started = time.monotonic()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.guard.watch(self.sock)
        self.phase(CONNECT)
        self.sock.connect((address, port))
        self.timings["connect"] = time.monotonic() - started

    def start_tls(self, context, server_hostname):
        started = time.monotonic()
        self.phase(TLS)
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.timings["tls"] = time.monotonic() - started

    def request(self, method, path, headers, body=None, host=None):
        """Send the request line, headers (a Host header is added from `host`) and body."""
        import http.client
        self.connection = http.client.HTTPConnection(host or "localhost")
        self.connection.sock = self.sock  # ours: connected, wrapped, watched
        all_headers = [("Host", host)] if host else []
        all_headers.extend(headers.items() if hasattr(headers, "items") else headers)
        self.phase(SEND)
        self.connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in all_headers:
            self.connection.putheader(key, value)
        if body is not None and not any(k.lower() in ("content-length", "transfer-encoding")
                                        for k, _ in all_headers):
            self.connection.putheader("Content-Length", str(len(body)))
        self.connection.endheaders(body)

    def send_chunked(self, pieces):
        """The body of a request sent with `Transfer-Encoding: chunked`, piece by piece."""
        for piece in pieces:
            if piece:
                self.sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.sock.sendall(b"0\r\n\r\n")

    def response(self):
        """The status line and headers; the body is then read within the BODY phase."""
        started = time.monotonic()
        self.phase(HEADERS)
        response = self.connection.getresponse()
        self.timings["headers"] = time.monotonic() - started
        self.phase(BODY)
        return response

    def read_body(self, response, max_bytes, partial_ok=False):
        """At most max_bytes of the body, read piece by piece (the watchdog bounds the total).
        With partial_ok, a body cut short (by the server, a timeout or the watchdog) gives
        what arrived instead of raising."""
        pieces, size = [], 0
        try:
            while size < max_bytes:
                piece = response.read1(min(65536, max_bytes - size))
                if not piece:
                    break
                pieces.append(piece)
                size += len(piece)
        except Exception:
            if not partial_ok:
                raise
        if not partial_ok and size < max_bytes:
            # A shut socket reads as the end of the body: a cut body must not pass as whole.
            if self.guard.expired():
                raise socket.timeout("the body was cut")
            if response.length:
                import http.client
                raise http.client.IncompleteRead(b"".join(pieces), response.length)
        return b"".join(pieces)

    def cut_by_deadline(self, exc):
        """Whether the overall deadline ended the exchange (rather than a phase's timeout)."""
        timed_out = self.guard.expired() or isinstance(exc, DeadlineReached)
        return timed_out and self.guard.limited_by_deadline()

    def failure(self, exc):
        """One line for the record: a timeout says which phase and why, not what the library
        made of a socket shut under it."""
        if self.guard.expired() or isinstance(exc, (DeadlineReached, socket.timeout)):
            return "timed out: {} ({:.1f} s)".format(self.guard.describe(),
                                                     time.monotonic() - self.started)
        return "{}: {}".format(type(exc).__name__, exc)


def host_header(host, port, scheme):
    """Host header value: brackets for IPv6, the port unless it is the scheme's default."""
    name = "[{}]".format(host) if ":" in host else host
    if port == (443 if scheme == "https" else 80):
        return name
    return "{}:{}".format(name, port)


def tls_context(ca_file=None, verify_tls=True):
    """The client TLS context every part uses: the system CAs, or `ca_file` alone when given;
    `verify_tls: false` checks neither the chain nor the name (and `ca_file` is not read).
    Raises OSError or ssl.SSLError for a CA file that is missing or holds no certificate."""
    import ssl
    if not verify_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_file)
