"""The lab itself: it leaves nothing behind, sweeps what dead runs left, and its user-space echo
responder builds correct replies."""

import os
import struct
import subprocess

import pytest

from tests.lab import delayer
from tests.lab.fixtures import _lab_possible


def netns_names():
    out = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    return set(line.split()[0] for line in out.splitlines() if line.strip())


def echo_request(ident, seq, payload):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", delayer.checksum(icmp)) + icmp[4:]
    # A minimal IPv4 header (20 bytes, IHL 5); the responder reads only its length.
    header = bytes([0x45]) + b"\0" * 19
    return header + icmp


def test_the_responder_answers_an_echo_request_with_a_valid_reply():
    reply, seq = delayer.reply_for(echo_request(0x1234, 7, b"abcdefgh"))
    assert seq == 7
    kind, code, _, ident, reply_seq = struct.unpack("!BBHHH", reply[:8])
    assert (kind, code, ident, reply_seq) == (0, 0, 0x1234, 7)
    assert reply[8:] == b"abcdefgh"            # the payload (ping's timestamp) comes back
    assert delayer.checksum(reply) == 0        # a correct checksum sums to zero


def test_the_responder_ignores_what_is_not_an_echo_request():
    packet = echo_request(1, 1, b"")
    not_request = packet[:20] + bytes([0]) + packet[21:]   # an echo reply
    assert delayer.reply_for(not_request) == (None, None)


needs_lab = pytest.mark.skipif(not _lab_possible(),
                               reason="the lab needs root, iproute2, nftables and tc")


@needs_lab
def test_down_removes_every_namespace_and_process_of_the_lab():
    from tests.lab.topology import Lab
    lab = Lab().up()
    try:
        assert set(lab.ns.values()) <= netns_names()
        lab.start_servers()
        pids = [p.pid for p in lab.processes]
    finally:
        lab.down()
    assert not set(lab.ns.values()) & netns_names()
    assert not [pid for pid in pids if os.path.exists("/proc/{}".format(pid))]


@needs_lab
def test_a_failed_build_cleans_up_after_itself():
    from tests.lab import topology
    lab = topology.Lab()

    def broken():
        raise RuntimeError("routing failed")
    lab._routes = broken
    with pytest.raises(RuntimeError):
        lab.up()
    assert not set(lab.ns.values()) & netns_names()


@needs_lab
def test_sweep_removes_namespaces_of_dead_runs_only():
    from tests.lab.topology import PREFIX, sweep
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = "{}{}xdead-agent".format(PREFIX, dead.pid)
    alive = "{}{}xlive-agent".format(PREFIX, os.getpid())
    for name in (stale, alive):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        sweep()
        names = netns_names()
        assert stale not in names
        assert alive in names       # a running process's lab is left alone
    finally:
        for name in (stale, alive):
            subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
