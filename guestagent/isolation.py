"""Which domain is at fault this cycle: the customer's own side, the access/ISP, or beyond it.

Test points carry roles along the path: `first-hop` (the router's gateway, found by traceroute),
`isp-edge` (the provider's edge), `target` (beyond the ISP) and `dns` (resolvers). A role is bad
when any of its samples is unavailable by the rule of docs/metrics.md (loss_ratio > loss_max, or
median RTT > rtt_max_ms, or no reply); samples with a measurement error say nothing and are left
out. Walking outward, the first bad segment names the domain:

- `local`: the first hop is already bad (the router's own link or LAN side);
- `access`: the first hop is fine, the ISP edge is bad (the access line or the ISP's network);
- `beyond-isp`: the ISP edge is fine, the targets are bad;
- `dns-only`: every ICMP segment is fine, a resolver is bad;
- `healthy`: nothing is bad; `unknown`: no usable sample at all.
"""

# The availability rule's defaults (docs/metrics.md); `sla.loss_max`/`sla.rtt_max_ms` override.
LOSS_MAX = 0.2
RTT_MAX_MS = 500.0

SEGMENTS = (("first-hop", "local"), ("isp-edge", "access"), ("target", "beyond-isp"))
VERDICTS = ("healthy", "local", "access", "beyond-isp", "dns-only", "unknown")


def sample_bad(sample, loss_max=LOSS_MAX, rtt_max_ms=RTT_MAX_MS):
    """True/False by the availability rule; None when the sample says nothing."""
    if sample.get("error"):
        return None
    if sample.get("kind") == "throughput" or sample.get("skipped"):
        return None
    if sample.get("kind") == "dns":
        loss = sample.get("loss_ratio")
        delay = (sample.get("response_ms") or {}).get("median")
    elif sample.get("kind") == "http":
        loss = sample.get("loss_ratio")
        delay = ((sample.get("phases_ms") or {}).get("total") or {}).get("median")
    else:
        loss = sample.get("loss_ratio")
        delay = (sample.get("rtt_ms") or {}).get("median")
    if loss is None:
        return None
    if not sample.get("reachable", loss < 1.0):
        return True
    if loss > loss_max:
        return True
    return delay is not None and delay > rtt_max_ms


def verdict(samples, loss_max=LOSS_MAX, rtt_max_ms=RTT_MAX_MS):
    """The cycle's verdict with the evidence: per role, the test points judged good and bad."""
    roles = {}
    for sample in samples:
        bad = sample_bad(sample, loss_max, rtt_max_ms)
        if bad is None:
            continue
        entry = roles.setdefault(sample.get("role") or "target", {"good": [], "bad": []})
        entry["bad" if bad else "good"].append(sample["target"])
    result = {"verdict": "unknown", "roles": roles, "segment": None}
    if not roles:
        return result
    for role, name in SEGMENTS:
        if roles.get(role, {}).get("bad"):
            result.update(verdict=name, segment=role)
            return result
    if roles.get("dns", {}).get("bad"):
        result.update(verdict="dns-only", segment="dns")
        return result
    result["verdict"] = "healthy"
    return result


def metrics(section, out):
    for name in VERDICTS:
        out.gauge("guestagent_isolation_verdict",
                  "1 for this cycle's fault domain: healthy, local, access, beyond-isp, dns-only "
                  "or unknown.", 1 if section.get("verdict") == name else 0, {"verdict": name})
