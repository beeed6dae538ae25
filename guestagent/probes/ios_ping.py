"""ICMP echo run by IOS itself (`via: ios`): `ping [vrf V] <host> repeat <count> timeout <s>`
through the router's cli, so it measures from the router (VRF-aware, without Guest Shell's NAT).

Fills the sample fields of probes/icmp.py from IOS's summary line: IOS prints min/avg/max only,
not each reply, so `rtt_ms` has median/p95/mdev None and `jitter_ms` is None; `sent`/`received`
come from `Success rate is P percent (x/y)`.
"""

import math


# Time IOS needs beyond count x timeout (sending, the cli round trip).
_MARGIN_S = 3.0


def command(host, options, vrf=None):
    """The IOS command; iostokens.TokenError (nothing to send) for a value IOS would misread."""
    from guestagent import iostokens as tokens
    timeout_s = max(1, int(math.ceil(options.timeout_s)))  # IOS takes whole seconds
    parts = ["ping"]
    if vrf:
        parts += ["vrf", tokens.ios_vrf(vrf)]
    parts += [tokens.ios_host(host), "repeat", tokens.ios_count(options.count, 1),
              "timeout", tokens.ios_count(timeout_s, 1)]
    return " ".join(parts)


def probe(target, options, deadline, context, sample):
    from guestagent.ios import ping as ios_ping
    from guestagent.probes import icmp
    from guestagent.probes.common import run_on_router
    vrf = target.get("vrf") if hasattr(target, "get") else None
    wanted_s = options.count * max(1, int(math.ceil(options.timeout_s))) + _MARGIN_S
    try:
        line = command(target.host, options, vrf)
    except ValueError as exc:  # iostokens.TokenError: a measurement error, never sent
        sample["error"] = "ios ping: not sent: {}".format(exc)
        return sample
    text = run_on_router(sample, context, line, min(wanted_s, deadline.remaining()), "ios ping")
    if text is None:
        return sample
    parsed = ios_ping.parse(text)
    if not parsed.get("recognized") or not parsed.get("sent"):
        first = (text or "").strip().splitlines()
        sample["error"] = "ios ping: unreadable output: {}".format(first[-1][:120] if first
                                                                   else "(empty)")
        return sample
    if parsed.get("target"):
        sample["address"] = parsed["target"]
    stats = None
    if parsed["received"] and parsed.get("rtt_avg_ms") is not None:
        stats = {"min": parsed["rtt_min_ms"], "avg": parsed["rtt_avg_ms"],
                 "max": parsed["rtt_max_ms"], "median": None, "p95": None, "mdev": None}
    sample.update(icmp._fields(parsed["sent"], parsed["received"], 0, 0, stats, None))
    if parsed.get("results"):
        sample["ios_results"] = parsed["results"]
    return sample
