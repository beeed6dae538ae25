"""`show cellular <slot> gps` (also `... gps detail`): the modem's GNSS state and position.

With a fix IOS prints `GPS Status = GPS coordinates acquired`, `Latitude = 44 Deg 23 Min 44.3874
Sec North`, `Fix type = 2D|3D, Height = 120m` and sometimes `HDOP = ...`; older IOS (IR829) writes
`Key: value`. Degrees/minutes/seconds and the hemisphere become signed decimal degrees (South and
West negative).

Without a fix (`GPS acquiring`, `NMEA Disabled`, `not configured`, `0 Deg 0 Min 0 Sec`, the GPS
epoch timestamp of 1980, `Fix type = No fix`) the result has `has_fix: False` and NO `latitude`/
`longitude` keys: a router without a fix is nowhere, never at (0, 0).

Keys: `feature`, `mode`, `constellation`, `port`, `status`, `last_fix_error`, `has_fix`,
`latitude`, `longitude` (decimal degrees), `latitude_text`, `longitude_text`, `timestamp` (text),
`timestamp_ts` (unix seconds, GMT), `fix_type` (`2D`, `3D`, `No fix`...), `height_m`, `hdop`,
`satellites_in_view`, `satellites` ([{`prn`, `elevation_deg`, `azimuth_deg`, `snr_db`}]).
"""

from guestagent import rx
from guestagent.ios import common

COMMAND = "show cellular {slot} gps"

SCHEMA = {
    "recognized": bool,
    "feature": str, "mode": str, "constellation": str, "port": str, "status": str,
    "last_fix_error": str, "has_fix": bool, "latitude": float, "longitude": float,
    "latitude_text": str, "longitude_text": str, "timestamp": str, "timestamp_ts": (int, None),
    "fix_type": str, "height_m": (int, float), "hdop": (int, float), "satellites_in_view": int,
    "satellites": [{"prn": int, "elevation_deg": (int, float), "azimuth_deg": (int, float),
                    "snr_db": (int, float)}],
}

_NO_FIX_STATUS = ("acquiring", "disabled", "not configured", "no fix", "off", "not available",
                  "unavailable", "disable")
_SATELLITE = rx.compile(r"Satellite\s*#\s*(\d+)\s*,\s*elevation\s*(-?[\d.]+)\s*,\s*"
                        r"azimuth\s*(-?[\d.]+)\s*,\s*SNR\s*(-?[\d.]+)", common.IGNORECASE)
# The degrees start where a number starts (the lookbehind: not at every digit of a long run), and
# each optional part begins with its own blanks, so no two `\s*` compete for the same run.
_DMS = rx.compile(r"(?<![\d.])(-?\d+(?:\.\d+)?)\s*Deg(?:rees?)?"
                  r"(?:\s*(\d+(?:\.\d+)?)\s*Min(?:utes?)?)?"
                  r"(?:\s*(\d+(?:\.\d+)?)\s*Sec(?:onds?)?)?"
                  r"(?:\s*(North|South|East|West|[NSEW])\b)?", common.IGNORECASE)
# GPS epoch: a modem without a fix reports its time as 1980-01-06.
_GPS_EPOCH_YEAR = 1980

_KEYS = {
    "gps feature": "feature",
    "gps mode configured": "mode",
    "gps mode": "mode",
    "current constellation configured": "constellation",
    "gps port selected": "port",
    "gps status": "status",
    "last location fix error": "last_fix_error",
    "latitude": "latitude_text",
    "longitude": "longitude_text",
    "timestamp (gmt)": "timestamp",
    "timestamp": "timestamp",
    "fix type": "fix_type",
    "height": "height_text",
    "altitude": "height_text",
    "hdop": "hdop_text",
    "satellites in view": "satellites_text",
    "number of satellites": "satellites_text",
}


def degrees(text):
    """`44 Deg 23 Min 44.3874 Sec North` -> 44.395663...; South/West negative; None if unread."""
    match = _DMS.search(text or "")
    if not match:
        return None
    parts = [common.number(match.group(i) or "0") for i in (1, 2, 3)]
    if None in parts:
        return None
    value = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0
    hemisphere = (match.group(4) or "").upper()[:1]
    if hemisphere in ("S", "W"):
        value = -value
    return value


def parse(text):
    result = {"recognized": False, "has_fix": False, "satellites": []}
    body = []
    for raw in common.lines(text):
        sat = _SATELLITE.search(raw)
        if sat and common.integer(sat.group(1)) is not None:
            result["satellites"].append({
                "prn": common.integer(sat.group(1)), "elevation_deg": common.number(sat.group(2)),
                "azimuth_deg": common.number(sat.group(3)), "snr_db": common.number(sat.group(4))})
            result["recognized"] = True
            continue
        body.append(raw)
    for key, value in common.key_values("\n".join(body)):
        name = _KEYS.get(common.norm_key(key))
        if name:
            result[name] = value
            result["recognized"] = True
    if result.get("height_text") is not None:
        result["height_m"] = common.leading_number(result.pop("height_text"))
        if result["height_m"] is None:
            del result["height_m"]
    if result.get("hdop_text") is not None:
        hdop = common.leading_number(result.pop("hdop_text"))
        if hdop is not None:
            result["hdop"] = hdop
    if result.get("satellites_text") is not None:
        count = common.as_int(common.leading_number(result.pop("satellites_text")))
        if count is not None:
            result["satellites_in_view"] = count
    if result.get("timestamp"):
        result["timestamp_ts"] = common.ios_time(result["timestamp"])
    result["has_fix"] = _has_fix(result)
    if result["has_fix"]:
        result["latitude"] = round(degrees(result["latitude_text"]), 7)
        result["longitude"] = round(degrees(result["longitude_text"]), 7)
    return result


def _has_fix(result):
    status = (result.get("status") or "").lower()
    if any(word in status for word in _NO_FIX_STATUS):
        return False
    fix_type = (result.get("fix_type") or "").lower()
    if fix_type and ("no" in fix_type or not rx.search(r"[23]\s*d", fix_type)):
        return False
    latitude = degrees(result.get("latitude_text"))
    longitude = degrees(result.get("longitude_text"))
    if latitude is None or longitude is None:
        return False
    if latitude == 0 and longitude == 0:
        return False
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return False
    stamp = result.get("timestamp") or ""
    if rx.search(r"\b{}\b".format(_GPS_EPOCH_YEAR), stamp):
        return False
    return True
