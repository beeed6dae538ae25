"""`show ip sla summary` on the two genieparser samples (both anonymised/edited, see INDEX.md)."""

import json

from guestagent.ios import ip_sla_summary
from tests.conftest import read_fixture


def rows(name):
    result = ip_sla_summary.parse(read_fixture("show_ip_sla_summary", name))
    assert result["recognized"] is True
    return result["operations"]


def test_iosxe_layout_with_state_codes_and_ago_times():
    operations = rows("genieparser__1.txt")
    assert sorted(operations, key=int) == [str(i) for i in range(1, 8)]
    tcp = operations["1"]
    assert (tcp["type"], tcp["destination"], tcp["state"], tcp["rtt_ms"], tcp["return_code"]) == (
        "tcp-connect", "10.151.213.32", "active", 44, "OK")
    assert tcp["last_run"] == "21 seconds ago" and tcp["last_run_ago_s"] == 21
    dns = operations["2"]  # the mis-aligned row: Stats `-`
    assert dns["rtt_ms"] is None and dns["return_code"] == "Timeout"
    assert dns["destination"] == "10.84.2.123"
    assert operations["7"]["type"] == "icmp-echo" and operations["7"]["last_run_ago_s"] == 2
    # Row 6's address (11.311.31.2) is impossible: anonymised by the source; kept as printed.
    assert operations["6"]["destination"] == "11.311.31.2"


def test_command_reference_layout_with_state_column_and_tabs():
    operations = rows("genieparser__2.txt")
    assert sorted(operations) == ["100", "101", "102", "103", "104"]
    assert operations["100"]["type"] == "icmp-jitter" and operations["100"]["rtt_ms"] == 100
    assert operations["102"]["return_code"] == "NoConnection"
    assert operations["102"]["rtt_ms"] is None
    assert operations["103"]["destination"] == "2001:db8:130f:d1c8::222"
    assert operations["104"]["state"] == "active"
    assert operations["104"]["last_run"] == "22:49:53 PST Tue May 3 2011"


def test_agrees_with_the_source_parse_on_every_row():
    for name in ("genieparser__1", "genieparser__2"):
        expected = json.loads(read_fixture("show_ip_sla_summary", name + ".expected.json"))["ids"]
        ours = rows(name + ".txt")
        for op_id, row in expected.items():
            mine = ours[op_id]
            assert (mine["type"], mine["destination"], mine["state"], mine["return_code"],
                    mine["last_run"]) == (row["type"], row["destination"], row["state"],
                                          row["return_code"], row["last_run"])
            assert mine["rtt_ms"] == row.get("rtt_stats_msecs")


def test_microsecond_stats():
    text = ("ID  Type  Destination  Stats  ReturnCode  LastRun\n"
            "*9  udp-jitter  192.0.2.9  RTT=u532  OK  3 seconds ago\n")  # synthetic row
    assert ip_sla_summary.parse(text)["operations"]["9"]["rtt_ms"] == 0.532
