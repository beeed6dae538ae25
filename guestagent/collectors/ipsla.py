"""IP SLA: the latest result of every operation the router runs, with what it measures.

`collect()` reads `show ip sla statistics` (or `... details`), then `show ip sla configuration`
for each operation's type, target, VRF, tag and codec, and `show track` for the tracks that follow
an operation. The report's `ipsla` section is a list of operations sorted by id, each the
statistics parser's fields (see docs/parsers.md) plus `target`, `source`, `vrf`, `tag`,
`frequency_s`, `threshold_ms`, `codec` and `tracks` ([{id, state}]).

IOS prints the start of each run in the router's local time, with the zone's name
(`10:02:11.123 AEST Mon Nov 30 2026`). The router's UTC offset is learned once per cycle from
`show clock` against Guest Shell's clock (UTC), rounded to 15 minutes (`router_clock`); a time
in the clock's zone is converted with it, a time named UTC/GMT is UTC already, and a time in
another zone (a summer-time change between the run and now) gets no `start_ts`. Each operation
says the offset used (`start_utc_offset_s`) and where it came from (`start_utc_offset_from`).

A router without IP SLA (IOS rejects the command) gives an empty list and no error; a failure to
read the statistics otherwise (timeout, broken cli session) raises one DeviceError, which the cycle
records as a single error line while the section stays empty. The configuration and track reads
are extras: their failure only leaves those fields out.
"""

import time

from guestagent.collectors import common
from guestagent.device import DeviceError

# Offsets are whole quarter hours (UTC+5:45 exists); a router clock further from Guest Shell's
# than any zone (UTC-12 .. UTC+14) is not set, not in a zone.
OFFSET_STEP_S = 900
OFFSET_MAX_S = 14 * 3600

# Configuration fields copied onto each operation.
_CONFIG_FIELDS = ("type", "target", "source", "target_port", "vrf", "tag", "frequency_s",
                  "threshold_ms", "timeout_ms", "codec", "url")


def _id_key(op_id):
    try:
        return (0, int(op_id), "")
    except (TypeError, ValueError):
        return (1, 0, str(op_id))


def collect(device, config, deadline):
    from guestagent import ios
    settings = common.settings(config).ipsla
    if not settings.enabled or device is None:
        return []
    text = None
    if settings.details:
        try:
            text = common.run(device, "show ip sla statistics details", config, deadline)
        except DeviceError as exc:
            if not common.feature_absent(exc):
                raise
    if text is None:
        try:
            text = common.run(device, "show ip sla statistics", config, deadline)
        except DeviceError as exc:
            if common.feature_absent(exc):
                return []
            raise
    stats = ios.parser("show-ip-sla-statistics")(text)
    operations = stats.get("operations") or {}
    wanted = settings.get("operations")
    if wanted:
        wanted = set(str(w) for w in wanted)
        operations = dict((k, v) for k, v in operations.items() if k in wanted)
    if not operations:
        return []
    convert_times(operations.values(), router_clock(device, config, deadline))
    if settings.configuration:
        entries = _read(device, "show ip sla configuration", "show-ip-sla-configuration", config,
                        deadline).get("entries") or {}
        for op_id, op in operations.items():
            entry = entries.get(op_id) or {}
            for field in _CONFIG_FIELDS:
                if entry.get(field) is not None and op.get(field) is None:
                    op[field] = entry[field]
            if op.get("target") is None and op.get("url"):
                op["target"] = _url_host(op["url"])
    if settings.tracks:
        tracks = _read(device, "show track", "show-track", config, deadline).get("tracks") or {}
        for track in tracks.values():
            op = operations.get(track.get("sla_id"))
            if op is not None:
                op.setdefault("tracks", []).append({
                    "id": track["id"], "attribute": track.get("attribute"),
                    "state": track.get("state"), "changes": track.get("changes"),
                    "last_change_s": track.get("last_change_s")})
    return [operations[k] for k in sorted(operations, key=_id_key)]


def router_clock(device, config, deadline, utc_now=time.time):
    """The router's UTC offset from `show clock` and Guest Shell's UTC clock:
    {"utc_offset_s": seconds east of UTC or None, "zone": the zone name show clock printed,
    "synced": the clock's flag, "from": how it was learned (or why not)}."""
    from guestagent.ios import ip_sla_statistics
    before = utc_now()
    try:
        text = common.run(device, "show clock", config, deadline)
    except DeviceError as exc:
        return {"utc_offset_s": None, "zone": None, "synced": None,
                "from": "show clock failed: {}".format(exc)}
    now = (before + utc_now()) / 2.0  # the router read its clock between the two
    line = next((l for l in (text or "").splitlines() if l.strip()), "").strip()
    read = ip_sla_statistics.read_time(line)
    if read["local_ts"] is None:
        return {"utc_offset_s": None, "zone": None, "synced": None,
                "from": "show clock unreadable: {!r}".format(line[:80])}
    offset_s = int(round((read["local_ts"] - now) / OFFSET_STEP_S)) * OFFSET_STEP_S
    out = {"utc_offset_s": offset_s, "zone": read["zone"], "synced": read["synced"],
           "from": "show clock {!r} vs Guest Shell's UTC clock".format(line[:60])}
    if abs(offset_s) > OFFSET_MAX_S:
        out["utc_offset_s"] = None
        out["from"] = ("show clock {!r} is {:+.0f} s from Guest Shell's UTC clock: no time zone is "
                       "that far (router clock not set)".format(line[:60], read["local_ts"] - now))
    return out


def convert_times(operations, clock):
    """Give each operation's start its UTC time (`start_ts`) with the offset used and where it
    came from."""
    from guestagent.ios import ip_sla_statistics
    for op in operations:
        if op.get("start_local_ts") is None:
            continue
        zone = op.get("start_zone")
        if clock["utc_offset_s"] is not None and (zone is None or zone == clock["zone"]):
            op["start_ts"] = op["start_local_ts"] - clock["utc_offset_s"]
            op["start_utc_offset_s"] = clock["utc_offset_s"]
            op["start_utc_offset_from"] = clock["from"]
        elif zone is not None and zone.upper() in ip_sla_statistics.UTC_ZONES:
            op["start_ts"] = op["start_local_ts"]
            op["start_utc_offset_s"] = 0
            op["start_utc_offset_from"] = "zone name {}".format(zone)
        else:
            op["start_ts"] = None
            op["start_utc_offset_s"] = None
            if clock["utc_offset_s"] is None:
                op["start_utc_offset_from"] = "unknown: " + clock["from"]
            else:
                op["start_utc_offset_from"] = "unknown: zone {} is not the router clock's ({})" \
                    .format(zone, clock["zone"])


def _url_host(url):
    """The host of an http operation's URL (its target when IOS prints no target address)."""
    rest = url.split("://", 1)[-1]
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.split(":", 1)[0] or None


def _read(device, command, kind, config, deadline):
    from guestagent import ios
    try:
        return ios.parser(kind)(common.run(device, command, config, deadline))
    except DeviceError:
        return {}


def _labels(op):
    return {"operation": op.get("id"), "type": op.get("type") or "",
            "target": op.get("target") or ""}


def _seconds(ms):
    return None if ms is None else ms / 1000.0


def metrics(data, out):
    operations = data or []
    out.gauge("guestagent_ipsla_operations", "IP SLA operations read from the router.",
              len(operations))
    for op in operations:
        labels = _labels(op)
        if op.get("return_code") is not None:
            out.gauge("guestagent_ipsla_ok",
                      "1 when the operation's latest return code is OK (the code is a label).",
                      1 if op.get("ok") else 0, dict(labels, return_code=op["return_code"]))
        if op.get("ok") and op.get("latest_rtt_ms") is not None:
            out.gauge("guestagent_ipsla_rtt_seconds", "Latest round-trip time of the operation.",
                      _seconds(op["latest_rtt_ms"]), labels)
        for field, name, help in (
                ("successes", "guestagent_ipsla_successes",
                 "Successful runs since the operation started (IOS's count; resets with it)."),
                ("failures", "guestagent_ipsla_failures",
                 "Failed runs since the operation started (IOS's count; resets with it).")):
            if op.get(field) is not None:
                out.gauge(name, help, op[field], labels)
        if op.get("clock_synced") and op.get("start_ts"):
            out.gauge("guestagent_ipsla_last_run_timestamp_seconds",
                      "Start of the latest run, by the router's synchronized clock.",
                      op["start_ts"], labels)
        _jitter_metrics(op, labels, out)
        for phase in ("dns", "tcp_connect", "transaction"):
            value = op.get(phase + "_rtt_ms")
            if value is not None and op.get("ok"):
                out.gauge("guestagent_ipsla_http_rtt_seconds",
                          "HTTP operation time by phase (DNS, TCP connect, transaction).",
                          _seconds(value), dict(labels, phase=phase))
        for track in op.get("tracks") or []:
            if track.get("state") in ("up", "down"):
                out.gauge("guestagent_ipsla_track_up",
                          "1 when the track following the operation is up.",
                          1 if track["state"] == "up" else 0, dict(labels, track=track["id"]))


def _jitter_metrics(op, labels, out):
    if "rtt_avg_ms" in op and op.get("rtt_count"):
        for stat in ("min", "avg", "max"):
            out.gauge("guestagent_ipsla_rtt_stat_seconds",
                      "Round-trip time over the packets of the latest jitter run, by statistic.",
                      _seconds(op.get("rtt_{}_ms".format(stat))), dict(labels, stat=stat))
    for direction in ("sd", "ds"):
        samples = op.get("jitter_{}_samples".format(direction))
        if samples:
            for stat in ("min", "avg", "max"):
                out.gauge("guestagent_ipsla_jitter_seconds",
                          "Inter-packet delay variation of the latest jitter run, by direction "
                          "(sd: source to destination, ds: back), sign and statistic.",
                          _seconds(op.get("jitter_{}_{}_ms".format(direction, stat))),
                          dict(labels, direction=direction, sign="any", stat=stat))
                for sign, short in (("positive", "pos"), ("negative", "neg")):
                    value = op.get("jitter_{}_{}_{}_ms".format(direction, short, stat))
                    out.gauge("guestagent_ipsla_jitter_seconds",
                              "Inter-packet delay variation of the latest jitter run, by "
                              "direction (sd: source to destination, ds: back), sign and "
                              "statistic.", _seconds(value),
                              dict(labels, direction=direction, sign=sign, stat=stat))
        # One-way latency needs synchronized clocks at both ends; without samples IOS prints 0s.
        if op.get("latency_samples"):
            for stat in ("min", "avg", "max"):
                out.gauge("guestagent_ipsla_one_way_latency_seconds",
                          "One-way latency of the latest jitter run, by direction and statistic.",
                          _seconds(op.get("latency_{}_{}_ms".format(direction, stat))),
                          dict(labels, direction=direction, stat=stat))
        lost = op.get("loss_{}".format(direction))
        if lost is not None:
            out.gauge("guestagent_ipsla_packets_lost",
                      "Packets lost in the latest jitter run, by direction.", lost,
                      dict(labels, direction=direction))
    for event in ("out_of_sequence", "tail_drop", "late_arrival", "skipped", "mia"):
        if op.get(event) is not None:
            out.gauge("guestagent_ipsla_packet_events",
                      "Packets of the latest jitter run out of sequence, tail-dropped, late, "
                      "skipped or missing in action.", op[event], dict(labels, event=event))
    # IOS prints MOS 0 / ICPIF 0 when no codec is configured: no voice score then.
    if op.get("mos"):
        out.gauge("guestagent_ipsla_mos",
                  "Mean Opinion Score IOS computed for the operation's codec (1-5).",
                  op["mos"], labels)
        if op.get("icpif") is not None:
            out.gauge("guestagent_ipsla_icpif",
                      "Calculated Planning Impairment Factor IOS computed for the codec.",
                      op["icpif"], labels)
