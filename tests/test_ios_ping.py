"""IOS `ping` output (real captures) and the `via: ios` ICMP prober on a simulated router."""

import pytest

from guestagent.deadline import Deadline
from guestagent.device import slug
from guestagent.device.simulated import SimulatedDevice
from guestagent.ios import ping
from guestagent.probes import common, icmp, ios_ping
from guestagent.schema import Namespace
from tests.conftest import read_fixture


def parsed(name, directory="ios_ping"):
    result = ping.parse(read_fixture(directory, name))
    assert result["recognized"] is True
    return result


def test_all_replies():
    result = parsed("gns3-c7200-cn__1.txt")
    assert (result["sent"], result["received"], result["success_percent"]) == (5, 5, 100)
    assert (result["rtt_min_ms"], result["rtt_avg_ms"], result["rtt_max_ms"]) == (8, 16, 36)
    assert (result["count"], result["size_bytes"], result["timeout_s"]) == (5, 100, 2)
    assert result["results"] == "!!!!!" and result["loss_ratio"] == 0.0


def test_total_loss_has_no_round_trip_clause():
    result = parsed("gns3-c7200-cn__2.txt")
    assert (result["sent"], result["received"], result["loss_ratio"]) == (5, 0, 1.0)
    assert "rtt_avg_ms" not in result and result["results"] == "....."


@pytest.mark.parametrize("name", ["ntc-templates__4.txt", "ntc-templates__6.txt",
                                  "ntc-templates__11.txt", "ntc-templates__12.txt"])
def test_hand_edited_zero_percent_with_rtt_clause_keeps_no_rtt(name):
    # The source (ntc-templates) expects rtt min/avg/max here; a router never prints RTTs when
    # nothing came back, so we disagree and ignore them.
    result = parsed(name)
    assert result["received"] == 0 and result["loss_ratio"] == 1.0
    assert "rtt_min_ms" not in result


def test_mixed_result_characters_crlf():
    result = parsed("ntc-templates__7.txt")
    assert result["results"] == "Q..U!"
    assert result["result_counts"] == {"Q": 1, ".": 2, "U": 1, "!": 1}
    assert (result["sent"], result["received"], result["rtt_avg_ms"]) == (5, 1, 9)
    assert result["loss_ratio"] == pytest.approx(0.8)
    assert parsed("ntc-templates__13.txt")["result_counts"] == {"U": 2, ".": 3}


def test_wrapped_result_lines_source_and_df_bit():
    result = parsed("ciscozine-copy__1.txt")
    assert len(result["results"]) == 200 and set(result["results"]) == {"!"}
    assert (result["rtt_min_ms"], result["rtt_avg_ms"], result["rtt_max_ms"]) == (12, 71, 172)
    assert parsed("iol-lab-ja__1.txt")["source"] == "1.1.1.1"  # trailing space in the capture
    ten = parsed("ntc-templates__10.txt")
    assert ten["df_bit"] is True and ten["size_bytes"] == 1500 and ten["source"] == "192.168.0.10"


def test_directed_broadcast_has_replies_and_no_success_line():
    result = parsed("ntc-templates__5.txt")
    assert len(result["replies"]) == 8
    assert result["replies"][1] == {"request": 0, "address": "10.32.20.222", "rtt_ms": 26}
    assert (result["sent"], result["received"]) == (2, 2)
    assert (result["rtt_min_ms"], result["rtt_max_ms"]) == (3, 26)


def test_mpls_lsp_ping():
    result = parsed("genieparser__1.txt", "ios_ping_mpls")
    assert (result["sent"], result["received"], result["rtt_max_ms"]) == (5, 5, 1)


# -- the prober -----------------------------------------------------------------------------

def router_with(tmp_path, command, text):
    path = tmp_path / "{}__synthetic.txt".format(slug(command))
    path.write_text(text)
    return SimulatedDevice(str(tmp_path))


def target(**kw):
    values = dict(name="edge", host="192.0.2.1", role="isp-edge", group=None, via="ios", vrf=None,
                  kind="icmp")
    values.update(kw)
    return Namespace(values)


def options(count=5, timeout_s=2.0):
    return Namespace(count=count, interval_s=1.0, timeout_s=timeout_s, size=56)


def test_command_has_vrf_repeat_and_whole_second_timeout():
    assert ios_ping.command("192.0.2.1", options(10, 1.5), "backup") == \
        "ping vrf backup 192.0.2.1 repeat 10 timeout 2"
    assert ios_ping.command("192.0.2.1", options(3, 2.0)) == "ping 192.0.2.1 repeat 3 timeout 2"


def test_probe_via_ios_fills_the_icmp_sample(tmp_path):
    text = read_fixture("ios_ping", "ntc-templates__7.txt")
    device = router_with(tmp_path, "ping vrf backup 192.0.2.1 repeat 5 timeout 2", text)
    sample = icmp.probe(target(vrf="backup"), options(), Deadline(20),
                        Namespace(device=device, config=None))
    assert device.commands == ["ping vrf backup 192.0.2.1 repeat 5 timeout 2"]
    assert sample["error"] is None and sample["via"] == "ios"
    assert (sample["sent"], sample["received"], sample["reachable"]) == (5, 1, True)
    assert sample["loss_ratio"] == pytest.approx(0.8)
    assert sample["rtt_ms"] == {"min": 9, "avg": 9, "max": 9, "median": None, "p95": None,
                                "mdev": None}
    assert sample["jitter_ms"] is None
    assert sample["address"] == "10.245.179.14"  # as IOS printed it in the capture


def test_probe_total_loss_is_network_failure_not_error(tmp_path):
    device = router_with(tmp_path, "ping 192.0.2.1 repeat 5 timeout 2",
                         read_fixture("ios_ping", "gns3-c7200-cn__2.txt"))
    sample = ios_ping.probe(target(), options(), Deadline(20), Namespace(device=device),
                            common.new_sample(target(), "icmp"))
    assert sample["error"] is None
    assert (sample["received"], sample["loss_ratio"], sample["reachable"]) == (0, 1.0, False)
    assert sample["rtt_ms"] is None


def test_probe_errors_are_measurement_errors(tmp_path):
    device = router_with(tmp_path, "ping 192.0.2.1 repeat 5 timeout 2",
                         "% Unrecognized host or address, or protocol not running.\n")
    sample = ios_ping.probe(target(), options(), Deadline(20), Namespace(device=device),
                            common.new_sample(target(), "icmp"))
    assert sample["error"].startswith("ios ping: unreadable output")
    missing = ios_ping.probe(target(host="192.0.2.9"), options(), Deadline(20),
                             Namespace(device=device), common.new_sample(target(), "icmp"))
    assert "Invalid input" in missing["error"]
    no_device = ios_ping.probe(target(), options(), Deadline(20), Namespace(device=None),
                               common.new_sample(target(), "icmp"))
    assert no_device["error"] == "via ios: no router device"


# Where the source (ntc-templates) keeps RTTs that a router never prints at 0 percent.
HAND_EDITED = {"ntc-templates__4", "ntc-templates__6", "ntc-templates__11", "ntc-templates__12"}


@pytest.mark.parametrize("number", range(1, 14))
def test_agrees_with_the_source_parse_except_hand_edited_rtts(number):
    import yaml
    name = "ntc-templates__{}".format(number)
    expected = yaml.safe_load(read_fixture("ios_ping", name + ".expected.yml"))["parsed_sample"][0]
    ours = parsed(name + ".txt")
    assert ours["target"] == expected["destination"]
    assert str(ours["count"]) == expected["sent_qty"]
    assert str(ours["timeout_s"]) == expected["timeout"]
    assert ours.get("source", "") == expected["source"]
    assert ours.get("results", "") == "".join(expected["response_stream"])
    if expected["success_qty"]:
        assert (str(ours["received"]), str(ours["success_percent"])) == (
            expected["success_qty"], expected["success_pct"])
    if name in HAND_EDITED:
        assert expected["rtt_avg"] and "rtt_avg_ms" not in ours  # we disagree: see above
    elif expected["rtt_avg"]:
        assert [str(ours["rtt_min_ms"]), str(ours["rtt_avg_ms"]), str(ours["rtt_max_ms"])] == [
            expected["rtt_min"], expected["rtt_avg"], expected["rtt_max"]]
    if expected["responders"]:
        assert [r["address"] for r in ours["replies"]] == expected["responders"]
