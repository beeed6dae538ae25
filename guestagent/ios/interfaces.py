"""`show interfaces`: every interface's state and counters.

Each interface (`interfaces["<name>"]`): `name`, `status` (`up`, `down`, `administratively down`),
`protocol` (`up`/`down`), `up` (both up), `description`, `hardware`, `mac`, `ip_address`
(`a.b.c.d/len`), `mtu`, `bandwidth_kbps`, `delay_us`, `reliability`, `txload`, `rxload`,
`in_rate_bps`, `in_rate_pps`, `out_rate_bps`, `out_rate_pps`, `in_packets`, `in_bytes`,
`out_packets`, `out_bytes`, `in_errors`, `crc`, `out_errors`, `collisions`,
`interface_resets`, `in_drops` (input queue drops), `out_drops` (Total output drops),
`in_broadcasts`, `last_clearing`.
"""

from guestagent import rx
from guestagent.ios import common

COMMAND = "show interfaces"

SCHEMA = {
    "recognized": bool,
    "interfaces": {
        "<name>": {"name": str, "status": str, "protocol": str, "up": bool, "description": str,
                   "hardware": str, "mac": str, "ip_address": str, "mtu": int,
                   "bandwidth_kbps": int, "delay_us": int, "reliability": str, "txload": str,
                   "rxload": str, "in_rate_bps": int, "in_rate_pps": int, "out_rate_bps": int,
                   "out_rate_pps": int, "in_packets": int, "in_bytes": int, "out_packets": int,
                   "out_bytes": int, "in_errors": int, "crc": int, "out_errors": int,
                   "collisions": int, "interface_resets": int, "in_drops": int,
                   "out_drops": int, "in_broadcasts": int, "last_clearing": str},
    },
}

_HEAD = rx.compile(r"^(\S+) is (administratively down|up|down|deleted|reset|testing)"
                   r"(?: \([^)]*\))?,\s*line protocol is (\w+)", common.IGNORECASE)

# (label, pattern searched in a line, [(group, key)]). `(?<!\d)`: a search tries a number from
# its first digit only; from every digit of a long run, `(\d+) CRC` would be quadratic. The
# label is a word every match holds: on an ASCII line its absence (in any case) rules the
# pattern out, so a line is searched by the one or two patterns it can match, not by all 15.
_FIELDS = [(label, rx.compile(p.replace("(\\d+)", "(?<!\\d)(\\d+)", 1), common.IGNORECASE), keys)
           for label, p, keys in [
    ("mtu", r"MTU (\d+) bytes", [(1, "mtu")]),
    ("bw", r"\bBW (\d+) Kbit", [(1, "bandwidth_kbps")]),
    ("dly", r"\bDLY (\d+) usec", [(1, "delay_us")]),
    ("packets input", r"(\d+) packets input, (\d+) bytes", [(1, "in_packets"), (2, "in_bytes")]),
    ("packets output", r"(\d+) packets output, (\d+) bytes", [(1, "out_packets"),
                                                               (2, "out_bytes")]),
    ("input errors", r"(\d+) input errors", [(1, "in_errors")]),
    ("crc", r"(\d+) CRC", [(1, "crc")]),
    ("output errors", r"(\d+) output errors", [(1, "out_errors")]),
    ("collisions", r"(\d+) collisions", [(1, "collisions")]),
    ("interface resets", r"(\d+) interface resets", [(1, "interface_resets")]),
    ("input queue", r"Input queue: \d+/\d+/(\d+)/\d+", [(1, "in_drops")]),
    ("total output drops", r"Total output drops: (\d+)", [(1, "out_drops")]),
    ("broadcasts", r"Received (\d+) broadcasts", [(1, "in_broadcasts")]),
    ("input rate", r"input rate (\d+) bits/sec, (\d+) packets/sec", [(1, "in_rate_bps"),
                                                                    (2, "in_rate_pps")]),
    ("output rate", r"output rate (\d+) bits/sec, (\d+) packets/sec", [(1, "out_rate_bps"),
                                                                      (2, "out_rate_pps")]),
]]
_HARDWARE = rx.compile(r"^Hardware is ([^,]+)(?:, address is ([0-9a-f.]+))?", common.IGNORECASE)
_ADDRESS = rx.compile(r"^Internet address is (\S+)", common.IGNORECASE)
_LOAD = rx.compile(r"reliability (\d+/\d+), txload (\d+/\d+), rxload (\d+/\d+)")
_CLEARING = rx.compile(r"^Last clearing of \"show interface\" counters (.+)$")


def _ascii_lowered(line):
    """The line in lower case when it is ASCII, else None (IGNORECASE also matches some
    non-ASCII letters to ASCII ones: such a line goes to every pattern)."""
    try:
        line.encode("ascii")
    except UnicodeEncodeError:
        return None
    return line.lower()


def parse(text):
    result = {"recognized": False, "interfaces": {}}
    current = None
    for raw in common.lines(text):
        line = common.squash(raw)
        if not line:
            continue
        head = _HEAD.match(line)
        if head and not raw[:1].isspace():
            name = head.group(1)
            status = head.group(2).lower()
            protocol = head.group(3).lower()
            current = result["interfaces"].setdefault(name, {"name": name})
            current.update({"status": status, "protocol": protocol,
                            "up": status == "up" and protocol == "up"})
            result["recognized"] = True
            continue
        if current is None:
            continue
        if line.startswith("Description:"):
            current["description"] = line.split(":", 1)[1].strip()
            continue
        hardware = _HARDWARE.match(line)
        if hardware:
            current["hardware"] = hardware.group(1).strip()
            if hardware.group(2):
                current["mac"] = hardware.group(2)
            continue
        address = _ADDRESS.match(line)
        if address:
            current["ip_address"] = address.group(1)
            continue
        load = _LOAD.search(line)
        if load:
            current["reliability"], current["txload"], current["rxload"] = load.groups()
        clearing = _CLEARING.match(line)
        if clearing:
            current["last_clearing"] = clearing.group(1)
            continue
        lowered = _ascii_lowered(line)
        for label, pattern, keys in _FIELDS:
            if lowered is not None and label not in lowered:
                continue
            match = pattern.search(line)
            if match:
                for group, key in keys:
                    value = common.integer(match.group(group))
                    if value is not None:
                        current[key] = value
    return result
