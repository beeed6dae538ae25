"""ICMP echo run by IOS itself (`via: ios`): `ping [vrf V] <host> repeat <count> timeout <s>`
through the router's cli, so it measures from the router (VRF-aware, without Guest Shell's NAT).

Fills the sample fields of probes/icmp.py from IOS's summary line: IOS prints min/avg/max only,
not each reply, so `rtt_ms` has median/p95/mdev None and `jitter_ms` is None; `sent`/`received`
come from `Success rate is P percent (x/y)`.
"""

import math

from guestagent.device import DeviceError

# Time IOS needs beyond count x timeout (sending, the cli round trip).
_MARGIN_S = 3.0


def command(host, options, vrf=None):
    timeout_s = max(1, int(math.ceil(options.timeout_s)))  # IOS takes whole seconds
    parts = ["ping"]
    if vrf:
        parts += ["vrf", vrf]
    parts += [host, "repeat", str(options.count), "timeout", str(timeout_s)]
    return " ".join(parts)


def probe(target, options, deadline, context, sample):
    from guestagent.ios import ping as ios_ping
    from guestagent.probes import icmp
    device = getattr(context, "device", None) if context is not None else None
    if device is None:
        sample["error"] = "via ios: no router device"
        return sample
    vrf = target.get("vrf") if hasattr(target, "get") else None
    text_command = command(target.host, options, vrf)
    sample["command"] = text_command
    wanted_s = options.count * max(1, int(math.ceil(options.timeout_s))) + _MARGIN_S
    budget_s = deadline.remaining()
    if budget_s < 1.0:
        sample["error"] = "deadline: {:.1f} s left, not enough to send".format(budget_s)
        return sample
    try:
        text = device.execute(text_command, timeout_s=min(wanted_s, budget_s))
    except DeviceError as exc:
        sample["error"] = "ios ping failed: {}".format(exc)
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
