import pytest

from guestagent.probes import traceroute
from tests.conftest import read_fixture


def parse(name):
    return traceroute.parse(read_fixture("linux_traceroute", name))


def test_two_hop_ipv4_path():
    result = parse("netns-lab__1.txt")
    assert result["recognized"] and result["destination"] == "198.18.2.2"
    assert [h["address"] for h in result["hops"]] == ["198.18.1.1", "198.18.2.2"]
    assert result["hops"][0]["rtt_ms"] == [0.593, 0.457, 0.397]
    assert traceroute.first_responding_hop(result["hops"])["address"] == "198.18.1.1"


def test_ipv6_path_with_silent_hops():
    result = parse("netns-lab__2.txt")
    assert result["destination"] == "fd00:2::2"
    assert result["hops"][0]["address"] == "fd00:1::1"
    assert [h["lost"] for h in result["hops"][1:]] == [3, 3, 3, 3]
    assert all(h["address"] is None for h in result["hops"][1:])


def test_silent_first_hop_is_skipped_for_the_first_hop_test_point():
    result = parse("netns-lab__3.txt")
    assert result["hops"][0] == {"hop": 1, "address": None, "addresses": [], "rtt_ms": [],
                                 "lost": 3, "annotations": []}
    assert result["hops"][1]["rtt_ms"] == [0.187] and result["hops"][1]["lost"] == 2
    assert traceroute.first_responding_hop(result["hops"])["address"] == "198.18.2.2"


def test_unreachable_annotation():
    hop = parse("netns-lab__4.txt")["hops"][0]
    assert hop["address"] == "198.18.1.1" and hop["annotations"] == ["!N"] and hop["lost"] == 1


def test_multi_address_hop_keeps_every_address_once():
    text = (" 3  192.0.2.1  5.1 ms 192.0.2.2  6.0 ms !H 192.0.2.1  5.5 ms\n")
    hop = traceroute.parse(text)["hops"][0]
    assert hop["addresses"] == ["192.0.2.1", "192.0.2.2"]
    assert hop["rtt_ms"] == [5.1, 6.0, 5.5] and hop["annotations"] == ["!H"]


@pytest.mark.parametrize("text", ["", "traceroute: unknown host nowhere\n", "garbage\n\n\t"])
def test_odd_text_is_not_recognized_and_does_not_raise(text):
    assert traceroute.parse(text) == {"recognized": False, "hops": []}
