"""Traceroute run by IOS itself (`via: ios`), through the router's cli: the path as the router's
routing table and VRF see it, without Guest Shell's NAT hop.

`traceroute [vrf V] <host> numeric timeout <s> probe <n> ttl 1 <max>`, parsed by
guestagent.ios.traceroute; hops have the same fields as the Linux traceroute prober's.
"""

import math

from guestagent.device import DeviceError

_MARGIN_S = 3.0  # the cli round trip and IOS's own pacing


def command(host, options, vrf=None):
    parts = ["traceroute"]
    if vrf:
        parts += ["vrf", vrf]
    parts += [host, "numeric", "timeout", str(max(1, int(math.ceil(options.wait_s)))),
              "probe", str(options.queries), "ttl", "1", str(options.max_hops)]
    return " ".join(parts)


def probe(target, options, deadline, context, sample):
    from guestagent.ios import traceroute as ios_traceroute
    from guestagent.probes.traceroute import first_responding_hop
    device = getattr(context, "device", None) if context is not None else None
    if device is None:
        sample["error"] = "via ios: no router device"
        return sample
    text_command = command(target.host, options, target.get("vrf"))
    sample["command"] = text_command
    wanted_s = options.max_hops * options.queries * max(1, math.ceil(options.wait_s)) + _MARGIN_S
    try:
        text = device.execute(text_command, timeout_s=min(wanted_s, deadline.remaining()))
    except DeviceError as exc:
        sample["error"] = "ios traceroute failed: {}".format(exc)
        return sample
    parsed = ios_traceroute.parse(text)
    if not parsed.get("recognized"):
        sample["error"] = "ios traceroute: unreadable output"
        return sample
    sample["address"] = parsed.get("destination") or target.host
    sample["hops"] = parsed["hops"]
    sample["reached"] = bool(parsed.get("reached"))
    first = first_responding_hop(parsed["hops"])
    sample["first_hop"] = first["address"] if first else None
    return sample
