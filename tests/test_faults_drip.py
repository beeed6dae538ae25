"""Fault injection: servers that drip one byte per second (in headers, in the body, in the TLS
handshake) or accept and never answer, against each sink and each prober, and against a whole
cycle. Socket timeouts apply per read, so only a total deadline ends these exchanges: each must
end within its deadline + 1 s, with the failure recorded. Prints tried / ended in time.

The servers (tests/dripserver.py) run in threads of the test, on loopback.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from guestagent.deadline import Deadline
from guestagent.schema import Namespace
from tests.dripserver import DnsUdpSilent, DripServer

BOUND_S = 1.0  # allowed past a deadline
HTTP_MODES = ("hang", "headers", "body", "tls")


@pytest.fixture
def servers():
    started = []

    def make(mode, **kw):
        server = (DnsUdpSilent() if mode == "dns-udp" else DripServer(mode, **kw)).start()
        started.append(server)
        return server
    yield make
    for server in started:
        server.stop()


def sink_config(url, timeout_s, **kw):
    values = dict(url=url, job=None, username=None, password=None, password_file=None,
                  bearer_token=None, bearer_token_file=None, ca_file=None, verify_tls=True,
                  timeout_s=timeout_s, max_reports=10, batch_reports=5)
    values.update(kw)
    return Namespace(values)


def url_for(server):
    return server.https_url if server.mode == "tls" else server.url


def metric_set():
    from guestagent.metrics import MetricSet
    out = MetricSet()
    out.gauge("guestagent_cycle_errors", "Errors recorded in the last cycle's report.", 0)
    return out


def run_cases(cases):
    """Run (name, deadline_s, call) cases at once; each call returns (failure recorded, detail).
    Returns rows (name, deadline_s, elapsed_s, recorded, detail)."""
    def one(case):
        name, deadline_s, call = case
        started = time.monotonic()
        try:
            recorded, detail = call(deadline_s)
        except Exception as exc:  # a raise is a failure of the contract, shown in the table
            recorded, detail = False, "RAISED {}: {}".format(type(exc).__name__, exc)
        return name, deadline_s, time.monotonic() - started, recorded, detail

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        return list(pool.map(one, cases))


def report_rows(capsys, title, rows):
    in_time = [r for r in rows if r[2] <= r[1] + BOUND_S]
    recorded = [r for r in rows if r[3]]
    with capsys.disabled():
        print("\n{}: {} tried, {} ended within deadline + {:.0f} s, {} with the failure "
              "recorded".format(title, len(rows), len(in_time), BOUND_S, len(recorded)))
        for name, deadline_s, elapsed, ok, detail in rows:
            print("  {:<34} {:5.2f} s of {:.1f} s  {}  {}".format(
                name, elapsed, deadline_s, "recorded" if ok else "NOT RECORDED",
                str(detail)[:90]))
    late = [r[0] for r in rows if r not in in_time]
    unrecorded = [r[0] for r in rows if not r[3]]
    assert not late and not unrecorded, (late, unrecorded)


# -- sinks -------------------------------------------------------------------------------------

def push_case(url, timeout_s):
    def call(deadline_s):
        from guestagent.sinks import pushgateway
        outcome = pushgateway.push(metric_set(), sink_config(url, timeout_s), "guestagent",
                                   "drip", Deadline(deadline_s))
        return (not outcome["ok"] and _timeout_or_status(outcome.get("error"))), outcome
    return call


def import_case(url, timeout_s):
    def call(deadline_s):
        from guestagent.sinks import http, victoriametrics
        deadline = Deadline(deadline_s)
        try:
            victoriametrics.send(sink_config(url, timeout_s), b"guestagent_x 1\n", "guestagent",
                                 "drip", min(timeout_s, deadline.remaining()), deadline)
        except http.SinkError as exc:
            return _timeout_or_status(str(exc)), str(exc)
        return False, "accepted"
    return call


def _timeout_or_status(error):
    """A timeout, or the error status of a server that drips the body of its error answer
    (a sink reads no body after a 2xx: the status is the answer)."""
    return bool(error) and ("timed out" in error or error.startswith("HTTP 503 "))


def test_sinks_end_within_their_deadline(servers, capsys):
    cases = []
    for mode in HTTP_MODES:
        sinks_server = (lambda: servers(mode, status=503)) if mode == "body" else \
            (lambda: servers(mode))
        # A timeout longer than the deadline (the deadline ends it), and a short one (each of
        # the two push attempts ends at its own timeout).
        cases.append(("pushgateway {} (timeout 10 s)".format(mode), 2.0,
                      push_case(url_for(sinks_server()), 10.0)))
        cases.append(("pushgateway {} (timeout 0.8 s)".format(mode), 2.0,
                      push_case(url_for(sinks_server()), 0.8)))
        cases.append(("victoriametrics {} (timeout 10 s)".format(mode), 2.0,
                      import_case(url_for(sinks_server()), 10.0)))
        cases.append(("victoriametrics {} (timeout 0.8 s)".format(mode), 2.0,
                      import_case(url_for(sinks_server()), 0.8)))
    report_rows(capsys, "drip servers against the sinks", run_cases(cases))


# -- probers -----------------------------------------------------------------------------------

def target(kind):
    return Namespace(name="drip-" + kind, host="127.0.0.1", kind=kind, role="target",
                     group=None, via="guestshell", vrf=None)


def http_case(server, timeout_s):
    def call(deadline_s):
        from guestagent.probes import http as http_probe
        options = http_probe.OPTIONS.defaults()
        options.update(scheme="https" if server.mode == "tls" else "http", port=server.port,
                       count=2, timeout_s=timeout_s)
        sample = http_probe.probe(target("http"), Namespace(options), Deadline(deadline_s))
        failed = sample.get("error") or (sample.get("loss_ratio") == 1.0 and
                                         sample.get("failures"))
        return bool(failed) and "timed out" in str(sample), sample.get("error") or \
            sample.get("failures")
    return call


def throughput_case(server, tmp_path):
    def call(deadline_s):
        from guestagent.probes import throughput
        options = throughput.OPTIONS.defaults()
        options.update(scheme="https" if server.mode == "tls" else "http", port=server.port,
                       download_bytes=100000, upload_bytes=100000, max_seconds=1.0,
                       timeout_s=10.0)
        state = tmp_path / "throughput-{}".format(server.port)
        state.mkdir()
        sample = throughput.probe(target("throughput"), Namespace(options),
                                  Deadline(deadline_s),
                                  Namespace(state_dir=str(state), trigger="manual"))
        errors = sample.get("errors") or []
        download = sample.get("download") or {}
        # Either the transfer failed (recorded in errors) or it was cut at max_seconds with
        # what little arrived (recorded as such).
        recorded = any("timed out" in e for e in errors) or (
            download.get("stopped_by") == "max_seconds" and download["bytes"] < 100)
        return recorded, errors or download
    return call


def dns_case(server, protocol, timeout_s):
    def call(deadline_s):
        from guestagent.probes import dns as dns_probe
        options = Namespace(query_name="qoe.lab", query_type="A", count=3, interval_s=0.0,
                            timeout_s=timeout_s, port=server.port, protocol=protocol)
        sample = dns_probe.probe(target("dns"), options, Deadline(deadline_s))
        recorded = sample.get("queries_answered") == 0 and sample.get("loss_ratio") == 1.0
        return recorded, {k: sample.get(k) for k in ("queries_sent", "loss_ratio", "error",
                                                      "network_errors")}
    return call


def test_probers_end_within_their_deadline(servers, tmp_path, capsys):
    cases = []
    for mode in HTTP_MODES:
        cases.append(("http {} (timeout 10 s)".format(mode), 2.0,
                      http_case(servers(mode), 10.0)))
        cases.append(("http {} (timeout 0.7 s)".format(mode), 2.5,
                      http_case(servers(mode), 0.7)))
        cases.append(("throughput {}".format(mode), 4.0, throughput_case(servers(mode),
                                                                         tmp_path)))
    for mode, protocol in (("dns-udp", "udp"), ("dns-hang", "tcp"), ("dns-drip", "tcp")):
        cases.append(("dns {} (timeout 10 s)".format(mode), 2.0,
                      dns_case(servers(mode), protocol, 10.0)))
        cases.append(("dns {} (timeout 0.5 s)".format(mode), 2.5,
                      dns_case(servers(mode), protocol, 0.5)))
    report_rows(capsys, "drip servers against the probers", run_cases(cases))


def test_a_phase_timeout_is_a_failed_request_and_the_deadline_a_measurement_error(servers):
    from guestagent.probes import http as http_probe
    server = servers("headers")
    options = http_probe.OPTIONS.defaults()
    options.update(scheme="http", port=server.port, count=2, timeout_s=0.6)
    failed = http_probe.probe(target("http"), Namespace(options), Deadline(5))
    assert failed["error"] is None and failed["requests_sent"] == 2
    assert failed["loss_ratio"] == 1.0 and failed["reachable"] is False
    assert failed["failures"][0].startswith("timed out: the wait for the response took too long")
    options.update(timeout_s=30)
    cut = http_probe.probe(target("http"), Namespace(options), Deadline(1.5))
    assert cut["error"].startswith("deadline: no request finished in time (timed out: the "
                                   "deadline came during the wait for the response")
    assert cut["requests_cut"] == 1 and "loss_ratio" not in cut


# -- a whole cycle -----------------------------------------------------------------------------

CYCLE_CONFIG = """
agent: {{state_dir: {state}, deadline_s: {deadline_s}, instance: drip-lab}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
targets:
  - {{name: web, host: 127.0.0.1, kind: http, scheme: {scheme}, port: {web}, timeout_s: 10,
     count: 2}}
  - {{name: speed, host: 127.0.0.1, kind: throughput, scheme: {scheme}, port: {speed},
     timeout_s: 10, max_seconds: 8, download_bytes: 100000, upload_bytes: 100000}}
sinks:
  pushgateway: {{url: "{push}", timeout_s: 10}}
  victoriametrics: {{url: "{vm}", timeout_s: 10}}
"""


@pytest.mark.parametrize("mode", HTTP_MODES)
def test_a_cycle_against_drip_servers_ends_in_time_and_writes_its_report(mode, servers,
                                                                         tmp_path, capsys):
    from guestagent import config as configuration
    from guestagent import cycle
    from guestagent.sinks import journal
    from tests.conftest import write_config
    deadline_s = 4.0
    web, speed = servers(mode), servers(mode)
    # A sink reads no body after a 2xx: the body that drips is an error's.
    push, vm = (servers(mode, status=503 if mode == "body" else 200) for _ in range(2))
    path = write_config(tmp_path, CYCLE_CONFIG.format(
        state=tmp_path / "state", deadline_s=deadline_s,
        scheme="https" if mode == "tls" else "http", web=web.port, speed=speed.port,
        push=url_for(push), vm=url_for(vm)))
    config = configuration.load(path)
    started = time.monotonic()
    report, code, _ = cycle.run(config, trigger="manual")
    elapsed = time.monotonic() - started
    journaled = list(journal.read(str(tmp_path / "state" / "journal")))
    with capsys.disabled():
        print("\ncycle against {} drip servers: {:.2f} s of {:.1f} s, {} report(s) journaled, "
              "errors at {}".format(mode, elapsed, deadline_s, len(journaled),
                                    sorted(e["where"] for e in report["errors"])))
    assert elapsed <= deadline_s + BOUND_S
    assert code == 1
    assert [r["cycle"]["id"] for r in journaled] == [report["cycle"]["id"]]
    wheres = set(e["where"] for e in report["errors"])
    assert {"pushgateway", "probe web"} <= wheres
    assert report["sinks"]["pushgateway"]["ok"] is False
    assert (push.connections, web.connections) != (0, 0)
    speed_sample = [s for s in report["probes"] if s["target"] == "speed"][0]
    assert speed_sample.get("errors") or speed_sample["download"]["stopped_by"] == "max_seconds"
