"""IOS `traceroute` output (also `traceroute mpls` / LSP traces).

Result: `destination` (address traced), `destination_name` (when IOS printed a name),
`vrf_info` (True when the `VRF info:` line was printed), `hops` in order, each as the Linux
traceroute parser gives them (`hop`, `address`, `addresses`, `rtt_ms`, `lost`, `annotations`)
plus `names` ({address: DNS name}), `as_numbers` ([n] from `[AS n]`), `mpls_labels` ([[labels]]
per labelled responder, from `[MPLS: Labels 26/0/55 Exp 0]` or `[Labels: 436 Exp: 0]`) and
`codes` (LSP trace codes such as `L`, `!`). `reached`: the last hop answered from the
destination.

A hop's responders may continue on indented lines (ECMP, or a first probe that timed out);
`address` is the first responder, `addresses` all of them in order without repeats. `lost` counts
`*`; `annotations` holds `!H`, `!N`, `!P`, `!A`, `!U`, `!Q`, `!T`... (an unreachable answer still
names its responder).
"""

from guestagent import rx
from guestagent.ios import common

COMMAND = "traceroute {host}"

SCHEMA = {
    "recognized": bool, "destination": str, "destination_name": str, "vrf_info": bool,
    "reached": bool,
    "hops": [{"hop": int, "address": (str, None), "addresses": [str], "names": {"<addr>": str},
              "rtt_ms": [(int, float)], "lost": int, "annotations": [str],
              "as_numbers": [int], "mpls_labels": [[str]], "codes": [str]}],
}

_HEADER = rx.compile(r"^Tracing (?:the route|MPLS .*?Path) (?:to|on) (\S+)(?:\s+\(([^)]+)\))?",
                     common.IGNORECASE)
_HOP = rx.compile(r"^\s*(?:([!.QLBDFfMmNPpRIlXxd])\s+)?(\d{1,3})\s+(.*)$")
_TOKEN = rx.compile(
    r"(?P<name>[A-Za-z0-9][\w.-]*)\s+\((?P<addr_in_parens>[0-9a-fA-F:.]+)\)"
    r"|\[AS (?P<as>\d+)\]"
    r"|\[MPLS: Labels? (?P<mpls>[\w/-]+)(?: Exp \d+)?\]"
    r"|\[Labels: (?P<lsp>[\w/-]+)(?: Exp: \d+)?\]"
    r"|(?P<rtt>\d+(?:\.\d+)?) (?:msec|ms)\b"
    r"|(?P<note>![A-Z?]\w*)"
    r"|(?P<star>\*)"
    r"|MRU \d+"
    r"|(?P<addr>[0-9a-fA-F:.]+[.:][0-9a-fA-F:.]+)"
    r"|(?P<word>\S+)")


def _new_hop(number, code):
    hop = {"hop": number, "address": None, "addresses": [], "names": {}, "rtt_ms": [], "lost": 0,
           "annotations": [], "as_numbers": [], "mpls_labels": [], "codes": []}
    if code:
        hop["codes"].append(code)
    return hop


def _read(hop, rest):
    for match in _TOKEN.finditer(rest):
        kind = match.lastgroup
        if match.group("addr_in_parens"):
            address = match.group("addr_in_parens")
            hop["names"][address] = match.group("name")
            _add_address(hop, address)
        elif kind == "as":
            number = common.integer(match.group("as"))
            if number is not None and number not in hop["as_numbers"]:
                hop["as_numbers"].append(number)
        elif kind in ("mpls", "lsp"):
            hop["mpls_labels"].append(match.group(kind).split("/"))
        elif kind == "rtt":
            if common.number(match.group("rtt")) is not None:
                hop["rtt_ms"].append(common.number(match.group("rtt")))
        elif kind == "note":
            hop["annotations"].append(match.group("note"))
        elif kind == "star":
            hop["lost"] += 1
        elif kind == "addr":
            _add_address(hop, match.group("addr"))


def _add_address(hop, address):
    if address not in hop["addresses"]:
        hop["addresses"].append(address)
    if hop["address"] is None:
        hop["address"] = address


def parse(text):
    result = {"recognized": False, "hops": []}
    current = None
    for raw in common.lines(text):
        if not raw.strip():
            continue
        line = raw.replace("\t", " ")
        header = _HEADER.match(line.strip())
        if header:
            result["recognized"] = True
            if header.group(2):
                result["destination_name"] = header.group(1)
                result["destination"] = header.group(2)
            else:
                result["destination"] = header.group(1).rstrip(",")
            continue
        if line.strip().startswith("VRF info:"):
            result["vrf_info"] = True
            result["recognized"] = True
            continue
        hop_match = _HOP.match(line)
        if hop_match and _looks_like_hop(hop_match.group(3)):
            current = _new_hop(int(hop_match.group(2)), hop_match.group(1))
            result["hops"].append(current)
            _read(current, hop_match.group(3))
            continue
        # An indented continuation: another responder for the same TTL.
        if current is not None and raw[:1] in (" ", "\t") and _looks_like_hop(line.strip()):
            _read(current, line.strip())
    if result["hops"]:
        result["recognized"] = True
        last = result["hops"][-1]
        if result.get("destination"):
            result["reached"] = result["destination"] in last["addresses"]
        if "!" in last["codes"]:  # LSP trace: `!` = the egress answered, success
            result["reached"] = True
    return result


def _looks_like_hop(rest):
    rest = rest.strip()
    if not rest:
        return False
    return bool(rx.match(r"^(\*|[0-9a-fA-F:.]+[.:]|[A-Za-z0-9][\w.-]*\s+\(|!)", rest))
