"""ICMP echo run by IOS itself (`via: ios`): `ping [vrf V] <host> repeat <count> timeout <s>`
through the router's cli, so it measures from the router (VRF-aware, without Guest Shell's NAT).

Fills the sample fields of probes/icmp.py from IOS's summary line: IOS prints min/avg/max only,
not each reply, so `rtt_ms` has median/p95/mdev None and `jitter_ms` is None (the SLA engine
takes the average as the sample's delay, docs/sla.md); `sent`/`received` come from
`Success rate is P percent (x/y)`.

IOS sends the next echo only after a reply or after `timeout` seconds, so a dead target costs
repeat x timeout seconds. The probe fits repeat and timeout into what is left of the cycle's
deadline and the device's command timeout (`fit`), and says in `reduced` what it cut. When IOS
times out anyway, the result characters it printed so far (`CLITimeoutError.output`) are the
measurement: each `!` a reply, anything else a loss.
"""

import math

# Time IOS needs beyond repeat x timeout (the cli round trip, sending). Not measured on a router.
MARGIN_S = 3.0
# Fewest echoes worth keeping the configured timeout for; below it the timeout goes to 1 s.
MIN_ECHOES = 5


def whole_seconds(seconds):
    return max(1, int(math.ceil(seconds)))  # IOS takes whole seconds


def command(host, options, vrf=None, repeat=None, timeout_s=None):
    """The IOS command; iostokens.TokenError (nothing to send) for a value IOS would misread."""
    from guestagent import iostokens as tokens
    parts = ["ping"]
    if vrf:
        parts += ["vrf", tokens.ios_vrf(vrf)]
    parts += [tokens.ios_host(host), "repeat",
              tokens.ios_count(options.count if repeat is None else repeat, 1), "timeout",
              tokens.ios_count(whole_seconds(options.timeout_s if timeout_s is None
                                             else timeout_s), 1)]
    return " ".join(parts)


def budget_s(deadline, context):
    """Seconds one IOS command may take: what is left of the deadline, and no more than the
    device's own command timeout."""
    device = getattr(context, "device", None) if context is not None else None
    limit = getattr(device, "command_timeout_s", None)
    if limit is None and getattr(context, "config", None) is not None:
        try:
            limit = float(context.config.device.command_timeout_s)
        except (AttributeError, KeyError, TypeError, ValueError):
            limit = None
    remaining = deadline.remaining()
    return min(remaining, limit) if limit else remaining


def fit(count, timeout_s, available_s, margin_s=MARGIN_S):
    """(repeat, timeout_s, reduced) so that repeat x timeout + margin fits available_s, or
    (None, None, None) when not even one echo of 1 s fits.

    The configured timeout is kept while at least MIN_ECHOES echoes (or all of them, if fewer
    are configured) fit: a shorter timeout would count slow replies as lost. Below that the
    timeout goes to 1 s and as many echoes as fit are sent. `reduced` maps what was cut to
    [configured, used]."""
    timeout_s = whole_seconds(timeout_s)
    room_s = available_s - margin_s
    if count * timeout_s <= room_s:
        return count, timeout_s, {}
    repeat = int(room_s // timeout_s)
    if repeat >= min(count, MIN_ECHOES):
        return repeat, timeout_s, {"repeat": [count, repeat]}
    repeat = min(count, int(room_s // 1))
    if repeat < 1:
        return None, None, None
    reduced = {"repeat": [count, repeat]} if repeat < count else {}
    if timeout_s != 1:
        reduced["timeout_s"] = [timeout_s, 1]
    return repeat, 1, reduced


def execute(sample, context, command_text, timeout_s, what):
    """(text, partial): the command's output from the router, or what IOS printed before it
    timed out (partial True); (None, False) with the sample's measurement error set."""
    from guestagent.device import DeviceError, DeviceTimeout
    device = getattr(context, "device", None) if context is not None else None
    sample["command"] = command_text
    if device is None:
        sample["error"] = "via ios: no router device"
        return None, False
    if timeout_s < 1.0:
        sample["error"] = "deadline: {:.1f} s left, not enough to send".format(timeout_s)
        return None, False
    try:
        return device.execute(command_text, timeout_s=timeout_s), False
    except DeviceTimeout as exc:
        output = getattr(exc, "output", None)
        if output and output.strip():
            return output, True
        sample["error"] = "{} failed: {}".format(what, exc)
        return None, False
    except DeviceError as exc:
        sample["error"] = "{} failed: {}".format(what, exc)
        return None, False


def probe(target, options, deadline, context, sample):
    from guestagent.ios import ping as ios_ping
    from guestagent.probes import icmp
    vrf = target.get("vrf") if hasattr(target, "get") else None
    try:
        configured = command(target.host, options, vrf)
    except ValueError as exc:  # iostokens.TokenError: a measurement error, never sent
        sample["error"] = "ios ping: not sent: {}".format(exc)
        return sample
    available_s = budget_s(deadline, context)
    repeat, timeout_s, reduced = fit(options.count, options.timeout_s, available_s)
    if repeat is None:
        sample["command"] = configured
        sample["error"] = "deadline: {:.1f} s left, not enough for one echo".format(available_s)
        return sample
    if reduced:
        sample["reduced"] = reduced
    text, partial = execute(sample, context, command(target.host, options, vrf, repeat,
                                                     timeout_s),
                            min(repeat * timeout_s + MARGIN_S, available_s), "ios ping")
    if text is None:
        return sample
    parsed = ios_ping.parse(text)
    if partial and "sent" not in parsed:
        # IOS stopped mid-way: the echoes it reported so far are the measurement.
        results = parsed.get("results") or ""
        if not results:
            sample["error"] = "ios ping: timed out before the first echo was answered or lost"
            return sample
        parsed["sent"], parsed["received"] = len(results), results.count("!")
        sample["partial"] = True
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
