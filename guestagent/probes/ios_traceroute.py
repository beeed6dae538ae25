"""Traceroute run by IOS itself (`via: ios`), through the router's cli: the path as the router's
routing table and VRF see it, without Guest Shell's NAT hop.

`traceroute [vrf V] <host> numeric timeout <s> probe <n> ttl 1 <max>`, parsed by
guestagent.ios.traceroute; hops have the same fields as the Linux traceroute prober's.

IOS waits `timeout` seconds for each probe that gets no answer, so a path that goes dark costs
up to max_hops x probes x timeout seconds. The probe fits them into what is left of the cycle's
deadline and the device's command timeout (`fit`), says in `reduced` what it cut, and when IOS
times out anyway keeps the hops it printed so far (`partial`).
"""

from guestagent.probes.ios_ping import MARGIN_S, budget_s, execute, whole_seconds

# Fewest hops worth tracing: the first hop (the cycle's `first-hop` test point) and beyond.
MIN_HOPS = 2


def command(host, options, vrf=None, max_hops=None, wait_s=None, queries=None):
    """The IOS command; iostokens.TokenError (nothing to send) for a value IOS would misread."""
    from guestagent import iostokens as tokens
    parts = ["traceroute"]
    if vrf:
        parts += ["vrf", tokens.ios_vrf(vrf)]
    parts += [tokens.ios_host(host), "numeric", "timeout",
              tokens.ios_count(whole_seconds(options.wait_s if wait_s is None else wait_s), 1),
              "probe", tokens.ios_count(options.queries if queries is None else queries, 1),
              "ttl", "1",
              tokens.ios_count(options.max_hops if max_hops is None else max_hops, 1, 255)]
    return " ".join(parts)


def fit(max_hops, queries, wait_s, available_s, margin_s=MARGIN_S):
    """(max_hops, queries, wait_s, reduced) so that a path dark after the first hop fits
    available_s, or None when not even MIN_HOPS hops of one probe of 1 s fit.

    Cut in this order, as long as it does not fit: probes per hop to 1 (one answer names the
    hop), the wait to 1 s, then the hops (the far end of a path is the least needed: the first
    hop is a test point). `reduced` maps what was cut to [configured, used]."""
    wait_s = whole_seconds(wait_s)
    room_s = available_s - margin_s
    used = {"max_hops": max_hops, "queries": queries, "wait_s": wait_s}

    def cost():
        return used["max_hops"] * used["queries"] * used["wait_s"]

    if cost() > room_s and queries > 1:
        used["queries"] = 1
    if cost() > room_s and wait_s > 1:
        used["wait_s"] = 1
    if cost() > room_s:
        used["max_hops"] = int(room_s // (used["queries"] * used["wait_s"]))
        if used["max_hops"] < min(max_hops, MIN_HOPS):
            return None
    configured = {"max_hops": max_hops, "queries": queries, "wait_s": wait_s}
    reduced = dict((k, [configured[k], used[k]]) for k in sorted(used) if used[k] != configured[k])
    return used["max_hops"], used["queries"], used["wait_s"], reduced


def probe(target, options, deadline, context, sample):
    from guestagent.ios import traceroute as ios_traceroute
    from guestagent.probes.traceroute import first_responding_hop
    vrf = target.get("vrf") if hasattr(target, "get") else None
    try:
        configured = command(target.host, options, vrf)
    except ValueError as exc:  # iostokens.TokenError: a measurement error, never sent
        sample["error"] = "ios traceroute: not sent: {}".format(exc)
        return sample
    available_s = budget_s(deadline, context)
    fitted = fit(options.max_hops, options.queries, options.wait_s, available_s)
    if fitted is None:
        sample["command"] = configured
        sample["error"] = "deadline: {:.1f} s left, not enough to trace".format(available_s)
        return sample
    max_hops, queries, wait_s, reduced = fitted
    if reduced:
        sample["reduced"] = reduced
    text, partial = execute(sample, context,
                            command(target.host, options, vrf, max_hops, wait_s, queries),
                            min(max_hops * queries * wait_s + MARGIN_S, available_s),
                            "ios traceroute")
    if text is None:
        return sample
    parsed = ios_traceroute.parse(text)
    if not parsed.get("recognized"):
        sample["error"] = "ios traceroute: unreadable output"
        return sample
    if partial:
        sample["partial"] = True
    sample["address"] = parsed.get("destination") or target.host
    sample["hops"] = parsed["hops"]
    sample["reached"] = bool(parsed.get("reached"))
    first = first_responding_hop(parsed["hops"])
    sample["first_hop"] = first["address"] if first else None
    return sample
