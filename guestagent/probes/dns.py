"""DNS prober (dnspython): `count` queries to one resolver, timed one by one.

docs/metrics.md (DNS): a query with no answer within `timeout_s` is lost; response time runs from
sending the query to receiving the answer, over answered queries; an answer with an error rcode
(NXDOMAIN, SERVFAIL, ...) is answered, not lost, and its rcode is counted apart.
The target's `host` is the resolver's address, or `system` for the first `nameserver` of
/etc/resolv.conf (Guest Shell's resolver).
"""

import time

from guestagent import quality
from guestagent.probes import common
from guestagent.schema import Int, Num, Section, Str

OPTIONS = Section({
    "query_name": Str("example.com", "the name asked for"),
    "query_type": Str("A", "record type", choices=("A", "AAAA", "NS", "MX", "TXT", "SOA",
                                                   "CNAME", "PTR", "SRV")),
    "count": Int(5, "queries per sample", minimum=1, maximum=100),
    "interval_s": Num(0.2, "pause between queries", minimum=0),
    "timeout_s": Num(2.0, "wait for each answer", above=0),
    "port": Int(53, "", minimum=1, maximum=65535),
    "protocol": Str("udp", "", choices=("udp", "tcp")),
}, default={})

RESOLV_CONF = "/etc/resolv.conf"


def system_resolver(path=None):
    """The first nameserver of resolv.conf, or None."""
    try:
        with open(path or RESOLV_CONF) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1].split("%")[0]
    except (IOError, OSError):
        return None
    return None


def probe(target, options, deadline, context=None):
    started = time.monotonic()
    sample = common.new_sample(target, "dns")
    sample.update({"query_name": options.query_name, "query_type": options.query_type,
                   "count": options.count})
    host = target.host
    if host == "system":
        host = system_resolver()
        if host is None:
            sample["error"] = "no nameserver in " + RESOLV_CONF
            return common.finish(sample, started)
    address, _ = common.resolve_into(sample, host, deadline)
    if address is None:
        return common.finish(sample, started)
    try:
        import dns.message
        import dns.query
        import dns.rcode
        import dns.exception
    except ImportError as exc:
        sample["error"] = "dnspython not installed: {}".format(exc)
        return common.finish(sample, started)
    ask = dns.query.udp if options.protocol == "udp" else dns.query.tcp
    times_ms, rcodes, sent, network_errors = [], {}, 0, []
    for i in range(options.count):
        if i and options.interval_s:
            time.sleep(min(options.interval_s, deadline.remaining()))
        if deadline.remaining() < min(options.timeout_s, 0.5):
            break
        query = dns.message.make_query(options.query_name, options.query_type)
        sent += 1
        asked = time.monotonic()
        try:
            answer = ask(query, address, timeout=min(options.timeout_s, deadline.remaining()),
                         port=options.port)
        except dns.exception.Timeout:
            continue
        except (OSError, EOFError, dns.exception.DNSException) as exc:
            network_errors.append("{}: {}".format(type(exc).__name__, exc))
            continue
        times_ms.append((time.monotonic() - asked) * 1000.0)
        rcode = dns.rcode.to_text(answer.rcode())
        rcodes[rcode] = rcodes.get(rcode, 0) + 1
    if not sent:
        sample["error"] = "deadline: {:.1f} s left, no query sent".format(deadline.remaining())
        return common.finish(sample, started)
    answered = len(times_ms)
    sample.update({
        "queries_sent": sent,
        "queries_answered": answered,
        "loss_ratio": (sent - answered) / float(sent),
        "reachable": answered > 0,
        "rcodes": rcodes,
        "response_ms": None,
    })
    if times_ms:
        stats = quality.rtt_stats(times_ms)
        sample["response_ms"] = {k: stats[k] for k in ("min", "median", "p95", "max")}
    if network_errors:
        sample["network_errors"] = network_errors[:3]
    return common.finish(sample, started)


def metrics(sample, out):
    labels = out.probe_labels(sample)
    if not sample.get("queries_sent"):
        return
    out.gauge("guestagent_dns_queries_sent", "DNS queries sent in this cycle's sample.",
              sample["queries_sent"], labels)
    out.gauge("guestagent_dns_queries_answered", "Queries answered within the timeout.",
              sample["queries_answered"], labels)
    out.gauge("guestagent_dns_query_loss_ratio", "Fraction of queries with no answer in time.",
              sample["loss_ratio"], labels)
    out.gauge("guestagent_probe_reachable", "1 when at least one reply came back.",
              1 if sample["reachable"] else 0, labels)
    for stat, value in sorted((sample.get("response_ms") or {}).items()):
        out.gauge("guestagent_dns_response_seconds", "Query to answer time, by statistic.",
                  value / 1000.0, dict(labels, stat=stat))
    for rcode, n in sorted((sample.get("rcodes") or {}).items()):
        out.gauge("guestagent_dns_answers", "Answers in the sample by response code.", n,
                  dict(labels, rcode=rcode))
