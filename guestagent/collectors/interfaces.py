"""Interface utilization (docs/metrics.md): from `show interfaces` counters read in consecutive
cycles, `bits / (elapsed x bandwidth)` per direction.

The previous cycle's counters are kept in the cycle's state (section "interfaces" of
`<journal dir>/cycle.state`, written in place with the sink outcomes at the cycle's end; an
older version's `<state_dir>/interfaces.json` is read until then). A
counter that went backwards (reload, `clear counters`) restarts the delta: that cycle reports no
utilization for the interface rather than a negative or huge one. The report's `interfaces` section
is a list: `{"name", "status", "bandwidth_bps", "in_bytes", "out_bytes", "in_errors",
"out_errors", "in_drops", "out_drops", "elapsed_s", "in_utilization", "out_utilization",
"in_bps", "out_bps"}` (the last four absent on a first reading or after a reset).
"""

import math
import os
import time

from guestagent.collectors import common
from guestagent.device import DeviceError
from guestagent.statefile import read_json

STATE_FILE = "interfaces.json"  # an older version's; read until the cycle's state has SECTION
SECTION = "interfaces"
_COUNTERS = ("in_bytes", "out_bytes", "in_errors", "out_errors", "in_drops", "out_drops")


def utilization(previous, current, elapsed_s, bandwidth_bps):
    """(in_bps, out_bps, in_ratio, out_ratio) from two readings; None where it cannot be known."""
    if not previous or elapsed_s <= 0:
        return None
    out = []
    for key in ("in_bytes", "out_bytes"):
        before, after = previous.get(key), current.get(key)
        if before is None or after is None or after < before:
            return None  # counter reset: start again from this reading
        out.append((after - before) * 8.0 / elapsed_s)
    ratios = [bps / bandwidth_bps if bandwidth_bps else None for bps in out]
    return out[0], out[1], ratios[0], ratios[1]


def collect(device, config, deadline, now=None):
    from guestagent import ios
    settings = common.settings(config).get("interfaces") or {}
    if not settings.get("enabled", True) or device is None:
        return []
    try:
        text = common.run(device, "show interfaces", config, deadline)
    except DeviceError as exc:
        if common.feature_absent(exc):
            return []
        raise
    parsed = ios.parser("show-interfaces")(text).get("interfaces") or {}
    wanted = settings.get("names")
    now = time.time() if now is None else now
    state, state_path, previous, problems = _previous(config)
    if not isinstance(previous, dict):
        problems.append("{} holds no readings ({}); starting afresh".format(
            state_path, type(previous).__name__))
        previous = {}
    entries, saved = [], {}
    for name in sorted(parsed):
        interface = parsed[name]
        if wanted and name not in wanted:
            continue
        if not wanted and not interface.get("up"):
            continue
        bandwidth_bps = (interface.get("bandwidth_kbps") or 0) * 1000
        entry = {"name": name, "status": interface.get("status"), "bandwidth_bps": bandwidth_bps}
        for key in _COUNTERS:
            if interface.get(key) is not None:
                entry[key] = interface[key]
        before = previous.get(name)
        if before is not None and not _valid_reading(before):
            # Reported once: this cycle's reading replaces it below.
            problems.append("{}: the previous reading of {} is unusable ({}); starting afresh"
                            .format(state_path, name, str(before)[:60]))
            before = None
        if before:
            entry["elapsed_s"] = round(now - before["ts"], 3)
            rates = utilization(before, entry, now - before["ts"], bandwidth_bps)
            if rates:
                entry["in_bps"], entry["out_bps"] = rates[0], rates[1]
                entry["in_utilization"], entry["out_utilization"] = rates[2], rates[3]
            else:
                entry["counters_reset"] = True
        saved[name] = dict((k, entry[k]) for k in ("in_bytes", "out_bytes") if k in entry)
        saved[name]["ts"] = now
        entries.append(entry)
    if state is not None:
        state.put(SECTION, saved)  # on flash with the cycle's outcomes (cycle.write_outcome)
    if problems:
        from guestagent.report import Partial
        raise Partial(entries, problems)
    return entries


def _previous(config):
    """(slot state or None, where the readings come from, the readings, problems)."""
    from guestagent import statefile
    problems = []
    journal_dir = getattr(config.journal, "dir", None) if config.journal is not None else None
    state = statefile.cycle_state(journal_dir) if journal_dir else None
    if state is not None and state.get(SECTION) is not None:
        return state, state.path, state.get(SECTION), problems
    legacy = os.path.join(config.agent.state_dir, STATE_FILE)
    return state, legacy, read_json(legacy, problems=problems), problems


def _valid_reading(reading):
    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value)
    return (isinstance(reading, dict) and number(reading.get("ts")) and
            all(number(reading[k]) for k in ("in_bytes", "out_bytes") if k in reading))


def metrics(entries, out):
    for entry in entries:
        labels = {"interface": entry["name"]}
        for direction in ("in", "out"):
            d = dict(labels, direction=direction)
            if entry.get(direction + "_utilization") is not None:
                out.gauge("guestagent_interface_utilization_ratio",
                          "Bits carried since the last cycle over elapsed time x bandwidth.",
                          entry[direction + "_utilization"], d)
            if entry.get(direction + "_bps") is not None:
                out.gauge("guestagent_interface_rate_bits_per_second",
                          "Bits per second since the last cycle, from the counters.",
                          entry[direction + "_bps"], d)
            for counter in ("bytes", "errors", "drops"):
                value = entry.get("{}_{}".format(direction, counter))
                if value is not None:
                    out.gauge("guestagent_interface_{}".format(counter),
                              "The router's interface counter as last read.", value, d)
        if entry.get("bandwidth_bps"):
            out.gauge("guestagent_interface_bandwidth_bits_per_second",
                      "The interface's configured bandwidth.", entry["bandwidth_bps"], labels)
