"""Whole cycles as EEM starts them (`python -m guestagent run`), against a real Pushgateway and test
points on loopback or in a network namespace the test creates."""

import base64
import fcntl
import json
import os
import threading

import jsonschema
import pytest

from guestagent import report as reports
from guestagent.sinks import journal
from tests.conftest import run_agent, write_config

BASE = """
agent: {{state_dir: {state}, instance: lab-ir1101, deadline_s: 12}}
device: {{kind: simulated}}
path_discovery: {{toward: {toward}}}
probes:
  icmp: {{count: 5, interval_s: 0.2, timeout_s: 1.0}}
  traceroute: {{max_hops: 3}}
targets:
{targets}
sinks:
  pushgateway: {{url: "{url}", timeout_s: 2}}
"""


def config_for(tmp_path, url, targets, toward="127.0.0.1"):
    lines = "\n".join("  - {{name: {}, host: '{}', role: {}}}".format(*t) for t in targets)
    return write_config(tmp_path, BASE.format(state=tmp_path / "state", toward=toward,
                                              targets=lines, url=url))


def journal_reports(tmp_path):
    return list(journal.read(str(tmp_path / "state" / "journal")))


def outcome(tmp_path):
    """The last cycle's sink outcomes: written after its journal line (into the cycle's state
    beside it), never into it."""
    from guestagent.commands.status import last_outcome
    return last_outcome(str(tmp_path / "state" / "journal"))


def validate(report):
    jsonschema.validate(report, reports.load_schema())


def test_cycle_pushes_every_test_point_and_journals_a_valid_report(tmp_path, pushgateway,
                                                                   testpoint_ns):
    config = config_for(tmp_path, pushgateway.url, [
        ("edge-v4", testpoint_ns.v4, "isp-edge"), ("edge-v6", testpoint_ns.v6, "isp-edge"),
        ("loopback", "127.0.0.1", "target")], toward=testpoint_ns.v4)
    proc = run_agent(["run", "--config", config, "--trigger", "timer", "-v"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # -v: one line per probe as it finishes, traceroute included.
    for name in ("edge-v4", "edge-v6", "loopback", "first-hop", "path"):
        assert name in proc.stderr

    [report] = journal_reports(tmp_path)
    validate(report)
    assert report["cycle"]["trigger"] == "timer"
    assert report["agent"]["device"]["kind"] == "simulated"
    by_name = {s["target"]: s for s in report["probes"]}
    assert set(by_name) == {"edge-v4", "edge-v6", "loopback", "first-hop"}
    assert by_name["edge-v6"]["address"] == testpoint_ns.v6
    assert all(s["received"] == 5 and s["error"] is None for s in by_name.values())
    # The path toward the namespace is one hop; that hop is the first-hop test point.
    assert report["path"]["hops"][0]["address"] == testpoint_ns.v4
    assert by_name["first-hop"]["host"] == testpoint_ns.v4
    assert "sinks" not in report  # journaled before any sink ran
    assert outcome(tmp_path)["cycle_id"] == report["cycle"]["id"]
    assert outcome(tmp_path)["pushgateway"]["ok"] is True

    loss = {labels["target"]: value
            for labels, value in pushgateway.samples("guestagent_icmp_loss_ratio")}
    assert loss == {"edge-v4": 0.0, "edge-v6": 0.0, "loopback": 0.0, "first-hop": 0.0}
    [(labels, stamp)] = pushgateway.samples("guestagent_last_cycle_timestamp_seconds")
    assert labels["job"] == "guestagent" and labels["instance"] == "lab-ir1101"
    assert stamp == pytest.approx(report["cycle"]["started_ts"])
    medians = [v for l, v in pushgateway.samples("guestagent_icmp_rtt_seconds")
               if l["stat"] == "median"]
    assert len(medians) == 4 and all(0 < v < 0.1 for v in medians)


def test_a_failed_push_keeps_the_report_and_exits_1(tmp_path):
    from tests.conftest import free_port
    config = config_for(tmp_path, "http://127.0.0.1:{}".format(free_port()),
                        [("loopback", "127.0.0.1", "target")])
    proc = run_agent(["run", "--config", config])
    assert proc.returncode == 1
    [report] = journal_reports(tmp_path)
    validate(report)
    sinks = outcome(tmp_path)
    assert sinks["cycle_id"] == report["cycle"]["id"]
    assert sinks["pushgateway"]["ok"] is False
    assert sinks["pushgateway"]["attempts"] == 2  # one retry inside the deadline
    assert "error: pushgateway:" in proc.stdout
    assert report["probes"][0]["received"] == 5  # the measurement is not lost
    # The next report carries this cycle's outcome into the journal.
    run_agent(["run", "--config", config])
    second = journal_reports(tmp_path)[1]
    assert second["sinks_previous"]["cycle_id"] == report["cycle"]["id"]
    assert second["sinks_previous"]["pushgateway"]["ok"] is False
    validate(second)


def test_storage_figures_and_an_unreachable_store_s_backlog_reach_the_metrics(tmp_path):
    """What GuestagentJournalBacklogNearBound and GuestagentFlashNearFull read (rules/)."""
    from guestagent.cycle import metrics_for
    from tests.conftest import free_port
    config = config_for(tmp_path, "http://127.0.0.1:{}".format(free_port()),
                        [("loopback", "127.0.0.1", "target")])
    with open(config, "a") as f:
        f.write("  victoriametrics: {{url: 'http://127.0.0.1:{}', timeout_s: 1}}\n"
                "journal: {{max_bytes: 200000, keep_files: 2}}\n".format(free_port()))
    for _ in range(2):
        assert run_agent(["run", "--config", config]).returncode == 1
    first, second = journal_reports(tmp_path)
    validate(second)
    assert first["storage"]["journal_bytes"] == 0  # before its own line
    assert second["storage"]["journal_capacity_bytes"] == 200000 * 3
    with open(str(tmp_path / "state" / "journal" / "reports.jsonl"), "rb") as f:
        lines = f.read().splitlines(True)
    assert second["storage"]["journal_bytes"] == len(lines[0])
    assert 0 < second["storage"]["filesystem_free_bytes"] <= \
        second["storage"]["filesystem_size_bytes"]
    # The store never answered: after the first cycle its backlog was the first report.
    backlog = second["sinks_previous"]["victoriametrics"]
    assert backlog["ok"] is False and backlog["backlog_reports"] == 1
    assert backlog["backlog_bytes"] == len(lines[0])
    assert outcome(tmp_path)["victoriametrics"]["backlog_bytes"] == len(lines[0]) + len(lines[1])
    import re
    text = metrics_for(second).render().decode("utf-8")
    assert re.search(r'^guestagent_sink_previous_backlog_bytes\{[^}]*sink="victoriametrics"[^}]*\} '
                     r'%d$' % len(lines[0]), text, re.M)
    assert re.search(r"^guestagent_journal_capacity_bytes(\{[^}]*\})? 600000$", text, re.M)
    assert re.search(r"^guestagent_state_filesystem_free_bytes(\{[^}]*\})? \d", text, re.M)


def test_dry_run_measures_and_journals_but_pushes_nothing(tmp_path, pushgateway):
    config = config_for(tmp_path, pushgateway.url, [("loopback", "127.0.0.1", "target")])
    proc = run_agent(["run", "--config", config, "--dry-run", "--json"])
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed["sinks"]["pushgateway"] == {"ok": False, "skipped": "dry run"}
    assert journal_reports(tmp_path)[0]["cycle"]["id"] == printed["cycle"]["id"]
    assert pushgateway.samples("guestagent_last_cycle_timestamp_seconds") == []


def test_a_second_cycle_while_one_holds_the_lock_exits_3(tmp_path):
    config = config_for(tmp_path, "http://127.0.0.1:9", [("loopback", "127.0.0.1", "target")])
    os.makedirs(str(tmp_path / "state"))
    with open(str(tmp_path / "state" / "cycle.lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242")
        held.flush()
        proc = run_agent(["run", "--config", config], timeout=10)
    assert proc.returncode == 3
    assert "another cycle holds" in proc.stderr
    assert journal_reports(tmp_path) == []


def test_the_deadline_kills_what_still_runs_and_records_it(tmp_path):
    config = config_for(tmp_path, "http://127.0.0.1:9", [("loopback", "127.0.0.1", "target")])
    # 100 pings at 0.2 s need 20 s; the cycle has 3.
    text = open(config).read().replace("count: 5", "count: 100")
    open(config, "w").write(text)
    proc = run_agent(["run", "--config", config, "--deadline", "3", "--dry-run"])
    assert proc.returncode == 1
    [report] = journal_reports(tmp_path)
    assert report["cycle"]["deadline_s"] == 3
    assert report["cycle"]["duration_s"] <= 3.5
    loopback = [s for s in report["probes"] if s["target"] == "loopback"][0]
    assert loopback["error"].startswith("deadline")


class _Recorder(threading.Thread):
    """A loopback HTTP server that records what a Pushgateway would receive."""

    def __init__(self):
        threading.Thread.__init__(self, daemon=True)
        from http.server import BaseHTTPRequestHandler, HTTPServer
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                requests.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:{}".format(self.server.server_port)

    def run(self):
        self.server.serve_forever()


def test_push_uses_basic_auth_and_base64_for_awkward_grouping_values(tmp_path):
    server = _Recorder()
    server.start()
    try:
        (tmp_path / "pw").write_text("s3cret\n")
        config = write_config(tmp_path, """
agent: {{state_dir: {s}, instance: "site/42"}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 2, interval_s: 0.2}}}}
targets: [{{host: 127.0.0.1}}]
sinks:
  pushgateway: {{url: "{u}", username: fleet, password_file: {p}}}
""".format(s=tmp_path / "state", u=server.url, p=tmp_path / "pw"))
        proc = run_agent(["run", "--config", config])
        assert proc.returncode == 0, proc.stderr
    finally:
        server.server.shutdown()
    [(path, headers, body)] = server.requests
    encoded = base64.urlsafe_b64encode(b"site/42").decode().rstrip("=")
    assert path.startswith("/metrics/job/guestagent/instance@base64/" + encoded)
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"fleet:s3cret").decode()
    assert headers["Content-Encoding"] == "gzip"
    import gzip
    assert b"guestagent_icmp_loss_ratio" in gzip.decompress(body)
    assert "s3cret" not in proc.stdout + proc.stderr


def test_bad_config_exits_2_with_every_problem(tmp_path):
    config = write_config(tmp_path, "agent: {interval_s: 0}\ntargets: [{host: 'a b'}]\n")
    proc = run_agent(["run", "--config", config])
    assert proc.returncode == 2
    assert "2 problem(s)" in proc.stderr
    assert "agent.interval_s" in proc.stderr and "targets[0].host" in proc.stderr


# -- every wait has a deadline -----------------------------------------------------------------

HANG_CONFIG = """
agent: {{state_dir: {state}, deadline_s: {deadline}}}
device: {{kind: simulated}}
path_discovery: {{enabled: {path}}}
probes: {{icmp: {{count: 2, interval_s: 0.2, timeout_s: 1.0}}}}
targets:
  - {{name: hangs, host: 127.0.0.1}}
  - {{name: answers, host: 127.0.0.2}}
"""

# Run in a fresh process: `hang` names what blocks forever (a prober, or every router call).
HANG_SCRIPT = r"""
import sys, threading
from guestagent import cli
from guestagent.probes import icmp
from guestagent.device.simulated import SimulatedDevice
forever = threading.Event()
real_probe = icmp.probe
def probe(target, options, deadline, context):
    if target.name == "hangs":
        forever.wait()  # ignores its deadline, as a prober stuck in a read would
    return real_probe(target, options, deadline, context)
def execute(self, command, timeout_s=None):
    forever.wait()  # a router call that never returns, whatever its timeout
if "prober" in sys.argv[1]:
    icmp.probe = probe
if "device" in sys.argv[1]:
    SimulatedDevice.execute = execute
sys.exit(cli.main(["run", "--config", sys.argv[2], "--json"]))
"""


@pytest.mark.parametrize("hang", ["prober", "device", "prober+device"])
def test_a_cycle_ends_within_its_deadline_whatever_hangs_and_journals(tmp_path, hang):
    import subprocess
    import sys
    import time
    from tests.conftest import ROOT
    deadline_s = 4.0
    config = write_config(tmp_path, HANG_CONFIG.format(state=tmp_path / "state",
                                                       deadline=deadline_s, path="false"))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", HANG_SCRIPT, hang, config], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30)
    took_s = time.monotonic() - started
    # The process exits: no worker thread is joined (start-up of the interpreter aside).
    assert took_s < deadline_s + 3, took_s
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    printed = json.loads(proc.stdout)
    assert printed["cycle"]["duration_s"] <= deadline_s + 1
    [report] = journal_reports(tmp_path)
    assert report["cycle"]["id"] == printed["cycle"]["id"]
    validate(report)
    by_name = {s["target"]: s for s in report["probes"]}
    wheres = [e["where"] for e in report["errors"]]
    if "prober" in hang:
        assert by_name["hangs"]["error"].startswith("deadline: probe hangs: no result")
        assert "probe hangs" in wheres
    assert by_name["answers"]["error"] is None and by_name["answers"]["received"] == 2
    if "device" in hang:
        assert "show version" in wheres
        assert any(w.startswith("collect ") for w in wheres)
    # The SLA pass is done even when the worker that prepares it is stuck behind the router.
    assert report["sla"]["error"] is None and "answers" in report["sla"]["targets"]


def test_hung_path_discovery_and_prober_in_process(tmp_path, monkeypatch):
    """The same in one process: Cycle.run returns within deadline_s + 1 s."""
    import time
    from guestagent import config as configs, cycle as cycles
    from guestagent.probes import icmp, traceroute
    release = threading.Event()
    real_probe = icmp.probe

    def hanging(target, options, deadline, context):
        if target.name == "hangs":
            release.wait()
        return real_probe(target, options, deadline, context)

    def hanging_trace(target, options, deadline, context):
        release.wait()

    monkeypatch.setattr(icmp, "probe", hanging)
    monkeypatch.setattr(traceroute, "probe", hanging_trace)
    config = configs.parse(HANG_CONFIG.format(state=tmp_path / "state", deadline=3, path="true"))
    try:
        started = time.monotonic()
        report, code, _ = cycles.run(config)
        assert time.monotonic() - started <= 3 + 1
    finally:
        release.set()  # let the abandoned threads end; their results change nothing
    assert code == 1
    assert report["path"]["error"].startswith("deadline: path discovery")
    assert [s["target"] for s in report["probes"]] == ["hangs", "answers"]
    time.sleep(0.2)
    [journaled] = journal_reports(tmp_path)
    assert journaled["probes"] == report["probes"]


# -- the lock ------------------------------------------------------------------------------------

def test_the_lock_is_taken_before_the_config_is_read(tmp_path):
    from guestagent import cycle as cycles
    config = write_config(tmp_path, "agent: {interval_s: 0}\n")  # would exit 2 once read
    with cycles.early_lock(config):
        proc = run_agent(["run", "--config", config], timeout=10)
    assert proc.returncode == 3, proc.stderr
    assert "another cycle holds" in proc.stderr
    assert run_agent(["run", "--config", config]).returncode == 2  # released


def test_concurrent_first_cycles_one_runs_the_others_exit_3(tmp_path):
    import subprocess
    import sys
    from tests.conftest import ROOT
    config = config_for(tmp_path, "http://127.0.0.1:9", [("loopback", "127.0.0.1", "target")])
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-m", "guestagent", "run", "--config", config,
                               "--dry-run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
             for _ in range(4)]
    results = [(p.wait(60), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert not [err for _, err in results if "Traceback" in err]
    codes = [code for code, _ in results]
    # One runs; the others exit 3 (or run after it, when they started after it ended).
    assert set(codes) <= {0, 3} and codes.count(0) >= 1, results
    assert len(journal_reports(tmp_path)) == codes.count(0)


def test_many_first_cycles_create_the_state_directory_at_once(tmp_path):
    from guestagent import cycle as cycles
    state = str(tmp_path / "a" / "b" / "state")
    outcomes = []
    barrier = threading.Barrier(8)

    def enter():
        barrier.wait()
        try:
            with cycles.CycleLock(state) as lock:
                outcomes.append(lock.problem or "held")
                barrier_done.wait(5)
        except cycles.Locked:
            outcomes.append("locked")
        except Exception as exc:  # the makedirs race this guards against
            outcomes.append(repr(exc))

    barrier_done = threading.Event()
    threads = [threading.Thread(target=enter) for _ in range(8)]
    for t in threads:
        t.start()
    import time
    deadline = time.monotonic() + 10
    while len(outcomes) < 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    barrier_done.set()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["held"] + ["locked"] * 7


def test_a_crashing_task_is_an_error_not_a_traceback(tmp_path, monkeypatch):
    from guestagent import config as configs, cycle as cycles

    def broken(self, *args):
        raise RuntimeError("bug in path discovery")

    monkeypatch.setattr(cycles.Cycle, "discover_path", broken)
    config = configs.parse(HANG_CONFIG.format(state=tmp_path / "state", deadline=5, path="true"))
    report, code, _ = cycles.run(config)
    assert code == 1
    assert report["path"]["error"] == "path discovery crashed: RuntimeError: bug in path discovery"
    assert [s["error"] for s in report["probes"]] == [None, None]
    assert len(journal_reports(tmp_path)) == 1
