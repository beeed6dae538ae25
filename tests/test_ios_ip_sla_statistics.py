"""`show ip sla statistics` (+ details) on real router output: the facts a person reads in it."""

import pytest

from guestagent.ios import ip_sla_statistics, ip_sla_statistics_details
from tests.conftest import read_fixture


def ops(name, directory="show_ip_sla_statistics"):
    result = ip_sla_statistics.parse(read_fixture(directory, name))
    assert result["recognized"] is True
    return result["operations"]


def test_iosxe_layout_two_icmp_echo_operations_unsynced_clock():
    operations = ops("gns3-c7200-cn__1.txt")
    assert sorted(operations) == ["1", "2"]
    first, second = operations["1"], operations["2"]
    assert first["type"] == "icmp-echo"
    assert first["latest_rtt_ms"] is None
    assert first["rtt_reason"] == "NoConnection/Busy/Timeout"
    assert first["return_code"] == "Timeout" and first["ok"] is False
    assert (first["successes"], first["failures"]) == (0, 8)
    assert second["latest_rtt_ms"] == 28 and second["return_code"] == "OK"
    assert (second["successes"], second["failures"]) == (4, 0)
    # `*08:22:41.711 UTC Fri Nov 27 2020`: the star says the clock is not authoritative.
    assert second["start_time"] == "08:22:41.711 UTC Fri Nov 27 2020"
    assert second["clock_synced"] is False
    assert first["time_to_live"] == "Forever" and first["time_to_live_s"] is None


def test_synced_clock_has_no_flag():
    op = ops("iol-lab-ja__1.txt")["1"]
    assert op["latest_rtt_ms"] == 34
    assert op["clock_synced"] is True
    assert op["start_time"] == "05:22:01 UTC Sat Aug 22 2026"
    assert op["start_ts"] == 1787376121  # 2026-08-22T05:22:01Z
    assert "type" not in op  # this release prints no type line for icmp-echo


def test_ios12_round_trip_time_for_index_layout():
    op = ops("gns3-hsrp-mpls-lab__1.txt")["20"]
    assert op["latest_rtt_ms"] == 132 and op["return_code"] == "OK"
    assert (op["successes"], op["failures"]) == (287, 0)
    assert op["clock_synced"] is False
    timeout = ops("gns3-hsrp-mpls-lab__2.txt")["20"]
    assert timeout["rtt_reason"] == "NoConnection/Busy/Timeout"
    assert (timeout["successes"], timeout["failures"]) == (329, 13)
    udp_echo = ops("gh-issue-cmouse-ip-sla-responder-9__1.txt")["1"]
    assert udp_echo["failures"] == 13 and udp_echo["return_code"] == "Timeout"


def test_never_run_entry_has_unknown_counters_and_no_rtt():
    op = ops("iol-lab-ja__3.txt")["1"]
    assert op["successes"] is None and op["failures"] is None  # printed `Unknown`
    assert op["latest_rtt_ms"] is None and op["rtt_reason"] == "never run"
    assert "return_code" not in op and "start_time" not in op
    assert op["time_to_live_s"] == 0


def test_path_echo_has_no_counters_at_all():
    op = ops("iol-lab-ja__4.txt")["1"]
    assert "successes" not in op and "failures" not in op
    assert op["return_code"] == "Timeout"


def test_multi_word_return_codes_are_kept_whole():
    # genieparser's expected results cut these to their first word; a router prints them whole.
    assert ops("iol-lab-ja__5.txt")["1"]["return_code"] == "No connection"
    tcp = ops("iol-lab-ja__8.txt")["2"]
    assert tcp["return_code"] == "Socket connect error" and tcp["ok"] is False
    assert tcp["latest_rtt_ms"] == 0  # printed as 0 ms although the connect failed
    assert (tcp["successes"], tcp["failures"]) == (0, 5)


def test_udp_jitter_full_block_with_tab_separated_pairs():
    op = ops("iol-lab-ja__6.txt")["1"]
    assert op["type"] == "udp-jitter" and op["latest_rtt_ms"] == 4
    assert op["rtt_count"] == 10
    assert (op["rtt_min_ms"], op["rtt_avg_ms"], op["rtt_max_ms"]) == (1, 4, 16)
    assert op["latency_samples"] == 8
    assert (op["latency_sd_min_ms"], op["latency_sd_avg_ms"], op["latency_sd_max_ms"]) == (0, 4, 15)
    assert (op["latency_ds_min_ms"], op["latency_ds_avg_ms"], op["latency_ds_max_ms"]) == (0, 0, 3)
    assert (op["jitter_sd_samples"], op["jitter_ds_samples"]) == (9, 9)
    assert (op["jitter_sd_min_ms"], op["jitter_sd_avg_ms"], op["jitter_sd_max_ms"]) == (0, 4, 14)
    assert (op["jitter_ds_min_ms"], op["jitter_ds_avg_ms"], op["jitter_ds_max_ms"]) == (0, 2, 3)
    assert op["over_threshold"] == 0
    assert (op["loss_sd"], op["loss_ds"]) == (0, 0)
    # `Out Of Sequence: 0<TAB>Tail Drop: 0` and `Packet Late Arrival: 0<TAB>Packet Skipped: 0`
    assert (op["out_of_sequence"], op["tail_drop"], op["late_arrival"], op["skipped"]) == (
        0, 0, 0, 0)
    assert (op["icpif"], op["mos"]) == (0, 0)  # no codec configured
    assert (op["successes"], op["failures"]) == (1, 2)


def test_udp_jitter_heavy_loss_truncated_capture():
    op = ops("gh-issue-librenms-3550__1.txt")["5"]
    assert op["latest_rtt_ms"] == 1867 and op["ok"] is True
    assert (op["rtt_count"], op["rtt_min_ms"], op["rtt_max_ms"]) == (449, 4, 3927)
    assert op["latency_sd_avg_ms"] == 1816 and op["latency_ds_avg_ms"] == 51
    assert (op["jitter_sd_samples"], op["jitter_ds_samples"]) == (127, 448)
    assert op["jitter_sd_max_ms"] == 72
    assert op["loss_sd"] == 549 and op["loss_sd_periods"] == 144
    assert op["loss_ds"] == 0 and op["loss_ds_periods"] == 0
    # Truncated by its source before the voice scores and counters.
    assert "mos" not in op and "successes" not in op


def test_udp_jitter_to_a_non_cisco_responder_has_zero_one_way_samples():
    op = ops("gh-issue-cmouse-ip-sla-responder-12__1.txt")["100"]
    assert op["latest_rtt_ms"] == 309 and op["rtt_count"] == 50
    assert op["latency_samples"] == 0


def test_oldest_whitespace_normalised_format_with_ms_units():
    operations = ops("roadtoccie-se-blog__1.txt")
    assert sorted(operations, key=int) == ["20", "25", "30", "35"]
    assert operations["20"]["latest_rtt_ms"] == 8  # `Latest RTT: 8 ms`
    jitter = operations["25"]
    assert (jitter["rtt_count"], jitter["rtt_min_ms"], jitter["rtt_avg_ms"],
            jitter["rtt_max_ms"]) == (10, 2, 2, 4)
    assert (jitter["jitter_sd_max_ms"], jitter["jitter_ds_max_ms"]) == (2, 1)
    # Both losses on one line, then three counters on one line.
    assert (jitter["loss_sd"], jitter["loss_ds"]) == (0, 0)
    assert (jitter["out_of_sequence"], jitter["tail_drop"], jitter["late_arrival"]) == (0, 0, 0)
    assert (jitter["successes"], jitter["failures"]) == (11, 0)
    assert operations["35"]["jitter_ds_max_ms"] == 2


def test_finite_life_and_local_time_zone():
    op = ops("jp-ipsla-notes__1.txt")["1"]
    assert op["time_to_live"] == "3194 sec" and op["time_to_live_s"] == 3194
    assert op["start_time"] == "17:53:55 JST Fri Nov 15 2024"
    assert (op["successes"], op["failures"]) == (39, 2)


def test_blog_copy_without_blank_lines():
    op = ops("ciscozine-copy__1.txt")["1"]
    assert op["return_code"] == "Timeout" and (op["successes"], op["failures"]) == (8, 3)


def test_details_path_echo():
    result = ip_sla_statistics_details.parse(
        read_fixture("show_ip_sla_statistics_details", "iol-lab-ja__1.txt"))
    op = result["operations"]["1"]
    assert op["state"] == "Active" and op["last_reset"] == "Never"
    assert op["over_threshold_occurred"] is False
    assert op["return_code"] == "Timeout"
    assert ip_sla_statistics_details.COMMAND == "show ip sla statistics details"


# IOS XE details layout for udp-jitter with a codec: positive/negative jitter, MIA, MOS. No real
# capture of it exists in the collection: this block is synthetic, written in that layout.
DETAILS_SYNTHETIC = """IPSLAs Latest Operation Statistics

IPSLA operation id: 7
Type of operation: udp-jitter
\tLatest RTT: 21 milliseconds
Latest operation start time: .09:10:11 UTC Mon Nov 23 2026
Latest operation return code: OK
RTT Values:
\tNumber Of RTT: 1000\t\tRTT Min/Avg/Max: 18/21/40 milliseconds
Jitter Time:
\tNumber of SD Jitter Samples: 999
\tNumber of DS Jitter Samples: 999
\tSource to Destination Jitter Min/Avg/Max: 0/2/9 milliseconds
\tDestination to Source Jitter Min/Avg/Max: 0/1/7 milliseconds
\tSource to destination positive jitter Min/Avg/Max: 1/3/9 milliseconds
\tSource to destination negative jitter Min/Avg/Max: 1/2/8 milliseconds
\tDestination to Source positive jitter Min/Avg/Max: 1/1/7 milliseconds
\tDestination to Source negative jitter Min/Avg/Max: 1/1/6 milliseconds
\tJitter AVG: 2
Packet Loss Values:
\tLoss Source to Destination: 3\tLoss Destination to Source: 1
\tOut Of Sequence: 2\tTail Drop: 0\tPacket Late Arrival: 1\tPacket MIA: 4
Voice Score Values:
\tCalculated Planning Impairment Factor (ICPIF): 11
\tMean Opinion Score (MOS): 4.06
Number of successes: 12
Number of failures: 0
Operation time to live: Forever
Operational state of entry: Active
Last time this entry was reset: Never


IPSLA operation id: 8
Type of operation: http
\tLatest RTT: 160 milliseconds
Latest operation start time: 09:10:01 UTC Mon Nov 23 2026
Latest operation return code: OK
Latest DNS RTT: 10 ms
Latest TCP Connection RTT: 50 ms
Latest HTTP Transaction RTT: 100 ms
Latest HTTP Status code: 200
Number of successes: 5
Number of failures: 1
Operation time to live: Forever
"""


def test_details_positive_negative_jitter_mia_and_voice_scores_synthetic():
    operations = ip_sla_statistics.parse(DETAILS_SYNTHETIC)["operations"]
    op = operations["7"]
    assert op["clock_synced"] is False  # `.`: was authoritative, NTP not synchronized now
    assert (op["jitter_sd_pos_min_ms"], op["jitter_sd_pos_avg_ms"], op["jitter_sd_pos_max_ms"]) \
        == (1, 3, 9)
    assert op["jitter_sd_neg_max_ms"] == 8
    assert op["jitter_ds_pos_max_ms"] == 7 and op["jitter_ds_neg_max_ms"] == 6
    assert op["jitter_sd_max_ms"] == 9  # the plain line is not confused with the signed ones
    assert op["jitter_avg_ms"] == 2
    assert (op["loss_sd"], op["loss_ds"]) == (3, 1)
    assert (op["out_of_sequence"], op["late_arrival"], op["mia"]) == (2, 1, 4)
    assert op["mos"] == pytest.approx(4.06) and op["icpif"] == 11
    http = operations["8"]
    assert (http["dns_rtt_ms"], http["tcp_connect_rtt_ms"], http["transaction_rtt_ms"]) == (
        10, 50, 100)
    assert http["http_status"] == 200 and http["latest_rtt_ms"] == 160


def test_one_to_three_blank_lines_and_leading_text_do_not_matter():
    text = "router#show ip sla statistics\n" + DETAILS_SYNTHETIC.replace("\n\n\n", "\n")
    assert sorted(ip_sla_statistics.parse(text)["operations"]) == ["7", "8"]


def test_banner_alone_is_recognized_with_no_operations():
    result = ip_sla_statistics.parse("IPSLAs Latest Operation Statistics\n\n")
    assert result == {"recognized": True, "operations": {}}


def test_microsecond_precision_is_converted_to_ms_synthetic():
    text = ("IPSLA operation id: 3\nType of operation: udp-jitter\n"
            "\tLatest RTT: 130 microseconds\n"
            "\tNumber Of RTT: 10\t\tRTT Min/Avg/Max: 125/130/146 microseconds\n"
            "\tSource to Destination Jitter Min/Avg/Max: 1/4/9 microseconds\n")
    op = ip_sla_statistics.parse(text)["operations"]["3"]
    assert op["latest_rtt_ms"] == pytest.approx(0.13)
    assert (op["rtt_min_ms"], op["rtt_max_ms"], op["rtt_count"]) == (0.125, 0.146, 10)
    assert op["jitter_sd_max_ms"] == pytest.approx(0.009)


def _eager_fields(text):
    """What each line's fields read as when every label pattern is tried on it, compiled up
    front: the parser's prefilter on the label must never change that."""
    import re
    from guestagent.ios import common
    compiled = [(re.compile(f.pattern, re.IGNORECASE), f.store) for f in
                ip_sla_statistics._FIELDS]
    found = []
    for line in common.lines(text):
        line = line.strip()
        op = {}
        for pattern, store in compiled:
            match = pattern.search(line)
            if match:
                store(op, match.group(1), line)
        lazy = {}
        lowered = ip_sla_statistics._ascii_lowered(line)
        for field in ip_sla_statistics._FIELDS:
            match = field.search(line, lowered)
            if match:
                field.store(lazy, match.group(1), line)
        found.append((op, lazy))
    return found


def test_fields_read_alike_with_and_without_the_label_prefilter():
    import glob
    import os
    from tests.conftest import ROOT
    paths = sorted(glob.glob(os.path.join(ROOT, "fixtures", "show_ip_sla_statistics*",
                                          "*.txt")))
    assert paths
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # The fixture as IOS prints it, in other cases, and with a non-ASCII letter that
        # IGNORECASE takes for an ASCII one (U+017F long s matches `s`).
        for variant in (text, text.upper(), text.lower(), text.replace("s", "\u017f")):
            for eager, lazy in _eager_fields(variant):
                assert eager == lazy, path
    assert ip_sla_statistics._FIELDS[0].label == "type of operation:"
    assert ip_sla_statistics._literal(r"\(ICPIF\):\s*(\d+)") == "(ICPIF):"
    assert ip_sla_statistics._literal(r"IPSLAs? Latest") == "IPSLA"
    assert ip_sla_statistics._literal(r"\s*x") == ""
