"""`show ip sla configuration`: the settings of every IP SLA entry.

The real layout (`IP SLAs Infrastructure Engine-III` / `-II.`, `Entry number: N`,
`Target address/Source address: a/b` on one line, sub-blocks indented) and the layout of
genieparser's samples (`Entry Number:`, separate `Target address:`/`Source address:` lines) both
read. Each entry (`entries["<id>"]`): `id`, `type`, `target`, `source`, `target_port`,
`source_port`, `frequency_s`, `timeout_ms`, `threshold_ms`, `request_size`, `tos`, `vrf`,
`owner`, `tag`, `status` (SNMP RowStatus), `life` (text) and `life_s` (None for Forever),
`next_start`, `packet_interval_ms`, `packets`, `codec`, `codec_packets`, `codec_size`,
`codec_interval_ms`, `advantage_factor`, `url`, `http_operation`, `name_server`, `verify_data`.
Empty values (`Owner: `) are absent; `-` counts as empty.
"""

from guestagent import rx
from guestagent.ios import common

COMMAND = "show ip sla configuration"

SCHEMA = {
    "recognized": bool,
    "engine": str,
    "entries": {
        "<id>": {"id": str, "type": str, "target": str, "source": str, "target_port": int,
                 "source_port": int, "frequency_s": int, "timeout_ms": int, "threshold_ms": int,
                 "request_size": int, "tos": str, "vrf": str, "owner": str, "tag": str,
                 "status": str, "life": str, "life_s": (int, None), "next_start": str,
                 "packet_interval_ms": int, "packets": int, "codec": str, "codec_packets": int,
                 "codec_size": int, "codec_interval_ms": int, "advantage_factor": int,
                 "url": str, "http_operation": str, "name_server": str, "verify_data": bool},
    },
}

_ENTRY = rx.compile(r"^Entry number:\s*(\d+)", common.IGNORECASE)
_ENGINE = rx.compile(r"^IP SLAs,?\s+(Infrastructure Engine-[IVX]+)", common.IGNORECASE)

# Normalised label -> (result key, converter).
_TEXT = common.squash


def _int(value):
    return common.leading_number(value)


def _yes_no(value):
    text = value.strip().lower()
    if text in ("yes", "true", "enabled"):
        return True
    if text in ("no", "false", "disabled"):
        return False
    return None


_LABELS = {
    "type of operation to perform": ("type", _TEXT),
    "type of operation": ("type", _TEXT),
    "target address": ("target", _TEXT),
    "source address": ("source", _TEXT),
    "target host name": ("target", _TEXT),
    "destination address": ("target", _TEXT),
    "target port": ("target_port", _int),
    "source port": ("source_port", _int),
    "operation frequency (seconds)": ("frequency_s", _int),
    "frequency (seconds)": ("frequency_s", _int),
    "operation timeout (milliseconds)": ("timeout_ms", _int),
    "timeout (milliseconds)": ("timeout_ms", _int),
    "threshold (milliseconds)": ("threshold_ms", _int),
    "request size (arr data portion)": ("request_size", _int),
    "request size (arr data bytes)": ("request_size", _int),
    "type of service parameter": ("tos", _TEXT),
    "vrf name": ("vrf", _TEXT),
    "owner": ("owner", _TEXT),
    "tag": ("tag", _TEXT),
    "status of entry (snmp rowstatus)": ("status", _TEXT),
    "life (seconds)": ("life", _TEXT),
    "next scheduled start time": ("next_start", _TEXT),
    "codec type": ("codec", _TEXT),
    "codec number of packets": ("codec_packets", _int),
    "codec packet size": ("codec_size", _int),
    "codec interval (milliseconds)": ("codec_interval_ms", _int),
    "advantage factor": ("advantage_factor", _int),
    "url": ("url", _TEXT),
    "http operation": ("http_operation", _TEXT),
    "name server": ("name_server", _TEXT),
    "verify data": ("verify_data", _yes_no),
}


def _store(entry, label, value):
    label = common.norm_key(label)
    value = common.squash(value)
    # `Target address/Source address: a/b`, `Target port/Source port: 2525/0`,
    # `Packet Interval (milliseconds)/Number of packets: 20/10`.
    if "/" in label and label.count("/") == value.count("/") and "min/avg" not in label:
        for sub_label, sub_value in zip(label.split("/"), value.split("/")):
            if sub_label == "packet interval (milliseconds)":
                _set(entry, "packet_interval_ms", _int(sub_value))
            elif sub_label == "number of packets":
                _set(entry, "packets", _int(sub_value))
            else:
                _store(entry, sub_label, sub_value)
        return
    known = _LABELS.get(label)
    if known:
        key, convert = known
        if value in ("", "-"):
            return
        _set(entry, key, convert(value))


def _set(entry, key, value):
    if value is not None and value != "":
        entry[key] = value


def parse(text):
    result = {"recognized": False, "entries": {}}
    current = None
    for raw in common.lines(text):
        line = common.squash(raw)
        if not line:
            continue
        engine = _ENGINE.match(line)
        if engine:
            result["recognized"] = True
            result["engine"] = engine.group(1)
            continue
        if line.lower().startswith("ip slas configuration"):
            result["recognized"] = True
            continue
        match = _ENTRY.match(line)
        if match:
            current = result["entries"].setdefault(match.group(1), {"id": match.group(1)})
            result["recognized"] = True
            continue
        if current is None:
            continue
        # `Operation frequency (seconds): 10  (not considered if randomly scheduled)`
        label, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):
                continue
            label, sep, value = line.partition(":")
            if not sep:
                continue
        if label.lower().startswith("url") and value.startswith("//"):
            continue
        if value.endswith("(not considered if randomly scheduled)"):
            value = value[:-len("(not considered if randomly scheduled)")].rstrip()
        _store(current, label, value)
    for entry in result["entries"].values():
        if "life" in entry:
            entry["life_s"] = (None if entry["life"].lower() == "forever"
                               else common.leading_number(entry["life"]))
    return result
