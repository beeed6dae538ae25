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
            answer = _ask(query, address, options, deadline.within(options.timeout_s))
        except dns.exception.Timeout:
            continue
        except (OSError, EOFError, ValueError, dns.exception.DNSException) as exc:
            network_errors.append("{}: {}".format(type(exc).__name__, exc)[:200])
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


def _ask(query, address, options, limit):
    """One query, answered or not within `limit` (a Deadline). dnspython bounds each query in
    total, on the wall clock; over TCP the socket is ours too, watched on the monotonic clock,
    so neither a server that drips its answer nor a clock step stretches it."""
    import dns.exception
    import dns.query
    if options.protocol == "udp":
        return dns.query.udp(query, address, timeout=limit.remaining(), port=options.port)
    import socket
    from guestagent.deadline import Watchdog
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, Watchdog(limit) as guard:
        guard.watch(sock)
        sock.settimeout(max(0.001, limit.remaining()))
        try:
            sock.connect((address, options.port))
        except socket.timeout:
            raise dns.exception.Timeout()
        sock.setblocking(False)  # what dnspython asks of a socket it is given
        try:
            return dns.query.tcp(query, address, timeout=limit.remaining(), port=options.port,
                                 sock=sock)
        except (OSError, EOFError):
            if guard.expired():
                raise dns.exception.Timeout()
            raise


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
