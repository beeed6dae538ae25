"""`show interfaces` of the simulated IR1101 (synthetic, in the IOS XE layout)."""

from guestagent.device import EMBEDDED_FIXTURES
from guestagent.device.simulated import SimulatedDevice
from guestagent.ios import interfaces


def parsed():
    return interfaces.parse(SimulatedDevice(EMBEDDED_FIXTURES).execute("show interfaces"))


def test_every_interface_and_its_state():
    result = parsed()
    assert result["recognized"] is True
    assert sorted(result["interfaces"]) == ["Cellular0/1/0", "FastEthernet0/0/1",
                                            "GigabitEthernet0/0/0", "VirtualPortGroup0"]
    down = result["interfaces"]["FastEthernet0/0/1"]
    assert (down["status"], down["protocol"], down["up"]) == ("administratively down", "down",
                                                              False)
    assert result["interfaces"]["Cellular0/1/0"]["up"] is True


def test_wan_counters_and_bandwidth():
    wan = parsed()["interfaces"]["GigabitEthernet0/0/0"]
    assert wan["description"] == "WAN fibre"
    assert wan["ip_address"] == "198.51.100.2/30" and wan["mac"] == "00a3.d1b2.c300"
    assert (wan["mtu"], wan["bandwidth_kbps"], wan["delay_us"]) == (1500, 100000, 100)
    assert (wan["in_packets"], wan["in_bytes"]) == (918273645, 771283746512)
    assert (wan["out_packets"], wan["out_bytes"]) == (612384512, 98123456789)
    assert (wan["in_errors"], wan["crc"], wan["out_errors"]) == (3, 2, 0)
    assert (wan["in_drops"], wan["out_drops"]) == (12, 4)
    assert (wan["in_rate_bps"], wan["out_rate_pps"]) == (3561000, 251)
    assert wan["interface_resets"] == 1 and wan["txload"] == "3/255"


def test_spoofing_and_connected_suffixes_synthetic():
    text = ("Dialer1 is up (spoofing), line protocol is up (spoofing)\n"
            "  MTU 1500 bytes, BW 56 Kbit/sec, DLY 20000 usec,\n"
            "Vlan1 is up, line protocol is down (notconnect)\n")
    result = interfaces.parse(text)["interfaces"]
    assert result["Dialer1"]["up"] is True and result["Dialer1"]["bandwidth_kbps"] == 56
    assert result["Vlan1"]["protocol"] == "down"
