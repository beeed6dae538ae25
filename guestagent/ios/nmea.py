"""NMEA 0183 GGA and RMC sentences, as the LTE modem streams them with
`lte gps nmea ip udp <src> <dst> <port>` (one datagram a second) or on `/dev/ttyNMEA0`.

`parse_sentence(line)` reads one sentence (any talker: GP, GN, GL, GA...) and checks its checksum
when present; `parse(text)` reads many and keeps the latest fix. Latitude `ddmm.mmmm` and
longitude `dddmm.mmmm` become signed decimal degrees (S and W negative).

Result of `parse`: `recognized`, `sentences` (count read), `bad_checksums`, `has_fix`, and with a
fix `latitude`, `longitude`, `altitude_m` (GGA), `fix` (`2D`/`3D` is not in GGA: GGA quality
`gps`, `dgps`, `rtk`...; RMC `A` valid), `quality` (GGA fix quality number), `satellites` (in use,
GGA), `hdop`, `time` (`hh:mm:ss` UTC), `date` (`YYYY-MM-DD`, RMC), `timestamp_ts` (when both
date and time are known), `speed_knots`, `course_deg`.
"""

import math

from guestagent import rx
from guestagent.ios.common import timegm

COMMAND = "NMEA 0183 GGA/RMC sentences (lte gps nmea ip udp)"

SCHEMA = {
    "recognized": bool, "sentences": int, "bad_checksums": int, "has_fix": bool,
    "latitude": float, "longitude": float, "altitude_m": float, "fix": str, "quality": int,
    "satellites": int, "hdop": float, "time": str, "date": str, "timestamp_ts": int,
    "speed_knots": float, "course_deg": float,
}

_QUALITY = {0: "invalid", 1: "gps", 2: "dgps", 3: "pps", 4: "rtk", 5: "float-rtk",
            6: "estimated", 7: "manual", 8: "simulation"}
_SENTENCE = rx.compile(r"\$([A-Z]{2})(GGA|RMC),([^*$\r\n]*)(?:\*([0-9A-Fa-f]{2}))?")


def checksum(body):
    """XOR of the characters between `$` and `*`, as two upper-case hex digits."""
    value = 0
    for char in body:
        value ^= ord(char)
    return "{:02X}".format(value)


def coordinate(value, hemisphere):
    """`4807.038`, `N` -> 48.1173; `01131.000`, `W` -> -11.5166...; None when empty or odd."""
    value = (value or "").strip()
    hemisphere = (hemisphere or "").strip().upper()
    match = rx.match(r"^(\d{2,3})(\d{2}(?:\.\d+)?)$", value)
    if not match or hemisphere not in ("N", "S", "E", "W"):
        return None
    degrees = int(match.group(1)) + float(match.group(2)) / 60.0
    if hemisphere in ("S", "W"):
        degrees = -degrees
    limit = 90 if hemisphere in ("N", "S") else 180
    if abs(degrees) > limit:
        return None
    return round(degrees, 7)


def _float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _small_int(text):
    """A field of a few digits as an int, else None (`'²'.isdigit()` holds; int() of it fails)."""
    return int(text) if rx.match(r"^[0-9]{1,9}$", text or "") else None


def _time(text):
    match = rx.match(r"^(\d{2})(\d{2})(\d{2})", text or "")
    if not match:
        return None
    return "{}:{}:{}".format(*match.groups())


def parse_sentence(line):
    """One sentence -> dict (with `type` GGA/RMC and `checksum_ok`), or None if not GGA/RMC."""
    match = _SENTENCE.search(line or "")
    if not match:
        return None
    talker, kind, body, given = match.groups()
    out = {"type": kind, "talker": talker, "checksum_ok": True}
    if given is not None:
        out["checksum_ok"] = checksum(talker + kind + "," + body) == given.upper()
    fields = body.split(",")
    fields += [""] * (14 - len(fields))
    if kind == "GGA":
        out["time"] = _time(fields[0])
        out["latitude"] = coordinate(fields[1], fields[2])
        out["longitude"] = coordinate(fields[3], fields[4])
        quality = _small_int(fields[5]) or 0
        out["quality"] = quality
        out["fix"] = _QUALITY.get(quality, str(quality))
        out["satellites"] = _small_int(fields[6])
        out["hdop"] = _float(fields[7])
        out["altitude_m"] = _float(fields[8]) if fields[9].upper() in ("M", "") else None
        out["valid"] = quality > 0 and out["latitude"] is not None and out["longitude"] is not None
    else:
        out["time"] = _time(fields[0])
        out["valid"] = fields[1].upper() == "A"
        out["latitude"] = coordinate(fields[2], fields[3])
        out["longitude"] = coordinate(fields[4], fields[5])
        out["speed_knots"] = _float(fields[6])
        out["course_deg"] = _float(fields[7])
        date = rx.match(r"^(\d{2})(\d{2})(\d{2})$", fields[8])
        if date:
            day, month, year = (int(g) for g in date.groups())
            out["date"] = "{:04d}-{:02d}-{:02d}".format(2000 + year if year < 80 else 1900 + year,
                                                        month, day)
        out["valid"] = (out["valid"] and out["latitude"] is not None
                        and out["longitude"] is not None)
    return out


def parse(text):
    result = {"recognized": False, "sentences": 0, "bad_checksums": 0, "has_fix": False}
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not isinstance(text, str):
        return result
    # Sentences may share a line or a datagram: find each `$..GGA`/`$..RMC` wherever it starts.
    for match in _SENTENCE.finditer(text):
        sentence = parse_sentence(match.group(0))
        result["recognized"] = True
        result["sentences"] += 1
        if not sentence["checksum_ok"]:
            result["bad_checksums"] += 1
            continue
        if sentence.get("time"):
            result["time"] = sentence["time"]
        if sentence.get("date"):
            result["date"] = sentence["date"]
        if not sentence["valid"]:
            continue
        result["has_fix"] = True
        for key in ("latitude", "longitude", "altitude_m", "fix", "quality", "satellites",
                    "hdop", "speed_knots", "course_deg"):
            if sentence.get(key) is not None:
                if key == "fix" and sentence["type"] == "RMC":
                    continue
                result[key] = sentence[key]
        if sentence["type"] == "RMC" and "fix" not in result:
            result["fix"] = "valid"
    if result.get("date") and result.get("time"):
        try:
            y, mo, d = (int(p) for p in result["date"].split("-"))
            h, mi, s = (int(p) for p in result["time"].split(":"))
            result["timestamp_ts"] = timegm((y, mo, d, h, mi, s, 0, 0, 0))
        except (ValueError, OverflowError):
            pass
    return result
