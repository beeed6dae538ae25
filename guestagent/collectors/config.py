"""The `router:` section: what the collectors read from the router and the static location.

```yaml
router:
  ipsla: {enabled: true, details: false, operations: [10, 20]}
  cellular: {enabled: true, slots: ["0/1/0"]}
  gps: {enabled: true, slot: "0/1/0"}
  interfaces: {enabled: true, names: [Cellular0/1/0, GigabitEthernet0/0/0]}
  location: {latitude: 44.3957, longitude: 8.9367, altitude_m: 57}   # fixed sites
  # location: {area_precision: 5, area_margin_m: 250}   # the `area` label (guestagent/areas.py)
```
"""

from guestagent import iostokens
from guestagent.schema import LABEL, Bool, Int, ListOf, Num, Section, Str

# Values of this section go into IOS commands (`show cellular <slot> ...`): IOS's own syntax.
_SLOT = (iostokens.is_slot, "a cellular slot like 0/1/0")
_INTERFACE = (iostokens.is_interface, "an IOS interface name like GigabitEthernet0/0/0, "
              "Cellular0/1/0 or Vlan1")
_ADDRESS = (lambda text: iostokens.ip_version(text) is not None, "an IP address")

SCHEMA = Section({
    "ipsla": Section({
        "enabled": Bool(True, "read `show ip sla statistics` every cycle"),
        "details": Bool(False, "read `show ip sla statistics details` (positive/negative "
                               "jitter, entry state); falls back to the plain command"),
        "configuration": Bool(True, "read `show ip sla configuration` for each operation's "
                                    "type, target, VRF, tag and codec"),
        "tracks": Bool(True, "read `show track` for the tracks that follow an operation"),
        "operations": ListOf(Int(None, minimum=1, maximum=2147483647), None,
                             "only these operation ids; "
                             "default: all", single_ok=True),
    }, default={}),
    "cellular": Section({
        "enabled": Bool(True, "read radio quality and modem state of each slot"),
        "slots": ListOf(Str(valid=_SLOT), ["0/1/0"],
                        "cellular slots (IR1101: 0/1/0, a second module 0/3/0)",
                        single_ok=True),
    }, default={}),
    "gps": Section({
        "enabled": Bool(True, "read `show cellular <slot> gps`"),
        "slot": Str("0/1/0", "the cellular slot whose modem has the GNSS receiver",
                    valid=_SLOT),
        "max_age_s": Num(None, "a fix older than this (by its GPS timestamp) is not used; "
                               "default: no limit", above=0, maximum=366 * 86400),
        "nmea_udp_port": Int(None, "listen for the modem's NMEA stream on this UDP port "
                             "(`lte gps nmea ip udp ...`); tried before the show command",
                             minimum=1, maximum=65535),
        "nmea_bind": Str("0.0.0.0", "address the NMEA listener binds", valid=_ADDRESS),
        "nmea_listen_s": Num(3.0, "how long a cycle waits for a fix on the NMEA stream",
                             above=0, maximum=30),
    }, default={}),
    "interfaces": Section({
        "enabled": Bool(True, "read `show interfaces` for utilization (in/out bits over bandwidth)"),
        "names": ListOf(Str(valid=_INTERFACE), None, "only these interfaces (e.g. Cellular0/1/0, "
                        "GigabitEthernet0/0/0); default: every interface that is up",
                        single_ok=True),
    }, default={}),
    "location": Section({
        "latitude": Num(None, "static latitude, decimal degrees (fixed sites, or no fix)",
                        minimum=-90, maximum=90),
        "longitude": Num(None, "static longitude, decimal degrees", minimum=-180, maximum=180),
        "altitude_m": Num(None, "static altitude above sea level, metres", minimum=-1000,
                          maximum=20000),
        "name": Str(None, "site name, a label on the location info metric", valid=LABEL),
        "area_precision": Int(5, "geohash characters of the `area` label (QoE by area): 5 is "
                                 "about 4.9 km x 4.9 km, each more is ~6x smaller",
                              minimum=1, maximum=9),
        "area_margin_m": Num(250.0, "a fix must lie this far outside the previous area's cell "
                                    "before the area changes (GPS jitter at a cell edge)",
                             minimum=0, maximum=100000),
    }, default={}),
}, default={})
