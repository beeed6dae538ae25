"""ICMP echo prober: the system `ping` (iputils), its text parsed with pingparsing.

A sample follows docs/metrics.md: `received` counts distinct sequence numbers answered within
`timeout_s`; duplicates and late replies are counted apart; the delay value is the median RTT.
A sample the agent could not take (no ping program, permission denied, deadline) has `error` set.
"""

import math
import time

from guestagent import quality
from guestagent.probes import common
from guestagent.schema import Int, Num, Section

OPTIONS = Section({
    "count": Int(10, "echo requests per sample", minimum=1, maximum=1000),
    "interval_s": Num(1.0, "seconds between requests (ping refuses < 0.2 unless root)",
                      minimum=0.002),
    "timeout_s": Num(2.0, "wait for each reply; later replies count as late, not received",
                     above=0),
    "size": Int(56, "ICMP payload bytes", minimum=0, maximum=65500),
}, default={})

PING = "ping"

# ping's messages that mean the agent itself could not measure, not that the network failed.
_AGENT_FAULTS = ("operation not permitted", "permission denied", "invalid argument",
                 "usage:", "bad number", "invalid", "cannot flood", "unknown host")


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

    from guestagent import proc
    budget_s = deadline.remaining()
    if budget_s < min(expected_duration_s(options), 1.0):
        sample["error"] = "deadline: {:.1f} s left, not enough to send".format(budget_s)
        return common.finish(sample, started)
    result = proc.run(command(address, version, options), timeout_s=budget_s)
    if result.missing:
        sample["error"] = "ping not available: " + result.stderr
        return common.finish(sample, started)
    sample.update(summarize_output(result.stdout, options.timeout_s))
    stderr = (result.stderr or "").strip()
    if sample["sent"] == 0:
        lowered = stderr.lower()
        if not stderr or any(fault in lowered for fault in _AGENT_FAULTS):
            sample["error"] = "ping failed: {}".format(stderr or "exit {}".format(result.returncode))
        else:
            # e.g. "connect: Network is unreachable": no route out; the network failed us.
            sample.update(_all_lost(options.count))
            sample["send_error"] = stderr.splitlines()[-1]
    if result.timed_out:
        # Interrupted: the last requests had no full timeout to be answered in.
        sample["error"] = "deadline: ping interrupted after {:.1f} s".format(budget_s)
    return common.finish(sample, started)


def _all_lost(count):
    return {"sent": count, "received": 0, "loss_ratio": 1.0, "reachable": False, "rtt_ms": None,
            "jitter_ms": None, "duplicates": 0, "late": 0, "r_factor": 0.0, "mos_estimate": 1.0}


def summarize_output(text, timeout_s):
    """The sample fields of ping's text output (any format pingparsing reads)."""
    import pingparsing
    parsed = pingparsing.PingParsing().parse(text)
    return summarize(parsed, timeout_s)


def summarize(parsed, timeout_s):
    """Sample fields from a pingparsing result.

    From the per-reply lines where ping printed them: first reply per sequence number, on time or
    late; otherwise from ping's own summary (its `received` cannot tell late replies apart).
    """
    timeout_ms = timeout_s * 1000.0
    sent = parsed.packet_transmit or 0
    replies = [r for r in (parsed.icmp_replies or []) if r.get("time") is not None]
    duplicates = parsed.packet_duplicate_count or 0
    if replies:
        first_by_seq = {}
        seen_dup = 0
        for reply in replies:
            seq = reply.get("icmp_seq")
            if reply.get("duplicate") or (seq is not None and seq in first_by_seq):
                seen_dup += 1
                continue
            first_by_seq[seq if seq is not None else len(first_by_seq)] = reply["time"]
        duplicates = max(duplicates, seen_dup)
        in_order = [first_by_seq[k] for k in sorted(first_by_seq, key=_seq_key)]
        rtts = [t for t in in_order if t <= timeout_ms]
        late = len(in_order) - len(rtts)
        sent = max(sent, len(first_by_seq))
    else:
        rtts, late = [], 0
        received = parsed.packet_receive or 0
        if received and parsed.rtt_min is not None:
            # Only ping's summary: min/avg/max known, not each reply.
            stats = {"min": parsed.rtt_min, "avg": parsed.rtt_avg, "max": parsed.rtt_max,
                     "mdev": parsed.rtt_mdev, "median": None, "p95": None}
            return _fields(sent, received, duplicates, 0, stats, None)
    stats = quality.rtt_stats(rtts)
    return _fields(sent, len(rtts), duplicates, late, stats, quality.ipdv_jitter(rtts))


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
    labels = out.probe_labels(sample)
    if sample.get("sent"):
        out.gauge("guestagent_icmp_packets_sent", "Echo requests sent in this cycle's sample.",
                  sample["sent"], labels)
        out.gauge("guestagent_icmp_packets_received",
                  "Distinct echo requests answered within the timeout.", sample["received"], labels)
        out.gauge("guestagent_icmp_loss_ratio", "Fraction of echo requests not answered in time.",
                  sample["loss_ratio"], labels)
        out.gauge("guestagent_icmp_duplicate_replies", "Duplicate echo replies in the sample.",
                  sample["duplicates"], labels)
        out.gauge("guestagent_icmp_late_replies", "Replies that came after the timeout.",
                  sample["late"], labels)
        out.gauge("guestagent_probe_reachable", "1 when at least one reply came back.",
                  1 if sample["reachable"] else 0, labels)
    stats = sample.get("rtt_ms") or {}
    for stat in ("min", "median", "avg", "p95", "max", "mdev"):
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
        out.gauge("guestagent_icmp_r_factor", "E-model R behind the MOS estimate.",
                  sample["r_factor"], labels)
