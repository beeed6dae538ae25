"""Where the router is: a GPS fix from the LTE modem, else the configured static location.

The report's `location` section:
`{"source": "gps"|"nmea"|"static"|"none", "latitude", "longitude", "altitude_m", "fix" ("2D"/"3D" for
GPS, None otherwise), "satellites", "hdop", "timestamp" (the fix's GPS time, ISO UTC), "age_s",
"gps": {"slot", "status", "fix_type", "has_fix", "satellites_in_view", "error"}, "name",
"area"}`; `area` is the coarse geohash cell of the position (`router.location.area_precision`,
with hysteresis against GPS jitter kept in `<state_dir>/area.json`: guestagent/areas.py).
Without a fix there are no coordinates from GPS, never (0, 0): the static location is used when
configured, else `source: none` without latitude/longitude.

NMEA (`lte gps nmea ip udp ...`) is the other way to get a position: `guestagent/ios/nmea.py`
parses GGA/RMC into the same fields (`latitude`, `longitude`, `altitude_m`, `satellites`,
`hdop`, `timestamp_ts`), so a listener can later feed `from_fix()` with `source: gps`.
"""

import time

from guestagent.collectors import common
from guestagent.device import DeviceError


def collect(device, config, deadline):
    data = _locate(device, config, deadline)
    if data.get("latitude") is None or data.get("longitude") is None:
        return data
    # The coarse area (guestagent/areas.py): a label that stays put while the router does.
    from guestagent import areas
    location = common.settings(config).location
    problems = []
    data["area"] = areas.settle(data["latitude"], data["longitude"],
                                location.get("area_precision") or areas.DEFAULT_PRECISION,
                                _margin_m(location), _state_dir(config), problems)
    if problems:
        from guestagent.report import Partial
        raise Partial(data, problems)
    return data


def _margin_m(location):
    margin_m = location.get("area_margin_m")
    if margin_m is None:
        from guestagent import areas
        return areas.DEFAULT_MARGIN_M
    return margin_m


def _state_dir(config):
    try:
        return config.agent.state_dir
    except (AttributeError, KeyError):
        return None


def _locate(device, config, deadline):
    router = common.settings(config)
    gps_settings = router.gps
    gps = None
    nmea = None
    if gps_settings.enabled and gps_settings.get("nmea_udp_port"):
        nmea = from_nmea(gps_settings, deadline)
        if nmea.get("latitude") is not None:
            _name(nmea, router)
            return nmea
    if gps_settings.enabled and device is not None:
        gps = {"slot": gps_settings.slot}
        command = "show cellular {} gps".format(gps_settings.slot)
        try:
            from guestagent import ios
            parsed = ios.parser("show-cellular-gps")(common.run(device, command, config,
                                                                deadline))
        except DeviceError as exc:
            parsed = None
            # A router without the LTE module (or without GNSS) just has no GPS: say so in the
            # section, but it is not a cycle error.
            gps["error"] = "absent" if common.feature_absent(exc) else str(exc)
        if parsed is not None:
            gps.update({"status": parsed.get("status"), "fix_type": parsed.get("fix_type"),
                        "has_fix": bool(parsed.get("has_fix")),
                        "satellites_in_view": len(parsed.get("satellites") or [])
                        or parsed.get("satellites_in_view")})
            if parsed.get("has_fix"):
                data = from_fix(parsed, gps_settings.max_age_s)
                if data is not None:
                    data["gps"] = gps
                    _name(data, router)
                    return data
                gps["has_fix"] = False
                gps["stale"] = True
    data = static(router.location)
    if gps is not None:
        data["gps"] = gps
    if nmea is not None:
        data["nmea"] = nmea["nmea"]
    _name(data, router)
    return data


def from_nmea(gps_settings, deadline):
    """A location from the NMEA stream (`source: nmea`), or `{"nmea": {why not}}`."""
    from guestagent.collectors import nmea_listener
    port = gps_settings.nmea_udp_port
    state = {"port": port}
    try:
        fix = nmea_listener.listen(port, gps_settings.nmea_bind, gps_settings.nmea_listen_s,
                                   deadline)
    except OSError as exc:
        state["error"] = "cannot listen on UDP {}: {}".format(port, exc)
        return {"nmea": state}
    if fix is None:
        state["error"] = "no NMEA sentence within {:g} s".format(gps_settings.nmea_listen_s)
        return {"nmea": state}
    state.update({"sentences": fix.get("sentences"), "bad_checksums": fix.get("bad_checksums"),
                  "has_fix": bool(fix.get("has_fix")), "complete": nmea_listener.complete(fix)})
    if not fix.get("has_fix"):
        return {"nmea": state}
    data = from_fix(fix, gps_settings.max_age_s)
    if data is None:
        state["stale"] = True
        return {"nmea": state}
    data["source"] = "nmea"
    # GGA gives an altitude only from a 3D solution (GSA, which says it outright, is not read);
    # an RMC without its GGA says nothing of the solution's dimensions.
    if state["complete"]:
        data["fix"] = "3D" if fix.get("altitude_m") is not None else "2D"
    else:
        data["fix"] = None
    data["nmea"] = state
    return data


def _name(data, router):
    if router.location.get("name"):
        data["name"] = router.location.name


def from_fix(fix, max_age_s=None, now=None):
    """Location fields from a parsed GPS (or NMEA) fix; None when the fix is too old."""
    now = time.time() if now is None else now
    stamp = fix.get("timestamp_ts")
    age_s = None
    if stamp is not None:
        age_s = max(0.0, round(now - stamp, 3))
        if max_age_s is not None and age_s > max_age_s:
            return None
    satellites = fix.get("satellites")
    if isinstance(satellites, list):
        satellites = len(satellites)
    fix_type = fix.get("fix_type") or fix.get("fix")
    return {
        "source": "gps",
        "latitude": fix["latitude"],
        "longitude": fix["longitude"],
        "altitude_m": fix.get("height_m", fix.get("altitude_m")),
        "fix": fix_type,
        "satellites": satellites if satellites is not None else fix.get("satellites_in_view"),
        "hdop": fix.get("hdop"),
        "timestamp": (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
                      if stamp is not None else None),
        "age_s": age_s,
    }


def static(location):
    if location.latitude is not None and location.longitude is not None:
        return {"source": "static", "latitude": location.latitude,
                "longitude": location.longitude, "altitude_m": location.altitude_m,
                "fix": None, "satellites": None, "hdop": None, "timestamp": None, "age_s": None}
    return {"source": "none"}


def _fix_dimensions(fix):
    text = (fix or "").upper()
    if "3D" in text:
        return 3
    if "2D" in text:
        return 2
    return 0


def metrics(data, out):
    if not data:
        return
    source = data.get("source") or "none"
    labels = {"source": source}
    known = data.get("latitude") is not None and data.get("longitude") is not None
    out.gauge("guestagent_location_known",
              "1 when the router's location is known (GPS fix or configured).",
              1 if known else 0, labels)
    if known:
        out.gauge("guestagent_location_latitude_degrees", "Latitude, decimal degrees (N > 0).",
                  data["latitude"], labels)
        out.gauge("guestagent_location_longitude_degrees", "Longitude, decimal degrees (E > 0).",
                  data["longitude"], labels)
        out.gauge("guestagent_location_altitude_meters", "Altitude above sea level.",
                  data.get("altitude_m"), labels)
        # No coordinates as labels: a moving router would add a series every cycle.
        info = {"source": source, "area": data.get("area") or "", "fix": data.get("fix") or "",
                "site": data.get("name") or ""}
        out.info("guestagent_location_info", "The router's location as labels.", info)
    if source in ("gps", "nmea"):
        out.gauge("guestagent_location_age_seconds", "Age of the GPS fix by its GPS time.",
                  data.get("age_s"), labels)
    gps = data.get("gps")
    if gps is not None and not gps.get("error"):
        gps_labels = {"slot": gps.get("slot") or ""}
        out.gauge("guestagent_gps_fix_dimensions",
                  "Dimensions of the modem's GPS fix: 0 no fix, 2 or 3.",
                  _fix_dimensions(data.get("fix") if source == "gps" else None)
                  if gps.get("has_fix") else 0, gps_labels)
        satellites = data.get("satellites") if source == "gps" else gps.get("satellites_in_view")
        if satellites is not None:
            out.gauge("guestagent_gps_satellites", "Satellites the modem lists.", satellites,
                      gps_labels)
        if source == "gps" and data.get("hdop") is not None:
            out.gauge("guestagent_gps_hdop", "Horizontal dilution of precision of the fix.",
                      data["hdop"], gps_labels)
