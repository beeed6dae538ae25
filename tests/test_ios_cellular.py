"""`show cellular <slot> radio|network|hardware`: numbers as numbers, odd spacing, wrapped labels."""

from guestagent.device import EMBEDDED_FIXTURES
from guestagent.device.simulated import SimulatedDevice
from guestagent.ios import cellular_hardware, cellular_network, cellular_radio
from tests.conftest import read_fixture


def test_radio_real_capture():
    result = cellular_radio.parse(read_fixture("show_cellular_radio",
                                               "python-snippet-capture__1.txt"))
    assert result["recognized"] is True
    assert result["power_mode"] == "online"
    assert (result["rx_channel"], result["tx_channel"], result["band"]) == (2050, 20050, 4)
    assert result["bandwidth_mhz"] == 20
    assert (result["rssi_dbm"], result["rsrp_dbm"], result["rsrq_db"]) == (-80, -110, -10)
    assert result["snr_db"] == 4.4  # `4.4  dB`: two spaces before the unit
    assert result["physical_cell_id"] == 85  # printed in hex: 0x55
    assert result["nearby_cells"] == 4 and result["neighbour_pcis"] == [85, 285, 87, 86]
    assert (result["technology"], result["rat_preference"]) == ("LTE", "AUTO")


def test_radio_pcc_suffix_synthetic():
    text = SimulatedDevice(EMBEDDED_FIXTURES).execute("show cellular 0/1/0 radio")
    result = cellular_radio.parse(text)
    assert (result["rx_channel"], result["band"], result["rsrp_dbm"]) == (1300, 3, -97)
    assert result["physical_cell_id"] == 0x11A


def test_hardware_real_capture_with_wrapped_msisdn_label_and_no_sim():
    result = cellular_hardware.parse(read_fixture("show_cellular_hardware",
                                                  "wuseman-nr1-wiki__1.txt"))
    assert result["recognized"] is True
    assert result["firmware"] == "SWI9X30C_02.30.01.01"
    assert result["model"] == "EM7455"  # `=  EM7455`: two spaces
    assert result["modem_status"] == "Modem Online" and result["temperature_c"] == 33
    assert (result["pri_sku"], result["pri_version"], result["carrier"]) == (
        "1102526", "002.045_001", "GENERIC")
    assert result["oem_pri_version"] == "000.012"
    # No SIM: IMSI, ICCID, MSISDN are empty, so absent.
    assert "imsi" not in result and "iccid" not in result and "msisdn" not in result
    assert result["imei"] == "XXX12XXXX5XX9XX"


def test_network_synthetic():
    text = SimulatedDevice(EMBEDDED_FIXTURES).execute("show cellular 0/1/0 network")
    result = cellular_network.parse(text)
    assert result["recognized"] is True
    assert (result["operator"], result["mcc"], result["mnc"]) == ("Example Mobile", "001", "01")
    assert (result["registration"], result["roaming"], result["cell_id"]) == (
        "Registered", "Home", 27447810)
    assert (result["tac"], result["mtu"], result["ps_state"]) == (4711, 1430, "Attached")


def test_radio_text_is_not_a_network():
    text = read_fixture("show_cellular_radio", "python-snippet-capture__1.txt")
    assert cellular_network.parse(text)["recognized"] is False
    assert cellular_hardware.parse(text)["recognized"] is False
