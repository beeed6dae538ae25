"""Listen for the LTE modem's NMEA stream (`lte gps nmea ip udp <src> <dst> <port>`) for a moment.

IOS sends GGA/RMC sentences at about 1 Hz to a UDP port; a cycle is a short process, so it binds
the port, reads datagrams until it has a complete fix or `listen_s` has passed, and parses what
it got with guestagent.ios.nmea.

A fix is complete with RMC's date and time and GGA's fields (satellites, altitude). RMC alone
has a position too, but ending the listen on it would drop the GGA that follows within the
second: so an RMC-only fix is returned only when no GGA came within the budget.
"""

import socket
import time


def open_socket(port, bind_address="0.0.0.0"):
    """The bound UDP socket. Raises OSError when the port cannot be bound."""
    family = socket.AF_INET6 if ":" in bind_address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_address, port))
    except Exception:
        sock.close()
        raise
    return sock


def complete(fix):
    """A fix with its date and time (RMC) and its GGA fields."""
    return bool(fix.get("has_fix") and fix.get("timestamp_ts") is not None
                and fix.get("satellites") is not None)


def read(sock, listen_s=3.0, deadline=None, clock=time.monotonic):
    """Read datagrams from a bound socket until a complete fix or the budget: the complete
    fix, else the last parse (a fix without GGA, or no fix), or None when nothing arrived."""
    from guestagent.ios import nmea
    until = clock() + listen_s
    if deadline is not None:
        until = min(until, clock() + deadline.remaining())
    received = []
    last = None
    while True:
        left = until - clock()
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
        if complete(last):
            return last


def listen(port, bind_address="0.0.0.0", listen_s=3.0, deadline=None):
    """The parsed fix (guestagent.ios.nmea result) with `has_fix`, or the last parse without a
    complete one, or None when nothing arrived. Raises OSError when the port cannot be bound."""
    sock = open_socket(port, bind_address)
    try:
        return read(sock, listen_s, deadline)
    finally:
        sock.close()
