"""Linux `ping` output (iputils, busybox) -> what ping printed, and the ICMP sample fields.

`read(text)` is the plain reading: the header (`PING host (address) 56(84) bytes of data.`, the
host may be empty), each reply (`64 bytes from A: icmp_seq=N ttl=T time=R ms`, `seq=` on busybox,
`(DUP!)`, `-D` timestamps), `no answer yet` and `From A icmp_seq=N Destination ...` lines, the
statistics header (`--- host ping statistics ---`), the counts line and the summary line
(`rtt min/avg/max/mdev = a/b/c/d ms`, busybox `round-trip min/avg/max = a/b/c ms`).

`parse(text, timeout_s)` gives the sample fields of docs/metrics.md (see `probes/icmp.py`).

Every pattern here is bounded or anchored, so reading is linear in the text's size, and nothing
raises on odd text.
"""

import re

COMMAND = "ping -n -c COUNT HOST (Linux)"

_INT = r"(\d{1,12})"
_MS = r"(\d{1,12}(?:\.\d{1,9})?)"
# Lookbehinds keep a search from starting inside a longer run of digits or word characters.
_SEQ = re.compile(r"(?<![\w])(?:icmp_)?seq=" + _INT + r"(?!\d)")
_TTL = re.compile(r"(?<![\w])(?:ttl|hlim)=" + _INT + r"(?!\d)")
_TIME = re.compile(r"(?<![\w])time([=<])" + _MS + r"(?![\d.]) ?(ms|us|usec|msec)?(?![A-Za-z])")
_TIMESTAMP = re.compile(r"^\[(\d{1,12}(?:\.\d{1,9})?)\]\s?")
_COUNTS = re.compile(r"^" + _INT + r" packets transmitted, " + _INT + r"(?: packets)? received")
_DUPLICATES = re.compile(r"(?<![\d+])\+?" + _INT + r" duplicates")
_ERRORS = re.compile(r"(?<![\d+])\+" + _INT + r" errors")
_LOSS = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,9})?)% packet loss")
_ELAPSED = re.compile(r"(?<![\w]), time " + _INT + r"ms")
_SUMMARY = re.compile(r"^(rtt|round-trip) min/avg/max(/mdev)? = " + _MS + "/" + _MS + "/" + _MS
                      + r"(?:/" + _MS + r")? ?(ms|us)?(?![\w])")
_PIPE = re.compile(r"(?<![\w])pipe " + _INT + r"(?!\d)")


def _number(text):
    try:
        return float(text) if "." in text else int(text)
    except (TypeError, ValueError):
        return None


def _to_ms(value, unit):
    if value is None:
        return None
    return value / 1000.0 if unit in ("us", "usec") else value


def read(text):
    """What ping printed: {recognized, host, address, replies: [{seq, ttl, rtt_ms, duplicate,
    below}], no_answer: [seq], errors: [{seq, text}], garbled: n, statistics: bool, transmitted,
    received, duplicates, errors_count, loss_percent, time_ms, summary: {min, avg, max, mdev}}.
    Keys ping did not print are absent."""
    out = {"recognized": False, "replies": [], "no_answer": [], "errors": [], "garbled": 0,
           "statistics": False}
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return out
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        stamp = _TIMESTAMP.match(line)
        if stamp:
            line = line[stamp.end():]
        if line.startswith("PING ") and ("bytes of data" in line or "data bytes" in line):
            _header(out, line)
            continue
        if line.startswith("---") and "ping statistics ---" in line:
            # `--- host ping statistics ---`, the host may be empty; a `^C` may follow.
            out["recognized"] = True
            out["statistics"] = True
            out.setdefault("host", line[3:line.index("ping statistics ---")].strip())
            continue
        if " bytes from " in line:
            _reply(out, line)
            continue
        if line.startswith("no answer yet for "):
            seq = _SEQ.search(line)
            if seq:
                out["no_answer"].append(int(seq.group(1)))
            continue
        if line.startswith("From "):
            seq = _SEQ.search(line)
            out["errors"].append({"seq": int(seq.group(1)) if seq else None,
                                  "text": line[:200]})
            continue
        counts = _COUNTS.match(line)
        if counts:
            _counts(out, line, counts)
            continue
        summary = _SUMMARY.match(line)
        if summary:
            unit = summary.group(7)
            values = [_to_ms(_number(summary.group(i)), unit) for i in (3, 4, 5, 6)]
            out["summary"] = {"min": values[0], "avg": values[1], "max": values[2]}
            if values[3] is not None:
                out["summary"]["mdev"] = values[3]
            pipe = _PIPE.search(line)
            if pipe:
                out["pipe"] = int(pipe.group(1))
            continue
    return out


def _header(out, line):
    out["recognized"] = True
    rest = line[len("PING "):]
    # `PING host (address) ...`, `PING host(address) ...` (IPv6 zones), `PING  (address) ...`
    # (an empty host name).
    opening = rest.find("(")
    closing = rest.find(")", opening + 1) if opening >= 0 else -1
    if opening >= 0 and closing > opening:
        out["host"] = rest[:opening].strip()
        out["address"] = rest[opening + 1:closing].strip()
    else:
        out["host"] = rest.split(" ", 1)[0]


def _reply(out, line):
    seq = _SEQ.search(line)
    time = _TIME.search(line)
    if not (seq and time) or not line[:1].isdigit():
        out["garbled"] += 1
        return
    ttl = _TTL.search(line)
    out["replies"].append({
        "seq": int(seq.group(1)),
        "ttl": int(ttl.group(1)) if ttl else None,
        "rtt_ms": _to_ms(_number(time.group(2)), time.group(3)),
        "below": time.group(1) == "<",  # `time<1 ms`: only a bound
        "duplicate": line.endswith("(DUP!)") or " (DUP!)" in line,
    })


def _counts(out, line, counts):
    out["recognized"] = True
    out["transmitted"] = int(counts.group(1))
    out["received"] = int(counts.group(2))
    for pattern, key in ((_DUPLICATES, "duplicates"), (_ERRORS, "errors_count"),
                         (_LOSS, "loss_percent"), (_ELAPSED, "time_ms")):
        match = pattern.search(line)
        if match:
            out[key] = _number(match.group(1))


def parse(text, timeout_s=2.0):
    from guestagent.probes.icmp import summarize
    read_out = read(text)
    fields = summarize(read_out, timeout_s)
    fields["recognized"] = bool(read_out["recognized"] and fields["sent"])
    return fields
