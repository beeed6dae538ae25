"""Listen for the LTE modem's NMEA stream (`lte gps nmea ip udp <src> <dst> <port>`) for a moment.

IOS sends GGA/RMC sentences at about 1 Hz to a UDP port; a cycle is a short process, so it binds
the port, reads datagrams until it has a fix or `listen_s` has passed, and parses what it got
with guestagent.ios.nmea.
"""

import socket
import time


def listen(port, bind_address="0.0.0.0", listen_s=3.0, deadline=None):
    """The parsed fix (guestagent.ios.nmea result) with `has_fix`, or the last parse without one,
    or None when nothing arrived. Raises OSError when the port cannot be bound."""
    from guestagent.ios import nmea
    family = socket.AF_INET6 if ":" in bind_address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_address, port))
        until = time.monotonic() + listen_s
        if deadline is not None:
            until = min(until, time.monotonic() + deadline.remaining())
        received = []
        last = None
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return last
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(4096)
            except socket.timeout:
                return last
            # A fix may take a GGA and an RMC from two datagrams: parse what came so far.
            received.append(data.decode("ascii", "replace"))
            last = nmea.parse("\n".join(received[-8:]))
            if last.get("has_fix") and last.get("timestamp_ts") is not None:
                return last
    finally:
        sock.close()
