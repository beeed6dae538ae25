"""The cellular modems: radio quality, network registration and modem state, per slot.

The report's `cellular` section is a list, one entry per configured slot that answered:
`{"slot", "technology", "band", "bandwidth_mhz", "rssi_dbm", "rsrp_dbm", "rsrq_db", "snr_db",
"sinr_db", "physical_cell_id", "cell_id", "tac", "operator", "mcc", "mnc", "registration",
"service_status", "roaming", "modem_status", "power_mode", "firmware", "model",
"temperature_c", "errors"}`, read from `show cellular <slot> radio|network|hardware`. A slot
without a modem (IOS rejects the commands) is left out; other failures are listed in the entry's
`errors`.
"""

from guestagent.collectors import common
from guestagent.device import DeviceError

_RADIO = ("technology", "band", "bandwidth_mhz", "rssi_dbm", "rsrp_dbm", "rsrq_db", "snr_db",
          "sinr_db", "ecio_db", "rscp_dbm", "physical_cell_id", "power_mode")
_NETWORK = ("operator", "mcc", "mnc", "cell_id", "tac", "lac", "registration", "service_status",
            "service", "roaming", "ps_state")
_HARDWARE = ("modem_status", "firmware", "model", "temperature_c", "carrier")
_PARTS = (("radio", "show-cellular-radio", _RADIO), ("network", "show-cellular-network", _NETWORK),
          ("hardware", "show-cellular-hardware", _HARDWARE))


def collect(device, config, deadline):
    from guestagent import ios
    settings = common.settings(config).cellular
    if not settings.enabled or device is None:
        return []
    out = []
    for slot in settings.slots or []:
        entry = {"slot": slot}
        answered = False
        errors = []
        for part, kind, fields in _PARTS:
            command = "show cellular {} {}".format(slot, part)
            try:
                parsed = ios.parser(kind)(common.run(device, command, config, deadline))
            except DeviceError as exc:
                if not common.feature_absent(exc):
                    errors.append(str(exc))
                continue
            answered = True
            for field in fields:
                if parsed.get(field) is not None:
                    entry[field] = parsed[field]
        if errors:
            entry["errors"] = errors
        if answered or errors:
            out.append(entry)
    return out


def metrics(data, out):
    for entry in data or []:
        labels = {"slot": entry.get("slot") or ""}
        for field, name, help in (
                ("rssi_dbm", "guestagent_cellular_rssi_dbm", "Received signal strength (dBm)."),
                ("rsrp_dbm", "guestagent_cellular_rsrp_dbm",
                 "LTE reference signal received power (dBm)."),
                ("rsrq_db", "guestagent_cellular_rsrq_db",
                 "LTE reference signal received quality (dB)."),
                ("snr_db", "guestagent_cellular_snr_db", "Signal to noise ratio (dB)."),
                ("sinr_db", "guestagent_cellular_sinr_db",
                 "Signal to interference plus noise ratio (dB)."),
                ("temperature_c", "guestagent_cellular_modem_temperature_celsius",
                 "Modem temperature.")):
            if isinstance(entry.get(field), (int, float)):
                out.gauge(name, help, entry[field], labels)
        if entry.get("modem_status") is not None:
            out.gauge("guestagent_cellular_modem_online", "1 when the modem says it is online.",
                      1 if "online" in entry["modem_status"].lower() else 0, labels)
        if entry.get("registration") is not None:
            out.gauge("guestagent_cellular_registered",
                      "1 when the modem is registered on a network.",
                      1 if entry["registration"].lower().startswith("registered") else 0, labels)
        if any(entry.get(k) is not None for k in ("technology", "operator", "firmware")):
            info = dict(labels)
            for key in ("technology", "band", "operator", "mcc", "mnc", "cell_id", "roaming",
                        "firmware", "model"):
                info[key] = "" if entry.get(key) is None else entry[key]
            out.info("guestagent_cellular_info",
                     "The modem, its radio technology and the network it is on.", info)
