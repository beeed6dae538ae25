"""Small on the wire, checked against the real receivers: Debian's Pushgateway takes the gzip'd
PUT and the POST of changed families and ends up holding what a full push would; VictoriaMetrics
and vmagent take the gzip'd line protocol and store the same series as the text import; a
backlog goes at most `max_bytes` of bodies per cycle; the month's telemetry bytes add up."""

import gzip
import os
import shutil
import subprocess

import pytest

from guestagent import config as configs
from guestagent.cycle import Cycle, metrics_for, telemetry_month
from guestagent.metrics import number
from guestagent.sinks import journal, victoriametrics as vm
from tests.conftest import free_port, stop_process, wait_for_port, write_config

CONFIG = """
agent: {{state_dir: {state}, instance: wire-7, deadline_s: 20}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 2, interval_s: 0.05, timeout_s: 1.0}}}}
targets:
  - {{name: lo1, host: 127.0.0.1, role: isp-edge}}
  - {{name: lo2, host: 127.0.0.2}}
sinks:
{sinks}
"""


def load(tmp_path, sinks):
    return configs.load(write_config(tmp_path, CONFIG.format(state=tmp_path / "state",
                                                             sinks=sinks)))


def read_outcome(tmp_path):
    """The last cycle's sink outcomes, from the cycle's state beside the journal."""
    from guestagent import statefile
    state = statefile.cycle_state(str(tmp_path / "state" / "journal"), fresh=True)
    assert state.found, state.problems
    return state.get("sinks")


def gateway_values(pushgateway):
    """{(name, labels without job/instance): value} of the group the agent pushed."""
    out = {}
    for family in pushgateway.families().values():
        for sample in family.samples:
            labels = dict(sample.labels)
            if labels.pop("instance", None) != "wire-7" or not sample.name.startswith(
                    "guestagent_"):  # the gateway's own push_time_seconds...
                continue
            labels.pop("job", None)
            out[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return out


def expected_values(metric_set):
    out = {}
    for name, (_, _, samples) in metric_set.families.items():
        for key, value in samples.items():
            labels = tuple(sorted((k, v) for k, v in key if v != ""))
            out[(name, labels)] = float(number(name, value))
    return out


def test_the_gateway_takes_gzip_and_after_a_post_of_changed_families_holds_the_whole_cycle(
        tmp_path, pushgateway):
    cfg = load(tmp_path, "  pushgateway: {{url: '{}'}}".format(pushgateway.url))
    methods, sent = [], []
    for _ in range(5):
        cycle = Cycle(cfg)
        report, code = cycle.run()
        outcome = report["sinks"]["pushgateway"]
        assert outcome["ok"] is True, outcome
        methods.append(outcome["method"])
        sent.append(outcome["families_sent"])
        # What the gateway holds is this cycle's metrics, every family, as a full PUT leaves it.
        assert gateway_values(pushgateway) == expected_values(cycle.metric_set)
    total = len(cycle.metric_set.families)
    # Families still appear in the first cycles (rates need two readings, sink outcomes one
    # cycle): each of those is a PUT; then only what changed goes.
    assert methods[0] == "PUT" and methods[-2:] == ["POST", "POST"], methods
    assert all(0 < n < total for n in sent[-2:]), (sent, total)
    # A failed push is followed by a full one.
    cfg.sinks.pushgateway.url = "http://127.0.0.1:{}".format(free_port())
    assert Cycle(cfg).run()[0]["sinks"]["pushgateway"]["ok"] is False
    cfg.sinks.pushgateway.url = pushgateway.url
    assert Cycle(cfg).run()[0]["sinks"]["pushgateway"]["method"] == "PUT"


def test_full_push_s_zero_always_puts_everything(tmp_path, pushgateway):
    cfg = load(tmp_path, "  pushgateway: {{url: '{}', full_push_s: 0, compress: false}}".format(
        pushgateway.url))
    for _ in range(2):
        cycle = Cycle(cfg)
        outcome = cycle.run()[0]["sinks"]["pushgateway"]
        assert outcome["method"] == "PUT" and outcome["ok"] is True
    assert gateway_values(pushgateway) == expected_values(cycle.metric_set)


class VmAgent(object):
    """Debian's vmagent (from the victoria-metrics package) on loopback, writing to `store`."""

    def __init__(self, tmp_path, store):
        binary = shutil.which("vmagent")
        if not binary:
            pytest.skip("vmagent is not installed (Debian's victoria-metrics package ships it)")
        self.port = free_port()
        self.url = "http://127.0.0.1:{}".format(self.port)
        self.log = open(str(tmp_path / "vmagent.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "-httpListenAddr=127.0.0.1:{}".format(self.port),
             "-remoteWrite.url={}/api/v1/write".format(store.url),
             "-remoteWrite.tmpDataPath=" + str(tmp_path / "vmagent-data"),
             "-remoteWrite.flushInterval=200ms"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)

    def stop(self):
        stop_process(self.proc, self.log, 10)


def stored(victoriametrics, instance, expect_points):
    """{(name, labels): [values]} of an instance's series in the store."""
    rows = victoriametrics.export('{{instance="{}"}}'.format(instance),
                                  expect_points=expect_points, wait_s=20)
    out = {}
    for labels, values, _ in rows:
        labels = dict(labels)
        name = labels.pop("__name__")
        labels.pop("instance")
        labels.pop("job")
        out[(name, tuple(sorted(labels.items())))] = values
    return out


def test_line_protocol_and_text_import_store_the_same_series_directly_and_through_vmagent(
        tmp_path, victoriametrics):
    cfg = load(tmp_path, "")
    report = Cycle(cfg, dry_run=True).run()[0]
    series = metrics_for(report).series()
    agent = VmAgent(tmp_path, victoriametrics)
    try:
        sinks = {}
        for instance, url, fmt in (("direct-influx", victoriametrics.url, "influx"),
                                   ("direct-text", victoriametrics.url, "prometheus"),
                                   ("agent-influx", agent.url, "influx")):
            sink = configs.load(write_config(tmp_path, CONFIG.format(
                state=tmp_path / "state", sinks="  victoriametrics: {{url: '{}', format: {}}}"
                .format(url, fmt)))).sinks.victoriametrics
            counter = {}
            vm.send(sink, vm.render_one(report, fmt), "guestagent", instance, 5,
                    counter=counter)
            assert counter["wire_bytes"] > 0
            sinks[instance] = stored(victoriametrics, instance, series)
    finally:
        agent.stop()
    direct = sinks["direct-influx"]
    assert len(direct) == series
    assert sinks["direct-text"] == direct
    assert sinks["agent-influx"] == direct
    marker = [v for (name, _), v in direct.items() if name == vm.MARKER]
    assert marker == [[round(report["cycle"]["started_ts"], 3)]]


def test_a_backlog_goes_at_most_max_bytes_of_bodies_a_cycle_and_every_report_once(
        tmp_path, victoriametrics):
    cfg = load(tmp_path, "  victoriametrics: {{url: '{}', timeout_s: 3, max_bytes: 4096}}"
               .format(victoriametrics.url))
    Cycle(cfg).run()  # the cursor starts here
    victoriametrics.stop()
    for _ in range(6):
        assert Cycle(cfg).run()[0]["sinks"]["victoriametrics"]["ok"] is False
    victoriametrics.start()
    sent, rounds = [], 0
    while rounds < 10:
        rounds += 1
        outcome = Cycle(cfg).run()[0]["sinks"]["victoriametrics"]
        assert outcome["ok"] is True, outcome
        sent.append(outcome["sent_reports"])
        # The cycle's bodies stay within max_bytes (one report always goes).
        assert outcome["body_bytes"] <= 4096 or outcome["sent_reports"] == 1
        if not outcome["backlog_reports"]:
            break
        assert outcome["bytes_capped"] is True
    assert len(sent) > 1 and max(sent) < 7, sent  # drained over several cycles
    reports = list(journal.read(str(tmp_path / "state" / "journal")))
    [(_, values, stamps)] = victoriametrics.export(
        '{}{{instance="wire-7"}}'.format(vm.MARKER), expect_points=len(reports))
    assert len(stamps) == len(reports) == len(set(stamps))


def test_the_month_s_telemetry_bytes_add_up_and_start_again_in_a_new_month(tmp_path,
                                                                           pushgateway):
    assert telemetry_month(None, "2026-12", 500) == {"month": "2026-12", "wire_bytes": 500,
                                                     "cycle_wire_bytes": 500}
    before = {"telemetry": {"month": "2026-11", "wire_bytes": 10 ** 7}}
    assert telemetry_month(before, "2026-12", 700)["wire_bytes"] == 700
    before = {"telemetry": {"month": "2026-12", "wire_bytes": 1000}}
    assert telemetry_month(before, "2026-12", 700)["wire_bytes"] == 1700

    cfg = load(tmp_path, "  pushgateway: {{url: '{}'}}".format(pushgateway.url))
    cycles = [Cycle(cfg).run()[0] for _ in range(3)]
    per_cycle = [r["sinks"]["telemetry"]["cycle_wire_bytes"] for r in cycles]
    assert all(r["sinks"]["pushgateway"]["wire_bytes"] == n for r, n in zip(cycles, per_cycle))
    assert read_outcome(tmp_path)["telemetry"]["wire_bytes"] == sum(per_cycle)
    # Pushed with the next cycle (its own bytes are known only once sent).
    assert metrics_for(cycles[-1]).value("guestagent_telemetry_month_bytes") == \
        sum(per_cycle[:2])


ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_the_counted_bytes_are_the_bytes_the_server_read(tmp_path):
    """A raw loopback server counts every byte of each request (head and body) and answers
    with a fixed head: the sink's count is that plus the answer, exactly."""
    import socket
    import threading
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    received = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")][0])
                while len(body) < length:
                    body += conn.recv(65536)
                received.append(len(head) + 4 + len(body))
                conn.sendall(ANSWER)

    thread = threading.Thread(target=serve)
    thread.daemon = True
    thread.start()
    try:
        cfg = load(tmp_path, "  pushgateway: {{url: 'http://127.0.0.1:{}'}}".format(
            listener.getsockname()[1]))
        report = Cycle(cfg).run()[0]
    finally:
        listener.close()
    outcome = report["sinks"]["pushgateway"]
    assert outcome["ok"] is True and len(received) == 1
    assert outcome["wire_bytes"] == received[0] + len(ANSWER)
    assert report["sinks"]["telemetry"]["cycle_wire_bytes"] == outcome["wire_bytes"]


def test_bodies_are_gzip_with_the_headers_the_receivers_read(tmp_path):
    cfg = load(tmp_path, "  pushgateway: {url: 'http://127.0.0.1:9'}")
    from guestagent.sinks import pushgateway
    text = b"guestagent_cycle_errors 0\n"
    headers, body = pushgateway.request(text, cfg.sinks.pushgateway)
    assert dict(headers)["Content-Encoding"] == "gzip" and gzip.decompress(body) == text
    assert pushgateway.gzip_body(text) == pushgateway.gzip_body(text)  # no name, no mtime
    assert os.path.basename(__file__) == "test_wire.py"


@pytest.mark.parametrize("line, key, said", [
    ("max_bytes: 100", "sinks.victoriametrics.max_bytes", "expected"),
    ("format: snappy", "sinks.victoriametrics.format", "expected one of 'influx', 'prometheus'"),
    ("compress: maybe", "sinks.victoriametrics.compress", "expected"),
])
def test_the_new_sink_keys_are_checked_like_the_others(tmp_path, line, key, said):
    from tests.conftest import run_agent
    path = write_config(tmp_path, CONFIG.format(
        state=tmp_path / "state", sinks="  victoriametrics:\n    url: http://127.0.0.1:9\n"
        "    " + line))
    proc = run_agent(["check-config", "--config", path])
    assert proc.returncode == 2
    assert "{}:12: {}: {}".format(path, key, said) in proc.stderr, proc.stderr
