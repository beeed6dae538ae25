"""QoE by area: the coarse place a router measured from, and the areas with regular problems.

An area is a geohash (https://en.wikipedia.org/wiki/Geohash) of `router.location.area_precision`
characters (default 5: a cell of about 4.9 km x 4.9 km at the equator, narrower in longitude
towards the poles). It is the `area` label of `guestagent_location_info` and the report's
`location.area`, so a moving router (bus, train, truck) adds a series per area it enters, not one
per fix.

Hysteresis (`sticky_area`): GPS jitter of a router parked near a cell edge must not flip the
area every cycle. The previous area is kept in `<state_dir>/area.json`; a fix in another cell
replaces it only once it lies more than `router.location.area_margin_m` (default 250 m) outside
the previous cell, i.e. that far inside the new one across the shared edge. A change of precision,
or a missing or unreadable state file, starts from the fix's own cell.

Worst areas (`worst_areas`, `report_rows`, `python -m guestagent.areas`), over the journals of a
fleet (`--journal DIR`, repeatable) or a VictoriaMetrics holding what the import sink sent
(`--victoriametrics URL`). Per area, over every probe sample taken there:
- `samples`: probe samples (skipped probes are not samples);
- `availability`: samples whose test point answered over samples the agent could take (a sample
  with a measurement error is not counted, as in `guestagent_probe_success` /
  `guestagent_probe_measurement_error`);
- `loss_ratio`: ICMP requests lost over requests sent;
- `median_rtt_ms`: median of the samples' median RTTs;
- `routers`: distinct routers (instances) that measured there.
Worst first: lowest availability, then highest loss, then highest median RTT.
"""

import math
import os
import sys

from guestagent import jsontext
from guestagent.quality import median as _median

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
DEFAULT_PRECISION = 5
DEFAULT_MARGIN_M = 250.0
STATE_FILE = "area.json"
_METRES_PER_DEGREE = 111320.0  # one degree of latitude (and of longitude at the equator)


def encode(latitude, longitude, precision=DEFAULT_PRECISION):
    """The geohash of a point, `precision` characters long."""
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    chars, bits, value, even = [], 0, 0, True
    while len(chars) < precision:
        interval, coordinate = (lon_range, longitude) if even else (lat_range, latitude)
        middle = (interval[0] + interval[1]) / 2
        value <<= 1
        if coordinate >= middle:
            value |= 1
            interval[0] = middle
        else:
            interval[1] = middle
        even = not even
        bits += 1
        if bits == 5:
            chars.append(BASE32[value])
            bits, value = 0, 0
    return "".join(chars)


def bounds(geohash):
    """(south, west, north, east) of a geohash cell; ValueError for a character not in base32."""
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    even = True
    for char in geohash:
        index = BASE32.index(char)
        for shift in range(4, -1, -1):
            interval = lon_range if even else lat_range
            middle = (interval[0] + interval[1]) / 2
            if (index >> shift) & 1:
                interval[0] = middle
            else:
                interval[1] = middle
            even = not even
    return lat_range[0], lon_range[0], lat_range[1], lon_range[1]


def cell_size_m(precision, latitude=0.0):
    """(height, width) of a cell in metres at a latitude."""
    lon_bits = (5 * precision + 1) // 2
    lat_bits = 5 * precision // 2
    height = 180.0 / 2 ** lat_bits * _METRES_PER_DEGREE
    width = 360.0 / 2 ** lon_bits * _METRES_PER_DEGREE * math.cos(math.radians(latitude))
    return height, width


def distance_outside_m(latitude, longitude, geohash):
    """How far a point lies outside a cell, in metres (0 inside); local flat approximation."""
    south, west, north, east = bounds(geohash)
    dlat = max(0.0, south - latitude, latitude - north)
    dlon = max(0.0, west - longitude, longitude - east)
    dlon = min(dlon, 360.0 - dlon) if dlon else 0.0  # across the antimeridian
    return math.hypot(dlat * _METRES_PER_DEGREE,
                      dlon * _METRES_PER_DEGREE * math.cos(math.radians(latitude)))


def _valid(geohash, precision):
    return (isinstance(geohash, str) and len(geohash) == precision
            and all(char in BASE32 for char in geohash))


def sticky_area(latitude, longitude, precision, previous, margin_m=DEFAULT_MARGIN_M):
    """The area to report: `previous` while the fix is within `margin_m` of its cell, else the
    fix's own cell."""
    current = encode(latitude, longitude, precision)
    if current == previous or not _valid(previous, precision):
        return current
    if distance_outside_m(latitude, longitude, previous) <= margin_m:
        return previous
    return current


def settle(latitude, longitude, precision, margin_m, state_dir, problems):
    """`sticky_area` against `<state_dir>/area.json`, which it updates; problems appended."""
    if not state_dir or not os.path.isdir(state_dir):
        # Outside a cycle (which makes the state directory first) there is nothing to remember.
        return encode(latitude, longitude, precision)
    from guestagent.statefile import read_json, write_json
    path = os.path.join(state_dir, STATE_FILE)
    saved = read_json(path, problems=problems)
    previous = saved.get("area") if isinstance(saved, dict) else None
    area = sticky_area(latitude, longitude, precision, previous, margin_m)
    if area != previous:
        try:
            write_json(path, {"area": area, "precision": precision})
        except (IOError, OSError) as exc:
            problems.append("{} not written: {}".format(path, exc.strerror or exc))
    return area


# -- worst areas -------------------------------------------------------------------------------

def samples_of(report):
    """(area, router, sample) for each probe sample of a journaled report with an area."""
    area = (report.get("location") or {}).get("area")
    if not area:
        return []
    agent = report.get("agent") or {}
    router = agent.get("instance") or agent.get("hostname") or ""
    out = []
    for sample in report.get("probes") or []:
        if not isinstance(sample, dict) or sample.get("skipped"):
            continue
        out.append((area, router, {
            "error": bool(sample.get("error")),
            "success": bool(not sample.get("error") and sample.get("reachable")),
            "sent": sample.get("sent"), "received": sample.get("received"),
            "rtt_median_ms": (sample.get("rtt_ms") or {}).get("median")
            if isinstance(sample.get("rtt_ms"), dict) else None}))
    return out


def rows_from_samples(triples):
    """Per-area rows, worst first, from (area, router, sample) triples."""
    acc = {}
    for area, router, sample in triples:
        entry = acc.setdefault(area, {"samples": 0, "taken": 0, "answered": 0, "sent": 0,
                                      "lost": 0, "rtts": [], "routers": set()})
        entry["samples"] += 1
        entry["routers"].add(router)
        if not sample.get("error"):
            entry["taken"] += 1
            entry["answered"] += 1 if sample.get("success") else 0
        sent, received = sample.get("sent"), sample.get("received")
        if isinstance(sent, int) and isinstance(received, int) and sent > 0:
            entry["sent"] += sent
            entry["lost"] += max(0, sent - received)
        if sample.get("rtt_median_ms") is not None:
            entry["rtts"].append(sample["rtt_median_ms"])
    rows = []
    for area, entry in acc.items():
        median = _median(entry["rtts"])
        rows.append({
            "area": area, "samples": entry["samples"],
            "availability": (round(entry["answered"] / float(entry["taken"]), 6)
                             if entry["taken"] else None),
            "loss_ratio": round(entry["lost"] / float(entry["sent"]), 6) if entry["sent"] else None,
            "median_rtt_ms": round(median, 3) if median is not None else None,
            "routers": len(entry["routers"]),
        })
    rows.sort(key=_worst_first)
    return rows


def _worst_first(row):
    availability = row["availability"] if row["availability"] is not None else 1.0
    loss = row["loss_ratio"] or 0.0
    rtt = row["median_rtt_ms"] or 0.0
    return (availability, -loss, -rtt, row["area"])


def worst_areas(reports):
    """Rows (area, samples, availability, loss_ratio, median_rtt_ms, routers), worst first, over
    journaled reports of any number of routers."""
    triples = []
    for report in reports:
        triples.extend(samples_of(report))
    return rows_from_samples(triples)


def journal_reports(directories, skipped=None):
    from guestagent.sinks import journal
    for directory in directories:
        for report in journal.read(directory, skipped):
            yield report


# -- VictoriaMetrics ---------------------------------------------------------------------------

_EXPORTED = ("guestagent_location_info", "guestagent_probe_success",
             "guestagent_probe_measurement_error", "guestagent_icmp_packets_sent",
             "guestagent_icmp_packets_received", "guestagent_icmp_rtt_seconds")


def victoriametrics_samples(url, timeout_s=30.0):
    """(area, router, sample) triples from /api/v1/export of what the import sink sent: every
    series of a cycle carries the cycle's own timestamp, so a probe's series are joined to the
    location info by (job, instance, timestamp)."""
    from urllib.parse import urlencode
    from urllib.request import urlopen
    match = '{{__name__=~"{}"}}'.format("|".join(_EXPORTED))
    query = urlencode([("match[]", match)])
    with urlopen(url.rstrip("/") + "/api/v1/export?" + query, timeout=timeout_s) as response:
        body = response.read().decode("utf-8", "replace")
    areas, probes = {}, {}
    for line in body.splitlines():
        try:
            series = jsontext.loads(line)
        except ValueError:
            continue
        labels = series.get("metric") or {}
        name = labels.get("__name__")
        router = (labels.get("job", ""), labels.get("instance", ""))
        for stamp, value in zip(series.get("timestamps") or [], series.get("values") or []):
            if name == "guestagent_location_info":
                if labels.get("area"):
                    areas[router + (stamp,)] = labels["area"]
                continue
            if name == "guestagent_icmp_rtt_seconds" and labels.get("stat") != "median":
                continue
            key = router + (stamp, labels.get("target", ""), labels.get("kind", ""),
                            labels.get("via", ""))
            probes.setdefault(key, {})[name] = value
    triples = []
    for key in sorted(probes):
        area = areas.get(key[:3])
        values = probes[key]
        if area is None or "guestagent_probe_success" not in values:
            continue
        sent = values.get("guestagent_icmp_packets_sent")
        received = values.get("guestagent_icmp_packets_received")
        rtt = values.get("guestagent_icmp_rtt_seconds")
        triples.append((area, key[1], {
            "error": bool(values.get("guestagent_probe_measurement_error")),
            "success": bool(values["guestagent_probe_success"]),
            "sent": int(sent) if sent is not None else None,
            "received": int(received) if received is not None else None,
            "rtt_median_ms": rtt * 1000.0 if rtt is not None else None}))
    return triples


# -- output ------------------------------------------------------------------------------------

def _figure(value, pattern):
    return "-" if value is None else pattern.format(value)


def table(rows):
    lines = ["{:<10} {:>8} {:>12} {:>8} {:>12} {:>8}".format(
        "area", "samples", "availability", "loss", "median_rtt", "routers")]
    for row in rows:
        lines.append("{:<10} {:>8} {:>12} {:>8} {:>12} {:>8}".format(
            row["area"], row["samples"],
            _figure(row["availability"] * 100 if row["availability"] is not None else None,
                    "{:.2f}%"),
            _figure(row["loss_ratio"] * 100 if row["loss_ratio"] is not None else None,
                    "{:.1f}%"),
            _figure(row["median_rtt_ms"], "{:.1f} ms"), row["routers"]))
    return "\n".join(lines)


def report_rows(args, stdout=None, stderr=None):
    """Print the worst areas (args: .journal list, .victoriametrics, .format table|json, .top);
    the exit code: 0, 1 when a source could not be read, 2 when no source is given."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    journals = list(getattr(args, "journal", None) or [])
    url = getattr(args, "victoriametrics", None)
    if not journals and not url:
        stderr.write("give --journal DIR (repeatable) or --victoriametrics URL\n")
        return 2
    triples, errors = [], []
    for directory in journals:
        if not os.path.isdir(directory):
            errors.append("{}: no such journal directory".format(directory))
            continue
        skipped = []
        for report in journal_reports([directory], skipped):
            triples.extend(samples_of(report))
        if skipped:
            errors.append("{}: {} lines that are not reports skipped".format(
                directory, len(skipped)))
    if url:
        try:
            triples.extend(victoriametrics_samples(url))
        except (OSError, ValueError) as exc:
            errors.append("{}: {}".format(url, exc))
    rows = rows_from_samples(triples)
    top = getattr(args, "top", None)
    if top:
        rows = rows[:top]
    if getattr(args, "format", "table") == "json":
        stdout.write(jsontext.dumps({"areas": rows, "errors": errors}, indent=2, sort_keys=True) +
                     "\n")
    else:
        stdout.write(table(rows) + "\n")
        for error in errors:
            stderr.write(error + "\n")
    failed = any(not e.endswith("skipped") for e in errors)
    return 1 if failed else 0


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m guestagent.areas",
                                     description="the worst areas by QoE, over a fleet's "
                                                 "journals or a VictoriaMetrics")
    parser.add_argument("--journal", action="append", metavar="DIR",
                        help="a router's journal directory (repeatable)")
    parser.add_argument("--victoriametrics", metavar="URL")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--top", type=int, default=None, help="only the N worst areas")
    return report_rows(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
