"""IOS `ping` output: `Sending N, S-byte ICMP Echos to A, timeout is T seconds:`, the result
characters, and `Success rate is P percent (x/y), round-trip min/avg/max = a/b/c ms`.

Keys: `target` (address pinged), `count` (echos announced), `size_bytes`, `timeout_s`,
`source`, `df_bit`, `results` (the result characters, lines joined: `!` reply, `.` timeout, `U`
unreachable, `Q` source quench, `M` could not fragment, `?` unknown packet, `&` TTL expired),
`result_counts` ({char: n}), `sent`, `received`, `success_percent`, `loss_ratio`,
`rtt_min_ms`, `rtt_avg_ms`, `rtt_max_ms`, `replies` (directed-broadcast pings: [{`request`,
`address`, `rtt_ms`}]).

A router never prints the round-trip clause when nothing came back: where a (hand-edited) text
has one at 0 percent, the RTTs are ignored. A broadcast ping has no `Success rate` line: `sent` is
the announced count and `received` the number of distinct requests answered.
"""

from guestagent import rx
from guestagent.ios import common

COMMAND = "ping {host} repeat {count} timeout {timeout_s}"

SCHEMA = {
    "recognized": bool, "target": str, "count": int, "size_bytes": int, "timeout_s": int,
    "source": str, "df_bit": bool, "results": str, "result_counts": {"<char>": int},
    "sent": int, "received": int, "success_percent": int, "loss_ratio": (float, None),
    "rtt_min_ms": (int, float), "rtt_avg_ms": (int, float), "rtt_max_ms": (int, float),
    "replies": [{"request": int, "address": str, "rtt_ms": (int, float)}],
}

_SENDING = rx.compile(r"Sending (\d+), (\d+)-byte (?:ICMP|MPLS) Echos to ([^,\s]+)"
                      r"(?:[^,]*)?,?(?:\s*timeout is (\d+) seconds)?", common.IGNORECASE)
_TIMEOUT = rx.compile(r"timeout is (\d+) seconds", common.IGNORECASE)
_SUCCESS = rx.compile(r"Success rate is (\d+) percent \((\d+)/(\d+)\)"
                      r"(?:, round-trip min/avg/max = (\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)/"
                      r"(\d+(?:\.\d+)?) ms)?", common.IGNORECASE)
_RESULTS = rx.compile(r"^[!.UQM?&]+$")
_REPLY = rx.compile(r"Reply to request (\d+) from ([^,\s]+),\s*(\d+(?:\.\d+)?) ms",
                    common.IGNORECASE)
_SOURCE = rx.compile(r"Packet sent with a source address of (\S+)", common.IGNORECASE)


def _int(text):
    return common.integer(text)


def parse(text):
    result = {"recognized": False}
    results = []
    replies = []
    for raw in common.lines(text):
        line = common.squash(raw)
        if not line:
            continue
        match = _SENDING.search(line)
        if match and _int(match.group(1)) is not None and _int(match.group(2)) is not None:
            result.update({"count": _int(match.group(1)), "size_bytes": _int(match.group(2)),
                           "target": match.group(3)})
            timeout = _TIMEOUT.search(line)
            if timeout and _int(timeout.group(1)) is not None:
                result["timeout_s"] = _int(timeout.group(1))
            result["recognized"] = True
            continue
        if "timeout_s" not in result:
            timeout = _TIMEOUT.search(line)
            if timeout and "count" in result and _int(timeout.group(1)) is not None:
                result["timeout_s"] = _int(timeout.group(1))
        source = _SOURCE.search(line)
        if source:
            result["source"] = source.group(1)
            continue
        if "DF bit set" in line:
            result["df_bit"] = True
            continue
        if _RESULTS.match(line) and "count" in result:
            results.append(line)
            continue
        reply = _REPLY.search(line)
        if reply and _int(reply.group(1)) is not None and common.number(reply.group(3)) is not None:
            replies.append({"request": _int(reply.group(1)), "address": reply.group(2),
                            "rtt_ms": common.number(reply.group(3))})
            result["recognized"] = True
            continue
        match = _SUCCESS.search(line)
        counts = [_int(match.group(i)) for i in (1, 2, 3)] if match else None
        if counts and None not in counts:
            result["recognized"] = True
            result["success_percent"], result["received"], result["sent"] = counts
            rtts = [common.number(match.group(i) or "") for i in (4, 5, 6)]
            if None not in rtts and result["received"] > 0:
                result["rtt_min_ms"], result["rtt_avg_ms"], result["rtt_max_ms"] = rtts
    if results:
        result["results"] = "".join(results)
        counts = {}
        for char in result["results"]:
            counts[char] = counts.get(char, 0) + 1
        result["result_counts"] = counts
    if replies:
        result["replies"] = replies
        if "sent" not in result and "count" in result:
            result["sent"] = result["count"]
            result["received"] = len(set(r["request"] for r in replies))
            rtts = [r["rtt_ms"] for r in replies]
            result["rtt_min_ms"] = min(rtts)
            result["rtt_max_ms"] = max(rtts)
            result["rtt_avg_ms"] = round(sum(rtts) / float(len(rtts)), 3)
    if result.get("sent"):
        result["loss_ratio"] = (result["sent"] - result["received"]) / float(result["sent"])
    elif "sent" in result:
        result["loss_ratio"] = None
    return result
