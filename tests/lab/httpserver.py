"""A small HTTP server for the tests: `/` answers 200, `/slow?ms=N` after N ms, `/status/N` with
status N, `/download?bytes=N` streams N bytes, `/upload` reads and counts a POST body.

    python -m tests.lab.httpserver --bind ADDR --port P [--tls-cert C --tls-key K]
"""

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

CHUNK = b"\0" * 65536


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _query(self):
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        return path, params

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path, params = self._query()
        if path == "/slow":
            time.sleep(float(params.get("ms", 0)) / 1000.0)
        if path.startswith("/status/"):
            self.send_response(int(path.rsplit("/", 1)[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/download":
            size = int(params.get("bytes", 0))
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            left = size
            while left > 0:
                piece = CHUNK[:min(left, len(CHUNK))]
                self.wfile.write(piece)
                left -= len(piece)
            return
        body = b"guestagent lab\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        received = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                received += len(self.rfile.read(size))
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", 0))
            while left > 0:
                piece = self.rfile.read(min(left, 65536))
                if not piece:
                    break
                received += len(piece)
                left -= len(piece)
        body = str(received).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True


def serve(bind="127.0.0.1", port=0, cert=None, key=None):
    if ":" in bind:
        import socket
        Server.address_family = socket.AF_INET6
    server = Server((bind, port), Handler)
    if cert:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def start(bind="127.0.0.1", port=0, cert=None, key=None):
    server = serve(bind, port, cert, key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    serve(args.bind, args.port, args.tls_cert, args.tls_key).serve_forever()


if __name__ == "__main__":
    main()
