"""The top-level `sla:` config section: thresholds of docs/metrics.md, with per-test-point and
per-group overrides.

    sla:
      loss_max: 0.2
      rtt_max_ms: 500
      targets:
        isp-edge-1: {rtt_max_ms: 150, outage_min_s: 600}
      groups:
        uplinks: {members: [isp-edge-1, isp-edge-2], mode: any}
"""

from guestagent.schema import Field, Int, ListOf, Namespace, Num, Section, Str, join

# Upper bounds: a minute of delay, a year of time.
_MAX_MS = 60000
_MAX_S = 366 * 86400

# The store is written every COMMIT_EVERY journaled reports (docs/sla.md, "Flash"), and kept
# under MAX_BYTES (a quarter of 5-minute samples of 10 test points is 6 MiB in day rows).
COMMIT_EVERY = 32
MAX_BYTES = 64 * 1048576

# Keys a test point may override; the defaults live in SCHEMA below.
THRESHOLD_KEYS = ("loss_max", "rtt_max_ms", "outage_min_s", "restore_min_s",
                  "baseline_window_days", "baseline_min_samples", "baseline_refresh_s",
                  "threshold_t",
                  "spread_floor_abs_ms", "spread_floor_abs_ratio", "spread_floor_rel")


def _thresholds(optional):
    """The threshold fields; `optional`: every default None (an override that may be absent)."""
    def d(value):
        return None if optional else value
    return {
        "loss_max": Num(d(0.2), "a sample is available when loss_ratio <= this", minimum=0,
                        maximum=1),
        "rtt_max_ms": Num(d(500), "... and its median delay <= this (ms)", above=0,
                          maximum=_MAX_MS),
        "outage_min_s": Num(d(0), "an unavailable run must last this long to be an outage",
                            minimum=0, maximum=_MAX_S),
        "restore_min_s": Num(d(0), "an available run must last this long to end an outage",
                             minimum=0, maximum=_MAX_S),
        "baseline_window_days": Num(d(14), "trailing window of the baselines", above=0,
                                    maximum=366),
        "baseline_min_samples": Int(None, "valid samples before verdicts are given "
                                    "(default: 2 days' worth at agent.interval_s)", minimum=1,
                                    maximum=1000000),
        "baseline_refresh_s": Num(d(3600), "a baseline is computed again when this old (0: at "
                                  "every sample)", minimum=0, maximum=_MAX_S),
        "threshold_t": Num(d(3), "within baseline when |V - B| / S <= T", above=0,
                           maximum=1000),
        "spread_floor_abs_ms": Num(d(1), "smallest spread S of a time metric (ms)", minimum=0,
                                   maximum=_MAX_MS),
        "spread_floor_abs_ratio": Num(d(0.01), "smallest spread S of a loss ratio", minimum=0,
                                      maximum=1),
        "spread_floor_rel": Num(d(0.1), "smallest spread S as a fraction of B", minimum=0,
                                maximum=100),
    }


class MapOf(Field):
    """A mapping of free names to values of one declared type (test point or group names)."""

    def __init__(self, item, default=None, help=""):
        Field.__init__(self, default, help)
        self.item = item
        self.doc = "a mapping of names to " + item.doc.replace("a ", "", 1)

    def convert(self, value, path, problems):
        if not isinstance(value, dict):
            return self.bad(value, path, problems)
        out = Namespace()
        for key, item in value.items():
            if isinstance(key, (bool, float)) or key is None or not str(key).strip():
                problems.add(join(path, str(key)), "expected a name, got {}".format(
                    "an empty name" if isinstance(key, str) else repr(key)))
                continue
            converted = self.item.check(item, join(path, str(key)), problems)
            if converted is not None:
                out[str(key)] = converted
        return out


_GROUP_FIELDS = {
    "members": ListOf(Str(), None, "test point names (default: the test points whose `group` "
                      "names this group, or whose role is this name)", single_ok=True),
    "mode": Str("all", "available when all members are, or when any is", choices=("all", "any")),
    "outage_min_s": Num(None, "override for the group's outages", minimum=0, maximum=_MAX_S),
    "restore_min_s": Num(None, "", minimum=0, maximum=_MAX_S),
}

SCHEMA = Section(dict(_thresholds(False), **{
    "retention_days": Num(92, "samples kept in the state (a quarter: quarterly reports)",
                          above=0, maximum=3660),
    "max_samples_per_point": Int(None, "hard bound on stored samples per test point "
                                 "(default: 4 x retention at agent.interval_s)", minimum=100,
                                 maximum=100000000),
    "commit_every": Int(COMMIT_EVERY, "write the state store every this many journaled reports "
                        "(the journal holds the ones in between; 1: every cycle)", minimum=1,
                        maximum=2016),
    "max_bytes": Int(MAX_BYTES, "bound on the state store's size in bytes: the oldest samples "
                     "go first", minimum=1048576, maximum=1 << 40),
    "corrupt_kept": Int(3, "copies of a corrupt state file kept beside it", minimum=0,
                        maximum=100),
    "targets": MapOf(Section(_thresholds(True)), {}, "per test point overrides"),
    "groups": MapOf(Section(_GROUP_FIELDS), {}, "groups of test points"),
}), default={})


def section(config):
    """The checked `sla` section of a config, or its defaults when the section is not registered."""
    value = config.get("sla") if hasattr(config, "get") else None
    return value if value is not None else SCHEMA.defaults()


def interval_of(config):
    return float(config.agent.interval_s)


def effective(sla_config, interval_s, target=None):
    """Thresholds for one test point: its overrides over the section's values."""
    out = dict((key, sla_config.get(key)) for key in THRESHOLD_KEYS)
    overrides = (sla_config.get("targets") or {}).get(target) if target else None
    for key, value in (overrides or {}).items():
        if value is not None:
            out[key] = value
    if out["baseline_min_samples"] is None:
        out["baseline_min_samples"] = max(1, int(round(2 * 86400.0 / interval_s)))
    return out


def max_samples(sla_config, interval_s):
    if sla_config.get("max_samples_per_point"):
        return int(sla_config["max_samples_per_point"])
    return int(4 * sla_config["retention_days"] * 86400.0 / interval_s) + 100


def commit_every(sla_config):
    return int(sla_config.get("commit_every") or COMMIT_EVERY)


def max_bytes(sla_config):
    return int(sla_config.get("max_bytes") or MAX_BYTES)
