"""Path discovery with the system `traceroute` (Linux, `-n`), and its text parser.

The first responding hop becomes the cycle's `first-hop` test point (the method of the IR1101 QoE
paper). The whole path is kept in the report.
"""

import re
import time

from guestagent.probes import common
from guestagent.schema import Int, Num, Section

COMMAND = "traceroute -n HOST (Linux)"

OPTIONS = Section({
    "max_hops": Int(10, "", minimum=1, maximum=64),
    "wait_s": Num(1.0, "wait for each probe's reply", above=0),
    "queries": Int(1, "probes per hop", minimum=1, maximum=10),
}, default={})

TRACEROUTE = "traceroute"

_HOP = re.compile(r"^\s*(\d+)\s+(.*)$")
_TOKEN = re.compile(r"(\*)|(\d+(?:\.\d+)?)\s*ms|(![A-Za-z0-9]*)|(\S+)")
_HEADER = re.compile(r"^traceroute(?:6)? to (\S+) \(([^)]+)\)")


def command(address, ip_version, options):
    return [TRACEROUTE, "-n", "-{}".format(ip_version), "-q", str(options.queries),
            "-w", "{:g}".format(options.wait_s), "-m", str(options.max_hops), address]


def parse(text):
    """Linux traceroute text -> {recognized, destination, hops: [{hop, address, addresses, rtt_ms,
    lost, annotations}]}. A hop with no reply has address None and `lost` = number of `*`."""
    result = {"recognized": False, "hops": []}
    for line in (text or "").splitlines():
        header = _HEADER.match(line.strip())
        if header:
            result["recognized"] = True
            result["destination"] = header.group(2)
            continue
        match = _HOP.match(line)
        if not match or len(match.group(1)) > 3:
            continue
        hop = {"hop": int(match.group(1)), "address": None, "addresses": [], "rtt_ms": [],
               "lost": 0, "annotations": []}
        for star, rtt, note, word in _TOKEN.findall(match.group(2)):
            if star:
                hop["lost"] += 1
            elif rtt and len(rtt) < 30:
                hop["rtt_ms"].append(float(rtt))
            elif note:
                hop["annotations"].append(note)
            elif word and _looks_like_address(word):
                if word not in hop["addresses"]:
                    hop["addresses"].append(word)
        if hop["addresses"]:
            hop["address"] = hop["addresses"][0]
        if hop["addresses"] or hop["lost"] or hop["rtt_ms"]:
            result["recognized"] = True
            result["hops"].append(hop)
    return result


def _looks_like_address(word):
    word = word.strip("()")
    return bool(re.match(r"^[0-9a-fA-F:.]+$", word)) and ("." in word or ":" in word)


def first_responding_hop(hops):
    for hop in hops:
        if hop.get("address"):
            return hop
    return None


MISSING = "traceroute is not installed in Guest Shell"


def installed():
    return on_path(TRACEROUTE)


def on_path(name):
    """Whether PATH has an executable `name`: where proc.run would start it from."""
    from guestagent import proc
    return bool(proc.executables(name))


def on_router(context):
    """Whether IOS can trace instead: a real router through the cli (not the simulated one,
    whose invented path must not stand in for a missing program)."""
    device = getattr(context, "device", None) if context is not None else None
    return device is not None and getattr(device, "kind", None) == "onbox"


def probe(target, options, deadline, context=None):
    started = time.monotonic()
    sample = common.new_sample(target, "traceroute")
    sample["hops"] = []
    if sample["via"] == "ios":
        return _via_ios(target, options, deadline, context, sample, started)
    if not installed():
        return _missing(target, options, deadline, context, sample, started, "")
    address, version = common.resolve_into(sample, target.host, deadline)
    if address is None:
        return common.finish(sample, started)
    from guestagent import proc
    result = proc.run(command(address, version, options), timeout_s=deadline.remaining())
    if result.missing:
        return _missing(target, options, deadline, context, sample, started, result.stderr)
    parsed = parse(result.stdout)
    sample["hops"] = parsed["hops"]
    if not parsed["recognized"]:
        sample["error"] = "traceroute failed: {}".format(
            (result.stderr or "").strip()[:200] or "exit {}".format(result.returncode))
    elif result.timed_out:
        sample["truncated"] = True  # the hops so far are kept; the path is incomplete
    last = parsed["hops"][-1] if parsed["hops"] else None
    sample["reached"] = bool(last and address in last["addresses"])
    first = first_responding_hop(parsed["hops"])
    sample["first_hop"] = first["address"] if first else None
    return common.finish(sample, started)


def _via_ios(target, options, deadline, context, sample, started):
    from guestagent.probes import ios_traceroute
    return common.finish(ios_traceroute.probe(target, options, deadline, context, sample), started)


def _missing(target, options, deadline, context, sample, started, detail):
    """No traceroute program (the 17.x image may lack it, platform.md): on a router IOS traces
    instead, and the sample says so; elsewhere the path is a measurement error."""
    if on_router(context):
        sample["via"] = "ios"
        sample["via_reason"] = MISSING + ": traced by IOS instead"
        return _via_ios(target, options, deadline, context, sample, started)
    sample["error"] = "{} (no `{}` on PATH{}) and no router to trace from: install it " \
        "(`sudo yum install traceroute`) or set path_discovery.via: ios".format(
            MISSING, TRACEROUTE, ": " + detail.strip() if detail and detail.strip() else "")
    return common.finish(sample, started)


def metrics(sample, out):
    labels = out.probe_labels(sample)
    if sample.get("error"):
        return
    out.gauge("guestagent_path_hops", "Hops listed by the last traceroute toward the anchor.",
              len(sample["hops"]), labels)
    out.gauge("guestagent_path_reached", "1 when the traceroute reached its destination.",
              1 if sample.get("reached") else 0, labels)
    for hop in sample["hops"]:
        if hop["rtt_ms"]:
            out.gauge("guestagent_path_hop_rtt_seconds",
                      "Smallest round-trip time to each hop of the path.",
                      min(hop["rtt_ms"]) / 1000.0,
                      dict(labels, hop=hop["hop"], address=hop["address"] or ""))
