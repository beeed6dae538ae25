"""`show cellular <slot> hardware`: the modem, its firmware and SIM identity.

Keys: `firmware` (Modem Firmware Version), `firmware_built`, `hardware_version`, `model` (Device
Model ID), `imsi`, `imei`, `iccid`, `msisdn` (IOS wraps its label over two lines), `fsn`,
`modem_status`, `temperature_c`, `pri_sku`, `pri_version`, `carrier`, `oem_pri_version`. Empty
values (no SIM) are absent.
"""

from guestagent.ios import cellular_kv

COMMAND = "show cellular {slot} hardware"

SCHEMA = {
    "recognized": bool, "firmware": str, "firmware_built": str, "hardware_version": str,
    "model": str, "imsi": str, "imei": str, "iccid": str, "msisdn": str, "fsn": str,
    "modem_status": str, "temperature_c": (int, float), "pri_sku": str, "pri_version": str,
    "carrier": str, "oem_pri_version": str,
}

_TABLE = {
    "modem firmware version": ("firmware", "text"),
    "modem firmware built": ("firmware_built", "text"),
    "hardware version": ("hardware_version", "text"),
    "device model id": ("model", "text"),
    "international mobile subscriber identity (imsi)": ("imsi", "text"),
    "international mobile equipment identity (imei)": ("imei", "text"),
    "integrated circuit card id (iccid)": ("iccid", "text"),
    "mobile subscriber integrated services digital network-number (msisdn)": ("msisdn", "text"),
    "factory serial number (fsn)": ("fsn", "text"),
    "modem status": ("modem_status", "text"),
    "modem temperature": ("temperature_c", "number"),
    "pri sku id": ("pri_sku", "text"),
    "pri version": ("pri_version", "text"),
    "carrier": ("carrier", "text"),
    "oem pri version": ("oem_pri_version", "text"),
}


def parse(text):
    result = cellular_kv.read(text, _TABLE)
    result["recognized"] = any(k in result for k in ("firmware", "model", "modem_status", "imei"))
    return result
