"""ICMP echo prober: the system `ping` (iputils), its text read by `icmp_text`.

A sample follows docs/metrics.md: `received` counts distinct sequence numbers answered within
`timeout_s`; duplicates and late replies are counted apart; the delay value is the median RTT.
min/avg/max/mdev come from ping's summary line when it stands for the sample.
A sample the agent could not take (no ping program, ping refusing its arguments, a name it could
not resolve, permission denied, deadline, or any failure without ping's statistics) has `error`
set and no loss. `via_sudo` says whether ping ran through `sudo -n` (option `sudo`); `notes` says
where the figures came from when ping's output was not whole.
"""

import math
import time

from guestagent import quality
from guestagent.probes import common
from guestagent.schema import Int, Num, Section, Str

OPTIONS = Section({
    "count": Int(10, "echo requests per sample", minimum=1, maximum=1000),
    "interval_s": Num(1.0, "seconds between requests (ping refuses < 0.2 unless root)",
                      minimum=0.002),
    "timeout_s": Num(2.0, "wait for each reply; later replies count as late, not received",
                     above=0),
    "size": Int(56, "ICMP payload bytes", minimum=0, maximum=65500),
    "sudo": Str("auto", "run ping through `sudo -n`: `auto` retries once that way when ping is "
                "refused for permission (Guest Shell's user has passwordless sudo), `always`, "
                "`never`", choices=("auto", "always", "never")),
}, default={})

PING = "ping"
SUDO = "sudo"

# What ping prints on stderr when it could not measure at all, by reason (lower case). Only with
# no statistics block: once ping printed its statistics, they are the sample.
_REFUSALS = (
    ("permission", ("operation not permitted", "permission denied", "socktype: sock_raw",
                    "cap_net_raw", "are you root", "lacking privilege", "must be root")),
    ("resolution", ("name or service not known", "unknown host", "temporary failure in name",
                    "no address associated", "cannot resolve", "bad address",
                    "address family for hostname not supported")),
    ("arguments", ("bad timing interval", "bad linger time", "bad wait time", "invalid argument",
                   "usage:", "bad number", "cannot flood", "out of range", "garbage",
                   "invalid", "illegal", "unknown option", "unrecognized option",
                   "the decimal value of tos", "minimal interval", "bad packet size",
                   "bad ttl", "only one of")),
)
# A send the kernel refused for want of a route: the network failed us (the uplink is down), so
# the requests count as lost.
_NETWORK = ("network is unreachable", "no route to host")


def command(address, ip_version, options):
    argv = [PING, "-n", "-{}".format(ip_version), "-c", str(options.count),
            "-i", "{:g}".format(options.interval_s),
            # iputils before 2019 accepts only whole seconds here; our own timeout_s decides
            # what is late, from the RTTs.
            "-W", str(max(1, int(math.ceil(options.timeout_s)))),
            "-s", str(options.size), address]
    return argv


def expected_duration_s(options):
    return (options.count - 1) * options.interval_s + options.timeout_s


def probe(target, options, deadline, context=None):
    started = time.monotonic()
    sample = common.new_sample(target, "icmp")
    sample.update({"count": options.count, "interval_s": options.interval_s,
                   "timeout_s": options.timeout_s})
    if sample["via"] == "ios":
        from guestagent.probes import ios_ping
        return common.finish(ios_ping.probe(target, options, deadline, context, sample), started)

    address, version = common.resolve_into(sample, target.host, deadline)
    if address is None:
        return common.finish(sample, started)

    budget_s = deadline.remaining()
    if budget_s < min(expected_duration_s(options), 1.0):
        sample["error"] = "deadline: {:.1f} s left, not enough to send".format(budget_s)
        return common.finish(sample, started)
    argv = command(address, version, options)
    mode = options.get("sudo") or "auto"
    result = _run(argv, mode == "always", budget_s)
    sample["via_sudo"] = mode == "always"
    if mode == "auto" and refusal(result) == "permission":
        # Plain ICMP needs `ping_group_range`, a setuid ping or a capability; sudo may have them.
        refused = result
        result = _run(argv, True, deadline.remaining())
        sample["via_sudo"] = True
        if refusal(result) in ("permission", "missing", "other"):  # sudo refused, or absent
            sample["error"] = "ping refused for permission ({}); sudo -n ping failed too " \
                "({})".format(_said(refused), _said(result))
            return common.finish(sample, started)
    read_result(sample, result, options.timeout_s, budget_s)
    return common.finish(sample, started)


def _run(argv, via_sudo, budget_s):
    from guestagent import proc
    if via_sudo:
        argv = [SUDO, "-n"] + argv
    return proc.run(argv, timeout_s=budget_s)


def _printed(result):
    """What ping printed (`icmp_text.read`), read once per run: the refusal check and the sample
    both need it."""
    printed = getattr(result, "printed", None)
    if printed is None:
        from guestagent.probes import icmp_text
        printed = icmp_text.read(result.stdout)
        result.printed = printed
    return printed


def _statistics(result):
    return not result.missing and "transmitted" in _printed(result)


def _said(result):
    """ping's (or sudo's) last words: the last stderr line, else the exit status."""
    if result.missing:
        return result.stderr
    lines = [line.strip() for line in (result.stderr or "").splitlines() if line.strip()]
    if lines:
        return "; ".join(lines[-3:])[:300]
    return "exit {}{}".format(result.returncode, "" if (result.stdout or "").strip()
                              else ", no output")


def refusal(result):
    """Why ping did not measure (`permission`, `resolution`, `arguments`, `network`), `other`
    when it printed no statistics for a reason we do not know, or None when it measured."""
    if result.missing:
        return "missing"
    if _statistics(result):
        return None
    said = (result.stderr or "").lower()
    for reason, words in _REFUSALS:
        if any(word in said for word in words):
            return reason
    if any(word in said for word in _NETWORK):
        return "network"
    return "other"


def read_result(sample, result, timeout_s, budget_s=0.0):
    """Fill the sample from a finished ping run (a `proc.Result`): its statistics when ping
    printed them, loss when the kernel had no route, and otherwise a measurement error that says
    what ping said. Never loss for a reason the prober does not know."""
    if result.missing:
        sample["error"] = "ping not available: " + result.stderr
        return
    printed = _printed(result)
    stderr = (result.stderr or "").strip()
    if "transmitted" in printed:
        sample.update(summarize(printed, timeout_s))
        if stderr:
            # e.g. `option argument contains garbage`, `sendmsg: ...`: ping measured anyway.
            sample.setdefault("notes", []).append("ping said: " + _said(result))
        if result.timed_out:
            # Interrupted: the last requests had no full timeout to be answered in.
            sample["error"] = "deadline: ping interrupted after {:.1f} s".format(budget_s)
        return
    if result.timed_out:
        if printed["recognized"]:
            sample.update(summarize(printed, timeout_s))
        sample["error"] = "deadline: ping interrupted before its statistics"
        return
    reason = refusal(result)
    if reason == "network":
        sample.update(_all_lost(sample.get("count") or 0))
        sample["send_error"] = stderr.splitlines()[-1][:200]
        return
    what = {"permission": "ping refused for permission",
            "resolution": "ping could not resolve the address",
            "arguments": "ping refused its arguments"}.get(
                reason, "ping ended without statistics (not understood)")
    sample["error"] = "{}: {}".format(what, _said(result))


def _all_lost(count):
    return {"sent": count, "received": 0, "loss_ratio": 1.0, "reachable": False, "rtt_ms": None,
            "jitter_ms": None, "duplicates": 0, "late": 0, "r_factor": 0.0, "mos_estimate": 1.0}


def summarize_output(text, timeout_s):
    """The sample fields of ping's text output (iputils or busybox)."""
    from guestagent.probes import icmp_text
    return summarize(icmp_text.read(text), timeout_s)


def summarize(printed, timeout_s):
    """Sample fields from what ping printed (`icmp_text.read`).

    Counts: the first reply per sequence number, on time or late (after timeout_s). When ping's
    statistics block is there and the reply lines do not add up to its `received` (lines garbled
    or missing), its transmitted/received counts win and `notes` says so.
    RTT: min/avg/max/mdev from ping's summary line (microsecond precision) when every reply was on
    time; median, p95 and jitter from the reply lines (printed with fewer digits).
    """
    timeout_ms = timeout_s * 1000.0
    notes = []
    first_by_seq = {}
    seen_dup = 0
    for reply in printed.get("replies") or []:
        seq = reply.get("seq")
        if reply.get("rtt_ms") is None:
            continue
        if reply.get("duplicate") or seq in first_by_seq:
            seen_dup += 1
            continue
        first_by_seq[seq] = reply["rtt_ms"]
    in_order = [first_by_seq[k] for k in sorted(first_by_seq)]
    rtts = [t for t in in_order if t <= timeout_ms]
    late = len(in_order) - len(rtts)
    duplicates = max(printed.get("duplicates") or 0, seen_dup)
    if printed.get("garbled"):
        notes.append("{} reply line(s) could not be read".format(printed["garbled"]))
    if "transmitted" in printed:
        sent = printed["transmitted"]
        received = len(rtts)
        if not printed.get("replies") and printed["received"]:
            received = printed["received"]
            notes.append("no reply lines: counts from ping's statistics")
        elif len(first_by_seq) != printed["received"]:
            received = max(0, printed["received"] - late)
            notes.append("{} of {} replies read from reply lines; counts from ping's statistics"
                         .format(len(first_by_seq), printed["received"]))
            if received == 0:
                rtts = []
        if sent < received + late:
            notes.append("ping's statistics count fewer requests than replies")
            sent = received + late
    else:
        asked = set(first_by_seq) | set(printed.get("no_answer") or []) | set(
            e["seq"] for e in printed.get("errors") or [] if e.get("seq") is not None)
        sent, received = len(asked), len(rtts)
        if printed.get("recognized") and sent:
            notes.append("no statistics block: counts from reply lines")
    stats = quality.rtt_stats(rtts) if rtts else None
    summary = printed.get("summary")
    # ping's summary counts late replies and duplicates too: it stands for the sample only when
    # there were none, or when it is all ping printed.
    if summary and received and (not in_order or (late == 0 and seen_dup == 0)):
        if stats is None:
            stats = {"median": None, "p95": None}
        for key in ("min", "avg", "max", "mdev"):
            if key in summary or key != "mdev":
                stats[key] = summary.get(key)
            else:
                stats.setdefault("mdev", None)
    elif summary and received:
        notes.append("late or duplicate replies: min/avg/max from reply lines, not ping's "
                     "summary")
    fields = _fields(sent, received, duplicates, late, stats, quality.ipdv_jitter(rtts))
    if notes:
        fields["notes"] = notes
    return fields


def _seq_key(seq):
    return seq if isinstance(seq, int) else -1


def _fields(sent, received, duplicates, late, stats, jitter_ms):
    loss_ratio = (sent - received) / float(sent) if sent else None
    fields = {
        "sent": sent,
        "received": received,
        "loss_ratio": loss_ratio,
        "reachable": received > 0,
        "rtt_ms": stats,
        "jitter_ms": jitter_ms,
        "duplicates": duplicates,
        "late": late,
        "r_factor": None,
        "mos_estimate": None,
    }
    if loss_ratio is not None:
        if stats and stats.get("median") is not None:
            r = quality.r_factor(stats["median"], jitter_ms, loss_ratio)
        elif received == 0:
            r = 0.0
        else:
            r = None
        if r is not None:
            fields["r_factor"] = round(r, 3)
            fields["mos_estimate"] = round(quality.mos_from_r(r), 3)
    return fields


def metrics(sample, out):
    # Reachability rides on guestagent_probe_success, R on the MOS it maps to; duplicates and
    # late replies go only when there are some (docs/wire.md: what each series carries). Sent
    # and received stay: the worst areas read them per cycle from the store (areas.py), and
    # while they do not change the Pushgateway is not sent them again.
    labels = out.probe_labels(sample)
    if sample.get("sent"):
        out.gauge("guestagent_icmp_packets_sent", "Echo requests sent in this cycle's sample.",
                  sample["sent"], labels)
        out.gauge("guestagent_icmp_packets_received",
                  "Distinct echo requests answered within the timeout.", sample["received"], labels)
        out.gauge("guestagent_icmp_loss_ratio", "Fraction of echo requests not answered in time.",
                  sample["loss_ratio"], labels)
        if sample["duplicates"]:
            out.gauge("guestagent_icmp_duplicate_replies", "Duplicate echo replies in the sample.",
                      sample["duplicates"], labels)
        if sample["late"]:
            out.gauge("guestagent_icmp_late_replies", "Replies that came after the timeout.",
                      sample["late"], labels)
    stats = sample.get("rtt_ms") or {}
    for stat in RTT_STATS:
        if stats.get(stat) is not None:
            out.gauge("guestagent_icmp_rtt_seconds",
                      "Round-trip time of the sample's replies, by statistic.",
                      stats[stat] / 1000.0, dict(labels, stat=stat))
    if sample.get("jitter_ms") is not None:
        out.gauge("guestagent_icmp_jitter_seconds",
                  "Mean absolute difference of consecutive round-trip times (IPDV).",
                  sample["jitter_ms"] / 1000.0, labels)
    if sample.get("mos_estimate") is not None:
        out.gauge("guestagent_icmp_mos_estimate",
                  "Voice quality estimated from RTT, jitter and loss (simplified E-model).",
                  sample["mos_estimate"], labels)


# The statistics pushed: the sample's delay (median), its tail (p95) and the path's floor (min).
# avg, max and mdev stay in the report (the journal): with 10 packets max is p95's neighbour,
# avg the median's, and jitter says what mdev would.
RTT_STATS = ("min", "median", "p95")
