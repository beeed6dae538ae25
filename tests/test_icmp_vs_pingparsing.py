"""Our reader of iputils/busybox ping output (`probes/icmp_text.py`) against pingparsing, the
library the ICMP prober used before, on every real capture in fixtures/linux_ping/.

pingparsing left the prober for measured reasons (tests/test_parser_fuzz.py; README): its patterns
take seconds on a few KB of odd output, it does not read a header with an empty host name, and its
import costs more CPU than a whole sample. It stays a test dependency so that this test shows the
two agree wherever pingparsing gives a figure, and says where and why they differ.
"""

import glob
import os

import pytest

from guestagent.probes import icmp_text
from tests.conftest import FIXTURES

pingparsing = pytest.importorskip("pingparsing")

CAPTURES = sorted(glob.glob(os.path.join(FIXTURES, "linux_ping", "*.txt")))

# Where the two differ on purpose (docs/metrics.md): a duplicate reply is not a sample, so the
# averages leave it out (pingparsing__10, busybox with two DUP! replies); an interrupted run
# without a summary line still has reply lines, which give figures (pingparsing__6: pingparsing
# gives none).
OURS_FROM_REPLIES = {"pingparsing__10.txt", "pingparsing__6.txt"}


@pytest.mark.parametrize("path", CAPTURES, ids=os.path.basename)
def test_counts_and_summary_figures_agree_with_pingparsing(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    ours = icmp_text.parse(text, 10.0)
    try:
        theirs = pingparsing.PingParsing().parse(text).as_dict()
    except Exception:  # pingparsing refuses it: we must not claim a sample either
        assert ours["recognized"] is False
        return
    assert ours["recognized"] is True
    assert ours["sent"] == theirs["packet_transmit"]
    assert ours["received"] + (ours.get("late") or 0) == theirs["packet_receive"]
    rtt = ours.get("rtt_ms") or {}
    name = os.path.basename(path)
    if name in OURS_FROM_REPLIES:
        assert rtt.get("median") is not None
        return
    for key in ("min", "avg", "max", "mdev"):
        if theirs["rtt_" + key] is None:
            assert rtt.get(key) is None, key
        else:
            assert rtt[key] == pytest.approx(theirs["rtt_" + key], abs=0.0005), key
