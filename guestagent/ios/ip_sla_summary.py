"""`show ip sla summary`: one row per operation.

Reads the IOS XE layout (`ID Type Destination Stats ReturnCode LastRun`, state as a code before
the id: `*` active, `^` inactive, `~` pending) and the older command-reference layout with a State
column (`ID Type Destination State Stats(ms) ReturnCode LastRun`).

Each row (`operations["<id>"]`): `id`, `type`, `destination`, `state` (`active`, `inactive`,
`pending` or the State column in lower case), `rtt_ms` (None for `-`; `u` values are
microseconds, converted), `return_code` (kept whole), `last_run` (text), `last_run_ago_s` (for
`N seconds ago` style).
"""

import re

from guestagent.ios import common

COMMAND = "show ip sla summary"

SCHEMA = {
    "recognized": bool,
    "operations": {
        "<id>": {"id": str, "type": str, "destination": str, "state": str,
                 "rtt_ms": (int, float, None), "return_code": str, "last_run": str,
                 "last_run_ago_s": int},
    },
}

_CODES = {"*": "active", "^": "inactive", "~": "pending"}
_STATES = ("active", "inactive", "pending", "transition")
_ROW = re.compile(r"^\s*([*^~]?)(\d+)\s+(\S+)\s+(\S+)\s+(.*)$")
_LAST_RUN = re.compile(
    r"(\d+\s+(?:second|minute|hour|day|week)s?\s+ago|never|\*?\.?\d{1,2}:\d{2}:\d{2}.*)$", re.I)
_HEADER = re.compile(r"^\s*ID\s+Type\s+Destination\b", re.I)


def _stats(text):
    text = text.strip()
    match = re.match(r"^(?:RTT=)?(u)?(\d+(?:\.\d+)?)(u)?$", text, re.I)
    if not match:
        return None
    value = common.number(match.group(2))
    if match.group(1) or match.group(3):
        value = value / 1000.0
    return value


def parse(text):
    result = {"recognized": False, "operations": {}}
    for raw in common.lines(text):
        line = common.squash(raw)
        if not line:
            continue
        if _HEADER.match(line) or line.startswith("IPSLAs Latest Operation Summary"):
            result["recognized"] = True
            continue
        match = _ROW.match(line)
        if not match:
            continue
        code, op_id, op_type, destination, rest = match.groups()
        words = rest.split(" ")
        row = {"id": op_id, "type": op_type, "destination": destination}
        if code:
            row["state"] = _CODES[code]
        if words and words[0].lower() in _STATES:
            row["state"] = words.pop(0).lower()
        if not words:
            continue
        stats = words.pop(0)
        row["rtt_ms"] = _stats(stats)
        remainder = " ".join(words)
        last = _LAST_RUN.search(remainder)
        if last:
            row["last_run"] = last.group(1).strip()
            remainder = remainder[:last.start()].strip()
            ago = re.match(r"^(\d+)\s+(second|minute|hour|day|week)", row["last_run"], re.I)
            if ago:
                row["last_run_ago_s"] = common.duration_s(row["last_run"].replace(" ago", ""))
        if remainder:
            row["return_code"] = remainder
        result["operations"][op_id] = row
        result["recognized"] = True
    return result
