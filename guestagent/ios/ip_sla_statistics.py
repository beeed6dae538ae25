"""`show ip sla statistics` (and `... details`): the latest result of every IP SLA operation.

Reads both layouts: IOS XE / IOS 15 (`IPSLA operation id: N`) and IOS 12 (`Round Trip Time (RTT)
for Index N`), with `milliseconds` or `ms`, fields indented by tabs or spaces, two fields on one
line, and 1 to 3 blank lines between operations. Fields are found by their label wherever they
stand on a line, so a whitespace-normalised copy reads the same as the router's text.

Each operation (`operations["<id>"]`):
- `latest_rtt_ms` (number, or None with `rtt_reason`: the text IOS printed instead, e.g.
  `NoConnection/Busy/Timeout`, or `never run` when the operation has no latest result at all);
- `start_time` (text without the clock flag), `start_zone` (the zone name IOS printed, e.g.
  `UTC`, `JST`, `AEST`: IOS prints the router's local time), `start_local_ts` (the printed
  date and time read as if they were UTC: the local calendar time in unix-seconds form),
  `start_ts` (unix seconds; here only when the zone is UTC or GMT: other zones are converted by
  the collector with the router's offset, collectors/ipsla.py), `clock_synced`: False when IOS
  flags the time with `*` (clock not authoritative: never set from NTP or the calendar) or `.`
  (was authoritative, NTP not synchronized now);
- `return_code` kept whole (`OK`, `Timeout`, `No connection`, `Socket connect error`, `Over
  threshold`...), `ok` (return code is OK);
- `successes`/`failures` (None when IOS prints `Unknown`; absent for path-echo, which has none);
- `time_to_live` (text) and `time_to_live_s` (None for `Forever`);
- udp-jitter/icmp-jitter: `rtt_count`, `rtt_{min,avg,max}_ms`, `latency_samples`,
  `latency_{sd,ds}_{min,avg,max}_ms`, `jitter_{sd,ds}_samples`, `jitter_{sd,ds}_{min,avg,max}_ms`,
  with details `jitter_{sd,ds}_{pos,neg}_{min,avg,max}_ms`, `jitter_avg_ms`, `over_threshold`,
  `loss_sd`, `loss_ds`, `loss_{sd,ds}_periods`, `out_of_sequence`, `tail_drop`, `late_arrival`,
  `skipped`, `mia`, `icpif`, `mos` (as printed, 0 when no codec is configured);
- http: `dns_rtt_ms`, `tcp_connect_rtt_ms`, `transaction_rtt_ms`, `http_status`,
  `first_byte_ms`;
- details: `state`, `over_threshold_occurred`, `last_reset`.
"""

from guestagent import rx
from guestagent.ios import common

COMMAND = "show ip sla statistics"

SCHEMA = {
    "recognized": bool,
    "operations": {
        "<id>": {
            "id": str, "type": str, "latest_rtt_ms": (int, float, None), "rtt_reason": str,
            "start_time": str, "start_ts": (int, None), "clock_synced": bool,
            "start_zone": str, "start_local_ts": (int, None),
            "return_code": str, "ok": bool, "successes": (int, None), "failures": (int, None),
            "time_to_live": str, "time_to_live_s": (int, None),
            "rtt_count": int, "rtt_min_ms": (int, float), "rtt_avg_ms": (int, float),
            "rtt_max_ms": (int, float), "latency_samples": int,
            "latency_sd_min_ms": (int, float), "latency_sd_avg_ms": (int, float),
            "latency_sd_max_ms": (int, float), "latency_ds_min_ms": (int, float),
            "latency_ds_avg_ms": (int, float), "latency_ds_max_ms": (int, float),
            "jitter_sd_samples": int, "jitter_ds_samples": int,
            "jitter_sd_min_ms": (int, float), "jitter_sd_avg_ms": (int, float),
            "jitter_sd_max_ms": (int, float), "jitter_ds_min_ms": (int, float),
            "jitter_ds_avg_ms": (int, float), "jitter_ds_max_ms": (int, float),
            "jitter_sd_pos_min_ms": (int, float), "jitter_sd_pos_avg_ms": (int, float),
            "jitter_sd_pos_max_ms": (int, float), "jitter_sd_neg_min_ms": (int, float),
            "jitter_sd_neg_avg_ms": (int, float), "jitter_sd_neg_max_ms": (int, float),
            "jitter_ds_pos_min_ms": (int, float), "jitter_ds_pos_avg_ms": (int, float),
            "jitter_ds_pos_max_ms": (int, float), "jitter_ds_neg_min_ms": (int, float),
            "jitter_ds_neg_avg_ms": (int, float), "jitter_ds_neg_max_ms": (int, float),
            "jitter_avg_ms": (int, float), "over_threshold": int,
            "loss_sd": int, "loss_ds": int, "loss_sd_periods": int, "loss_ds_periods": int,
            "out_of_sequence": int, "tail_drop": int, "late_arrival": int, "skipped": int,
            "mia": int, "icpif": (int, float), "mos": (int, float),
            "dns_rtt_ms": (int, float), "tcp_connect_rtt_ms": (int, float),
            "transaction_rtt_ms": (int, float), "http_status": int, "first_byte_ms": (int, float),
            "state": str, "over_threshold_occurred": bool, "last_reset": str,
        },
    },
}

_START = [
    rx.compile(r"IPSLA operation id:\s*(\d+)", common.IGNORECASE),
    rx.compile(r"Round Trip Time \(RTT\) for\s+Index\s+(\d+)", common.IGNORECASE),
]
_BANNER = rx.compile(r"IPSLAs? Latest Operation Statistics", common.IGNORECASE)

_MS = r"(?:\s*(?:milliseconds|ms))?"
_NUM = r"(-?\d+(?:\.\d+)?)"
_TRIPLE = r"(-?\d+(?:\.\d+)?/-?\d+(?:\.\d+)?/-?\d+(?:\.\d+)?)"


def _triple_fields(prefix):
    names = (prefix + "_min_ms", prefix + "_avg_ms", prefix + "_max_ms")

    def store(op, value, line=""):
        values = common.triple(value)
        # `precision microseconds` makes IOS print these in microseconds.
        if values and rx.search(r"\b(microseconds|usec)\b", line, common.IGNORECASE):
            values = tuple(v / 1000.0 for v in values)
        if values:
            for name, v in zip(names, values):
                op[name] = v
    return store


def _number_field(name):
    def store(op, value, line=""):
        v = common.number(value)
        if v is not None:
            op[name] = v
    return store


def _text_field(name):
    def store(op, value, line=""):
        op[name] = common.squash(value)
    return store


def _latest_rtt(op, value, line=""):
    value = common.squash(value)
    match = rx.match(r"^(-?\d+(?:\.\d+)?)\s*(milliseconds|ms|microseconds|us)?\b", value)
    if match and common.number(match.group(1)) is not None:
        rtt = common.number(match.group(1))
        if match.group(2) in ("microseconds", "us"):
            rtt = rtt / 1000.0
        op["latest_rtt_ms"] = rtt
        op.pop("rtt_reason", None)
    else:
        op["latest_rtt_ms"] = None
        op["rtt_reason"] = value or "absent"


# Zone names that are UTC whatever the router's `clock timezone`.
UTC_ZONES = ("UTC", "GMT", "Z")
_ZONE = rx.compile(r"\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\s+([A-Za-z][A-Za-z0-9+-]{0,9})\s+"
                   r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b", common.IGNORECASE)


def read_time(value):
    """An IOS time as `show clock` and IP SLA print it (`*10:02:11.123 AEST Mon Nov 30 2026`):
    {"text" (without the flag), "synced", "zone" (None when none printed), "local_ts" (the
    printed calendar time as if UTC; None when it does not read), "utc_ts" (only when the zone
    is UTC/GMT, else None)}."""
    text, synced = common.clock_flag(value or "")
    zone = _ZONE.search(text)
    zone = zone.group(1) if zone else None
    local_ts = common.ios_time(text)
    return {"text": text, "synced": synced, "zone": zone, "local_ts": local_ts,
            "utc_ts": local_ts if zone is not None and zone.upper() in UTC_ZONES else None}


def _start_time(op, value, line=""):
    read = read_time(value)
    op["start_time"] = read["text"]
    op["clock_synced"] = read["synced"]
    if read["zone"] is not None:
        op["start_zone"] = read["zone"]
    op["start_local_ts"] = read["local_ts"]
    if read["utc_ts"] is not None:
        op["start_ts"] = read["utc_ts"]


def _return_code(op, value, line=""):
    code = common.squash(value)
    op["return_code"] = code
    op["ok"] = code.upper() == "OK"


def _counter(name):
    def store(op, value, line=""):
        # `Unknown` for an operation that never ran: present, but no number.
        op[name] = common.counter(common.squash(value).split(" ")[0])
    return store


def _ttl(op, value, line=""):
    text = common.squash(value)
    op["time_to_live"] = text
    op["time_to_live_s"] = common.leading_number(text) if text.lower() != "forever" else None


def _bool_field(name):
    def store(op, value, line=""):
        text = common.squash(value).upper()
        if text in ("TRUE", "FALSE"):
            op[name] = text == "TRUE"
    return store


def _over_threshold(op, value, line=""):
    v = common.leading_number(value)
    if v is not None:
        op["over_threshold"] = v


# What ends a pattern's leading literal text, or escapes its next character.
_SPECIAL = rx.compile(r"[\\.^$*+?{}\[\]|()]")


def _literal(pattern):
    """The text every match of `pattern` starts with (its leading literal characters, escapes
    read), e.g. `Number Of RTT:` of `Number Of RTT:\\s*...`; may be empty."""
    out = ""
    i = 2 if pattern.startswith(r"\b") else 0
    while True:
        found = _SPECIAL.search(pattern, i)
        if found is None:
            return out + pattern[i:]
        j = found.start()
        out += pattern[i:j]
        if pattern[j] == "\\":
            escaped = pattern[j + 1:j + 2]
            if escaped and not escaped.isalnum():
                out += escaped
                i = j + 2
                continue
        elif pattern[j] in "*?{":  # the character before is optional
            out = out[:-1]
        return out


class _Field(object):
    """A field's label pattern, compiled the first time a line holds its label. An output names
    a few of these fields: compiling all of them every cycle was most of the parsing's cost.
    On an ASCII line the label's absence (in any case) rules a match out; other lines always go
    to the pattern, since IGNORECASE also matches some non-ASCII letters to ASCII ones."""

    def __init__(self, pattern, store):
        self.pattern = pattern
        self.store = store
        self.label = _literal(pattern).lower()
        self._compiled = None

    def search(self, line, lowered):
        if lowered is not None and self.label not in lowered:
            return None
        if self._compiled is None:
            self._compiled = rx.compile(self.pattern, common.IGNORECASE)
        return self._compiled.search(line)


def _ascii_lowered(line):
    """The line in lower case when it is ASCII, else None."""
    try:
        line.encode("ascii")
    except UnicodeEncodeError:
        return None
    return line.lower()


# (label regex, handler); each label is searched anywhere on the line, so two fields separated by
# a tab (`Out Of Sequence: 0<TAB>Tail Drop: 0`) or a single space both read.
_FIELDS = [_Field(p, h) for p, h in [
    (r"Type of operation:\s*(\S+)", _text_field("type")),
    (r"\bLatest RTT:\s*(.*)$", _latest_rtt),
    (r"Latest operation start time:\s*(.*)$", _start_time),
    (r"Latest operation return code:\s*(.*)$", _return_code),
    (r"Number of successes:\s*(\S+)", _counter("successes")),
    (r"Number of failures:\s*(\S+)", _counter("failures")),
    (r"Operation time to live:\s*(.*)$", _ttl),
    (r"Number Of RTT:\s*" + _NUM, _number_field("rtt_count")),
    (r"\bRTT Min/Avg/Max:\s*" + _TRIPLE, _triple_fields("rtt")),
    (r"Number of Latency one-way Samples:\s*" + _NUM, _number_field("latency_samples")),
    (r"Source to Destination Latency one way Min/Avg/Max:\s*" + _TRIPLE,
     _triple_fields("latency_sd")),
    (r"Destination to Source Latency one way Min/Avg/Max:\s*" + _TRIPLE,
     _triple_fields("latency_ds")),
    (r"Number of SD Jitter Samples:\s*" + _NUM, _number_field("jitter_sd_samples")),
    (r"Number of DS Jitter Samples:\s*" + _NUM, _number_field("jitter_ds_samples")),
    (r"Source to Destination Jitter Min/Avg/Max:\s*" + _TRIPLE, _triple_fields("jitter_sd")),
    (r"Destination to Source Jitter Min/Avg/Max:\s*" + _TRIPLE, _triple_fields("jitter_ds")),
    (r"Source to Destination positive Jitter Min/Avg/Max:\s*" + _TRIPLE,
     _triple_fields("jitter_sd_pos")),
    (r"Source to Destination negative Jitter Min/Avg/Max:\s*" + _TRIPLE,
     _triple_fields("jitter_sd_neg")),
    (r"Destination to Source positive Jitter Min/Avg/Max:\s*" + _TRIPLE,
     _triple_fields("jitter_ds_pos")),
    (r"Destination to Source negative Jitter Min/Avg/Max:\s*" + _TRIPLE,
     _triple_fields("jitter_ds_neg")),
    (r"\bJitter AVG:\s*" + _NUM, _number_field("jitter_avg_ms")),
    (r"Number Of RTT Over Threshold:\s*(.*)$", _over_threshold),
    (r"\bLoss Source to Destination:\s*" + _NUM, _number_field("loss_sd")),
    (r"\bLoss Destination to Source:\s*" + _NUM, _number_field("loss_ds")),
    (r"Source to Destination Loss Periods Number:\s*" + _NUM, _number_field("loss_sd_periods")),
    (r"Destination to Source Loss Periods Number:\s*" + _NUM, _number_field("loss_ds_periods")),
    (r"Out Of Sequence:\s*" + _NUM, _number_field("out_of_sequence")),
    (r"Tail Drop:\s*" + _NUM, _number_field("tail_drop")),
    (r"Packet Late Arrival:\s*" + _NUM, _number_field("late_arrival")),
    (r"Packet Skipped:\s*" + _NUM, _number_field("skipped")),
    (r"\bMIA:\s*" + _NUM, _number_field("mia")),
    (r"\(ICPIF\):\s*" + _NUM, _number_field("icpif")),
    (r"\(MOS\):\s*" + _NUM, _number_field("mos")),
    (r"DNS RTT:\s*" + _NUM, _number_field("dns_rtt_ms")),
    (r"TCP Connection RTT:\s*" + _NUM, _number_field("tcp_connect_rtt_ms")),
    (r"HTTP Transaction RTT:\s*" + _NUM, _number_field("transaction_rtt_ms")),
    (r"HTTP Status code:\s*" + _NUM, _number_field("http_status")),
    (r"time to first byte:\s*" + _NUM, _number_field("first_byte_ms")),
    (r"Operational state of entry:\s*(.*)$", _text_field("state")),
    (r"Over thresholds occurred:\s*(\S+)", _bool_field("over_threshold_occurred")),
    (r"Last time this entry was reset:\s*(.*)$", _text_field("last_reset")),
]]


def _finish(op):
    if "latest_rtt_ms" not in op:
        op["latest_rtt_ms"] = None
        op["rtt_reason"] = "never run"
    return op


def parse(text):
    result = {"recognized": False, "operations": {}}
    current = None
    for raw in common.lines(text):
        line = raw.strip()
        if not line:
            continue
        if _BANNER.search(line):
            result["recognized"] = True
            continue
        started = None
        for pattern in _START:
            match = pattern.search(line)
            if match:
                started = match.group(1)
                break
        if started is not None:
            if current is not None:
                _finish(current)
            current = result["operations"].setdefault(started, {"id": started})
            result["recognized"] = True
            continue
        if current is None:
            continue
        lowered = _ascii_lowered(line)
        for field in _FIELDS:
            if lowered is not None and field.label not in lowered:
                continue  # as field.search() would say, without a call per field and line
            match = field.search(line, lowered)
            if match:
                field.store(current, match.group(1), line)
    if current is not None:
        _finish(current)
    return result
