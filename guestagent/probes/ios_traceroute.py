"""Traceroute run by IOS itself (`via: ios`), through the router's cli: the path as the router's
routing table and VRF see it, without Guest Shell's NAT hop.

`traceroute [vrf V] <host> numeric timeout <s> probe <n> ttl 1 <max>`, parsed by
guestagent.ios.traceroute; hops have the same fields as the Linux traceroute prober's.
"""

import math

_MARGIN_S = 3.0  # the cli round trip and IOS's own pacing


def command(host, options, vrf=None):
    """The IOS command; iostokens.TokenError (nothing to send) for a value IOS would misread."""
    from guestagent import iostokens as tokens
    parts = ["traceroute"]
    if vrf:
        parts += ["vrf", tokens.ios_vrf(vrf)]
    parts += [tokens.ios_host(host), "numeric", "timeout",
              tokens.ios_count(max(1, int(math.ceil(options.wait_s))), 1),
              "probe", tokens.ios_count(options.queries, 1), "ttl", "1",
              tokens.ios_count(options.max_hops, 1, 255)]
    return " ".join(parts)


def probe(target, options, deadline, context, sample):
    from guestagent.ios import traceroute as ios_traceroute
    from guestagent.probes.traceroute import first_responding_hop
    from guestagent.probes.common import run_on_router
    wanted_s = options.max_hops * options.queries * max(1, math.ceil(options.wait_s)) + _MARGIN_S
    try:
        line = command(target.host, options, target.get("vrf"))
    except ValueError as exc:  # iostokens.TokenError: a measurement error, never sent
        sample["error"] = "ios traceroute: not sent: {}".format(exc)
        return sample
    text = run_on_router(sample, context, line, min(wanted_s, deadline.remaining()),
                         "ios traceroute")
    if text is None:
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
