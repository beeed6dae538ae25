"""`show interfaces`: every interface's state and counters.

Each interface (`interfaces["<name>"]`): `name`, `status` (`up`, `down`, `administratively down`),
`protocol` (`up`/`down`), `up` (both up), `description`, `hardware`, `mac`, `ip_address`
(`a.b.c.d/len`), `mtu`, `bandwidth_kbps`, `delay_us`, `reliability`, `txload`, `rxload`,
`in_rate_bps`, `in_rate_pps`, `out_rate_bps`, `out_rate_pps`, `in_packets`, `in_bytes`,
`out_packets`, `out_bytes`, `in_errors`, `crc`, `out_errors`, `collisions`,
`interface_resets`, `in_drops` (input queue drops), `out_drops` (Total output drops),
`in_broadcasts`, `last_clearing`.
"""

import re

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

_HEAD = re.compile(r"^(\S+) is (administratively down|up|down|deleted|reset|testing)"
                   r"(?: \([^)]*\))?,\s*line protocol is (\w+)", common.IGNORECASE)

# (pattern searched in a line, [(group, key)]). `(?<!\d)`: a search tries a number from its first
# digit only; from every digit of a long run, `(\d+) CRC` would be quadratic.
_FIELDS = [(re.compile(p.replace("(\\d+)", "(?<!\\d)(\\d+)", 1), common.IGNORECASE), keys)
           for p, keys in [
    (r"MTU (\d+) bytes", [(1, "mtu")]),
    (r"\bBW (\d+) Kbit", [(1, "bandwidth_kbps")]),
    (r"\bDLY (\d+) usec", [(1, "delay_us")]),
    (r"(\d+) packets input, (\d+) bytes", [(1, "in_packets"), (2, "in_bytes")]),
    (r"(\d+) packets output, (\d+) bytes", [(1, "out_packets"), (2, "out_bytes")]),
    (r"(\d+) input errors", [(1, "in_errors")]),
    (r"(\d+) CRC", [(1, "crc")]),
    (r"(\d+) output errors", [(1, "out_errors")]),
    (r"(\d+) collisions", [(1, "collisions")]),
    (r"(\d+) interface resets", [(1, "interface_resets")]),
    (r"Input queue: \d+/\d+/(\d+)/\d+", [(1, "in_drops")]),
    (r"Total output drops: (\d+)", [(1, "out_drops")]),
    (r"Received (\d+) broadcasts", [(1, "in_broadcasts")]),
    (r"input rate (\d+) bits/sec, (\d+) packets/sec", [(1, "in_rate_bps"), (2, "in_rate_pps")]),
    (r"output rate (\d+) bits/sec, (\d+) packets/sec", [(1, "out_rate_bps"),
                                                         (2, "out_rate_pps")]),
]]


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
        hardware = re.match(r"^Hardware is ([^,]+)(?:, address is ([0-9a-f.]+))?", line,
                            common.IGNORECASE)
        if hardware:
            current["hardware"] = hardware.group(1).strip()
            if hardware.group(2):
                current["mac"] = hardware.group(2)
            continue
        address = re.match(r"^Internet address is (\S+)", line, common.IGNORECASE)
        if address:
            current["ip_address"] = address.group(1)
            continue
        load = re.search(r"reliability (\d+/\d+), txload (\d+/\d+), rxload (\d+/\d+)", line)
        if load:
            current["reliability"], current["txload"], current["rxload"] = load.groups()
        clearing = re.match(r"^Last clearing of \"show interface\" counters (.+)$", line)
        if clearing:
            current["last_clearing"] = clearing.group(1)
            continue
        for pattern, keys in _FIELDS:
            match = pattern.search(line)
            if match:
                for group, key in keys:
                    value = common.integer(match.group(group))
                    if value is not None:
                        current[key] = value
    return result
