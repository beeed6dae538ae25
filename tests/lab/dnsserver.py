"""A small authoritative DNS server for the tests (dnspython): fixed A/AAAA records, NXDOMAIN for
the rest, and on request it ignores every Nth query (known query loss) or answers after a delay.

    python -m tests.lab.dnsserver --bind 127.0.0.1 --port 5353 [--drop-every N] [--delay-ms MS]
"""

import argparse
import socket
import threading
import time

RECORDS = {
    ("qoe.lab.", "A"): "198.18.100.10",
    ("qoe.lab.", "AAAA"): "fd00:100::10",
}


class DnsServer(object):
    def __init__(self, bind="127.0.0.1", port=0, drop_every=0, delay_ms=0.0):
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((bind, port))
        self.port = self.sock.getsockname()[1]
        self.drop_every = drop_every
        self.delay_ms = delay_ms
        self.queries = 0
        self.dropped = 0
        self._stop = False

    def answer(self, wire):
        import dns.message
        import dns.rcode
        import dns.rrset
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        import dns.rdatatype
        key = (question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype))
        if key in RECORDS:
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", key[1],
                                                       RECORDS[key]))
        elif not any(k[0] == key[0] for k in RECORDS):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def serve_forever(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.drop_every and self.queries % self.drop_every == 0:
                self.dropped += 1
                continue
            if self.delay_ms:
                time.sleep(self.delay_ms / 1000.0)
            try:
                self.sock.sendto(self.answer(wire), peer)
            except Exception:
                continue

    def start(self):
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    DnsServer(args.bind, args.port, args.drop_every, args.delay_ms).serve_forever()


if __name__ == "__main__":
    main()
