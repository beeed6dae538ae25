"""`show track`: tracked objects, typically IP SLA reachability or state.

Each track (`tracks["<id>"]`): `id`, `object` (the object line as printed, e.g. `IP SLA 1
reachability`, or the IOS 12 `Response Time Reporter 20 reachability`), `sla_id` and `attribute`
(`reachability`/`state`) for IP SLA objects, `interface` for interface objects, `attribute_name`
(`Reachability`, `State`, `Line protocol`...), `state` (`up`/`down`, lower case), `changes`,
`last_change` (text) and `last_change_s`, `return_code`, `latest_rtt_ms`, `delay_up_s`,
`delay_down_s`, `tracked_by` (list of client lines).
"""

from guestagent import rx
from guestagent.ios import common

COMMAND = "show track"

SCHEMA = {
    "recognized": bool,
    "tracks": {
        "<id>": {"id": str, "object": str, "sla_id": str, "attribute": str, "interface": str,
                 "attribute_name": str, "state": str, "changes": int, "last_change": str,
                 "last_change_s": int, "return_code": str, "latest_rtt_ms": (int, float),
                 "delay_up_s": int, "delay_down_s": int, "tracked_by": [str]},
    },
}

_TRACK = rx.compile(r"^Track\s+(\d+)\s*$", common.IGNORECASE)
_SLA = rx.compile(r"^(?:IP SLA|Response Time Reporter|rtr)\s+(\d+)\s+(reachability|state)\b",
                  common.IGNORECASE)
_INTERFACE = rx.compile(r"^Interface\s+(\S+)\s+(line-protocol|ip routing|ipv6 routing)",
                        common.IGNORECASE)
_STATE = rx.compile(r"^(Reachability|State|Line protocol|IP routing|IPv6 routing|"
                    r"Boolean \w+|Threshold \w+)\s+is\s+(\w+)", common.IGNORECASE)
_CHANGES = rx.compile(r"^(\d+)\s+changes?,\s*last change\s+(.*)$", common.IGNORECASE)


def parse(text):
    result = {"recognized": False, "tracks": {}}
    current = None
    in_tracked_by = False
    for raw in common.lines(text):
        line = common.squash(raw)
        if not line:
            continue
        match = _TRACK.match(line)
        if match:
            current = result["tracks"].setdefault(match.group(1), {"id": match.group(1)})
            result["recognized"] = True
            in_tracked_by = False
            continue
        if current is None:
            continue
        if line.lower().startswith("tracked by"):
            in_tracked_by = True
            current.setdefault("tracked_by", [])
            continue
        if in_tracked_by:
            current["tracked_by"].append(line)
            continue
        sla = _SLA.match(line)
        if sla and "object" not in current:
            current["object"] = line
            current["sla_id"] = sla.group(1)
            current["attribute"] = sla.group(2).lower()
            continue
        interface = _INTERFACE.match(line)
        if interface and "object" not in current:
            current["object"] = line
            current["interface"] = interface.group(1)
            continue
        state = _STATE.match(line)
        if state:
            current["attribute_name"] = state.group(1)
            current["state"] = state.group(2).lower()
            continue
        changes = _CHANGES.match(line)
        if changes:
            if common.integer(changes.group(1)) is not None:
                current["changes"] = common.integer(changes.group(1))
            current["last_change"] = changes.group(2).strip()
            seconds = common.duration_s(current["last_change"])
            if seconds is not None:
                current["last_change_s"] = seconds
            continue
        if line.lower().startswith("latest operation return code"):
            current["return_code"] = line.partition(":")[2].strip()
            continue
        rtt = rx.match(r"^Latest RTT \(millisecs\)\s*(\d+(?:\.\d+)?)", line, common.IGNORECASE)
        if rtt and common.number(rtt.group(1)) is not None:
            current["latest_rtt_ms"] = common.number(rtt.group(1))
            continue
        delay = rx.match(r"^Delay\s+(.*)$", line, common.IGNORECASE)
        if delay:
            up = rx.search(r"up\s+(\d+)", delay.group(1), common.IGNORECASE)
            down = rx.search(r"down\s+(\d+)", delay.group(1), common.IGNORECASE)
            if up and common.integer(up.group(1)) is not None:
                current["delay_up_s"] = common.integer(up.group(1))
            if down and common.integer(down.group(1)) is not None:
                current["delay_down_s"] = common.integer(down.group(1))
            continue
        if "object" not in current and not line.endswith(":"):
            current["object"] = line
    return result
