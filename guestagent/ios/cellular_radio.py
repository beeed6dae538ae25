"""`show cellular <slot> radio`: radio technology and signal quality.

Keys: `power_mode`, `technology` (RAT selected: LTE, UMTS, 5G...), `rat_preference`, `band`
(LTE band number), `bandwidth_mhz`, `rx_channel`, `tx_channel`, `rssi_dbm`, `rsrp_dbm`,
`rsrq_db`, `snr_db`, `sinr_db`, `ecio_db`, `rscp_dbm`, `physical_cell_id` (IOS prints it in hex
on older releases, `0x55` = 85), `nearby_cells` (count), `neighbour_pcis` (list, from the table).
Newer IOS XE suffixes the primary carrier's fields with `(PCC)`; they read the same.
"""

from guestagent import rx
from guestagent.ios import cellular_kv, common

COMMAND = "show cellular {slot} radio"

SCHEMA = {
    "recognized": bool, "power_mode": str, "technology": str, "rat_preference": str,
    "band": (int, str), "bandwidth_mhz": (int, float), "rx_channel": int, "tx_channel": int,
    "rssi_dbm": (int, float), "rsrp_dbm": (int, float), "rsrq_db": (int, float),
    "snr_db": (int, float), "sinr_db": (int, float), "ecio_db": (int, float),
    "rscp_dbm": (int, float), "physical_cell_id": int,
    "physical_cell_id_text": str, "nearby_cells": int,
    "neighbour_pcis": [int],
}

_TABLE = {
    "radio power mode": ("power_mode", "text"),
    "radio access technology(rat) selected": ("technology", "text"),
    "radio access technology (rat) selected": ("technology", "text"),
    "radio access technology(rat) preference": ("rat_preference", "text"),
    "radio access technology (rat) preference": ("rat_preference", "text"),
    "lte band": ("band", "text"),
    "band": ("band", "text"),
    "lte bandwidth": ("bandwidth_mhz", "number"),
    "lte rx channel number": ("rx_channel", "int"),
    "lte tx channel number": ("tx_channel", "int"),
    "rssi": ("rssi_dbm", "number"),
    "rsrp": ("rsrp_dbm", "number"),
    "rsrq": ("rsrq_db", "number"),
    "snr": ("snr_db", "number"),
    "sinr": ("sinr_db", "number"),
    "ecio": ("ecio_db", "number"),
    "rscp": ("rscp_dbm", "number"),
    "physical cell id": ("physical_cell_id", "hexint"),
    "number of nearby cells": ("nearby_cells", "int"),
}


def parse(text):
    result = cellular_kv.read(text, _TABLE)
    if isinstance(result.get("band"), str):
        band = common.as_int(common.leading_number(result["band"]))
        if band is not None:
            result["band"] = band
    neighbours = []
    in_table = False
    for raw in common.lines(text):
        line = common.squash(raw)
        if rx.match(r"^Idx\s+PCI", line, common.IGNORECASE):
            in_table = True
            continue
        if in_table:
            row = rx.match(r"^(\d+) (\d+)\b", line)
            if row and common.integer(row.group(2)) is not None:
                neighbours.append(common.integer(row.group(2)))
            elif line and not set(line) <= set("-"):
                in_table = False
    if neighbours:
        result["neighbour_pcis"] = neighbours
    result["recognized"] = any(k in result for k in (
        "rssi_dbm", "rsrp_dbm", "technology", "power_mode", "band", "snr_db"))
    return result
