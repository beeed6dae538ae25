"""IOS `traceroute` output (real captures): hops, `*`, `!H`, `[AS n]`, MPLS labels, ECMP
responders on continuation lines, names with addresses, the VRF line."""

import pytest

from guestagent.ios import traceroute
from tests.conftest import read_fixture


def trace(name, directory="ios_traceroute"):
    result = traceroute.parse(read_fixture(directory, name))
    assert result["recognized"] is True
    return result


def hop(result, number):
    return [h for h in result["hops"] if h["hop"] == number][0]


def test_as_and_mpls_labels_ios12():
    result = trace("gns3-hsrp-mpls-lab__1.txt")
    assert result["destination"] == "192.168.2.1" and "vrf_info" not in result
    assert [h["address"] for h in result["hops"]] == [
        "11.1.1.1", "15.15.1.1", "10.0.0.1", "10.0.0.3", "15.15.2.1", "15.15.2.2"]
    third = hop(result, 3)
    assert third["as_numbers"] == [65000] and third["mpls_labels"] == [["26", "0", "55"]]
    assert third["rtt_ms"] == [120, 116, 184]
    assert hop(result, 5)["mpls_labels"] == [["55"]]
    assert hop(result, 6)["mpls_labels"] == [] and result["reached"] is False


def test_timeouts_and_responder_on_a_continuation_line():
    result = trace("gns3-hsrp-mpls-lab__2.txt")
    for number in (2, 3, 4, 5):
        assert hop(result, number)["address"] is None and hop(result, number)["lost"] == 3
    sixth = hop(result, 6)
    assert (sixth["lost"], sixth["address"], sixth["rtt_ms"]) == (1, "40.0.0.2", [36, 76])


def test_ecmp_responders_and_interleaved_stars():
    result = trace("ntc-templates__1.txt")
    assert result["vrf_info"] is True
    first = hop(result, 1)
    assert first["addresses"] == ["10.180.133.121", "10.180.133.125"]
    assert first["rtt_ms"] == [1, 1, 0, 2]
    second = hop(result, 2)
    assert (second["rtt_ms"], second["lost"]) == ([1, 2], 2)


def test_host_unreachable_annotations():
    result = trace("ntc-templates__2.txt")
    last = result["hops"][-1]
    assert last["hop"] == 6 and last["address"] == "172.17.10.225"
    assert last["annotations"] == ["!H", "!H"] and last["lost"] == 1
    assert hop(result, 3)["lost"] == 9
    assert len(hop(result, 4)["addresses"]) == 6  # 9 lines, 6 distinct responders


def test_names_with_addresses_and_destination_name():
    result = trace("ntc-templates__3.txt")
    assert (result["destination"], result["destination_name"]) == ("8.8.8.8", "dns.google")
    seventh = hop(result, 7)
    assert seventh["address"] == "195.99.127.152"
    assert seventh["names"]["195.99.127.152"] == "core2-hu0-8-0-1.colindale.ukcore.bt.net"
    assert len(result["hops"]) == 22 and hop(result, 22)["lost"] == 10
    assert hop(result, 5)["address"] == "31.55.185.181" and hop(result, 5)["lost"] == 9


def test_starts_at_ttl_zero_and_reaches_by_name():
    result = trace("ntc-templates__4.txt")
    assert result["hops"][0]["hop"] == 0 and result["hops"][0]["address"] == "10.255.1.1"
    reached = trace("ntc-templates__7.txt")
    assert reached["reached"] is True and hop(reached, 10)["address"] == "1.1.1.1"


def test_mpls_label_stacks_on_named_hops():
    result = trace("ntc-templates__5.txt")
    assert hop(result, 12)["mpls_labels"] == [["577687", "617891"]]
    assert hop(result, 14)["mpls_labels"] == [["617891"]]
    assert hop(result, 30)["lost"] == 1


def test_min_ttl_and_exp_4():
    result = trace("ntc-templates__8.txt")
    assert [h["hop"] for h in result["hops"]] == [10, 11, 12, 13]
    assert result["reached"] is True
    assert ["216928"] in hop(result, 13)["mpls_labels"]


def test_older_format_reaches_destination():
    result = trace("ntc-templates__6.txt")
    assert result["reached"] is True and len(result["hops"]) == 3


def test_lsp_trace_codes():
    result = trace("genieparser__1.txt", "ios_traceroute_mpls")
    assert [h["codes"] for h in result["hops"]] == [[], ["L"], ["L"], ["L"], ["!"]]
    assert hop(result, 3)["mpls_labels"] == [["implicit-null"]]
    assert result["reached"] is True


@pytest.mark.parametrize("number", range(1, 9))
def test_every_responder_of_the_source_parse_is_in_its_hop(number):
    import yaml
    name = "ntc-templates__{}".format(number)
    expected = yaml.safe_load(read_fixture("ios_traceroute", name + ".expected.yml"))
    ours = trace(name + ".txt")
    by_hop = dict((h["hop"], h) for h in ours["hops"])
    for row in expected["parsed_sample"]:
        hop_ = by_hop[int(row["hop_num"])]
        if row["ip_address"]:
            assert row["ip_address"] in hop_["addresses"]
            if row["fqdn"]:
                assert hop_["names"][row["ip_address"]] == row["fqdn"]
        stars = sum(1 for r in row["rtt_response"] if r == "*")
        assert hop_["lost"] >= stars
    assert set(by_hop) == set(int(r["hop_num"]) for r in expected["parsed_sample"])
