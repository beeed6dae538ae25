"""Answer ICMP echo requests from user space after a chosen delay (the lab's stand-in for netem).

Run inside a namespace whose kernel does not answer echo requests itself
(`net.ipv4.icmp_echo_ignore_all=1`). Each request is answered `delay_ms + uniform(-jitter_ms,
+jitter_ms)` after it arrived, independently of the others (a timer heap, not a sleep in line).
With --log, each applied delay is written as a JSON line `{"seq": n, "delay_ms": d}`: the truth
the tests compare the measurement with.

    python -m tests.lab.delayer --delay-ms 50 [--jitter-ms 10] [--seed 1] [--log FILE]
"""

import argparse
import heapq
import json
import random
import select
import socket
import struct
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!{}H".format(len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def reply_for(packet):
    """The echo reply (ICMP bytes) for a received IPv4 packet holding an echo request, or None."""
    header_len = (packet[0] & 0x0F) * 4
    icmp = packet[header_len:]
    if len(icmp) < 8 or icmp[0] != 8:
        return None, None
    ident, seq = struct.unpack("!HH", icmp[4:8])
    body = struct.pack("!BBHHH", 0, 0, 0, ident, seq) + icmp[8:]
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    return body, seq


def serve(delay_ms, jitter_ms=0.0, seed=1, log_path=None):
    rng = random.Random(seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    log = open(log_path, "a") if log_path else None
    pending = []  # (due time, order, reply bytes, address)
    order = 0
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 1.0
        readable, _, _ = select.select([sock], [], [], timeout)
        now = time.monotonic()
        if readable:
            packet, (address, _) = sock.recvfrom(65535)
            reply, seq = reply_for(packet)
            if reply is not None:
                applied = max(0.0, delay_ms + rng.uniform(-jitter_ms, jitter_ms))
                order += 1
                heapq.heappush(pending, (now + applied / 1000.0, order, reply, address))
                if log:
                    log.write(json.dumps({"seq": seq, "delay_ms": applied}) + "\n")
                    log.flush()
        while pending and pending[0][0] <= time.monotonic():
            _, _, reply, address = heapq.heappop(pending)
            sock.sendto(reply, (address, 0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log")
    args = parser.parse_args()
    serve(args.delay_ms, args.jitter_ms, args.seed, args.log)


if __name__ == "__main__":
    main()
