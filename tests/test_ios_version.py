"""`show version` of the simulated IR1101 (synthetic: no real IR1101 capture was available) and
of a classic IOS router (synthetic lines in the 12.4 layout)."""

from guestagent.device import EMBEDDED_FIXTURES
from guestagent.device.simulated import SimulatedDevice
from guestagent.ios import version


def test_ir1101_identity():
    result = version.parse(SimulatedDevice(EMBEDDED_FIXTURES).execute("show version"))
    assert result["recognized"] is True
    assert result["hostname"] == "ir1101-site7"
    assert result["platform"] == "IR1101-K9"
    assert result["serial"] == "FCW2406XXXX"
    assert result["version"] == "17.09.04a" and result["ios_version"] == "17.9.4a"
    assert result["uptime"] == "3 weeks, 2 days, 4 hours, 17 minutes"
    assert result["uptime_s"] == ((3 * 7 + 2) * 24 + 4) * 3600 + 17 * 60
    assert result["image"] == "bootflash:ir1101-universalk9.17.09.04a.SPA.bin"
    assert result["config_register"] == "0x2102"
    assert result["last_reload_reason"] == "Reload Command"


def test_classic_ios_has_no_xe_line():
    text = ("Cisco IOS Software, 7200 Software (C7200-ADVIPSERVICESK9-M), Version 12.4(24)T5, "
            "RELEASE SOFTWARE (fc3)\n"
            "R1 uptime is 1 hour, 2 minutes\n"
            "cisco 7206VXR (NPE400) processor (revision A) with 245760K/16384K bytes of memory.\n"
            "Processor board ID 4279256517\n")
    result = version.parse(text)
    assert (result["hostname"], result["version"], result["platform"], result["serial"]) == (
        "R1", "12.4(24)T5", "7206VXR", "4279256517")
    assert result["uptime_s"] == 3720
