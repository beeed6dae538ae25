"""`show ip sla summary`: one row per operation.

Reads the IOS XE layout (`ID Type Destination Stats ReturnCode LastRun`, state as a code before
the id: `*` active, `^` inactive, `~` pending) and the older command-reference layout with a State
column (`ID Type Destination State Stats(ms) ReturnCode LastRun`).

Each row (`operations["<id>"]`): `id`, `type`, `destination`, `state` (`active`, `inactive`,
`pending` or the State column in lower case), `rtt_ms` (None for `-`; `u` values are
microseconds, converted), `return_code` (kept whole), `last_run` (text), `last_run_ago_s` (for
`N seconds ago` style).
"""

from guestagent import rx
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
_ROW = rx.compile(r"^\s*([*^~]?)(\d+)\s+(\S+)\s+(\S+)\s+(.*)$")
_AGO_UNIT = rx.compile(r"^(?:second|minute|hour|day|week)s?$", common.IGNORECASE)
_CLOCK = rx.compile(r"^\*?\.?\d{1,2}:\d{2}:\d{2}")
_HEADER = rx.compile(r"^\s*ID\s+Type\s+Destination\b", common.IGNORECASE)


def _stats(text):
    text = text.strip()
    match = rx.match(r"^(?:RTT=)?(u)?(\d+(?:\.\d+)?)(u)?$", text, common.IGNORECASE)
    if not match:
        return None
    value = common.number(match.group(2))
    if value is not None and (match.group(1) or match.group(3)):
        value = value / 1000.0
    return value


def _last_run(words):
    """(index of the first word of the LastRun column or None, whether it is `N units ago`).

    Word by word rather than one pattern searched over the row: `\\d+\\s+... ago` searched
    across a long run of digits tries every digit as a start (quadratic)."""
    if len(words) >= 3 and words[-1].lower() == "ago" and _AGO_UNIT.match(words[-2]) \
            and words[-3].isdigit():
        return len(words) - 3, True
    if words and words[-1].lower().endswith("never"):
        return len(words) - 1, False
    for index, word in enumerate(words):
        if _CLOCK.match(word):
            return index, False
    return None, False


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
        last, ago = _last_run(words)
        if last is not None:
            row["last_run"] = " ".join(words[last:])
            if ago:
                seconds = common.duration_s(" ".join(words[last:-1]))
                if seconds is not None:
                    row["last_run_ago_s"] = seconds
            words = words[:last]
        if words:
            row["return_code"] = " ".join(words)
        result["operations"][op_id] = row
        result["recognized"] = True
    return result
