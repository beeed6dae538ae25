"""The cycle's contract under SIGKILL and clock steps (docs/architecture.md, "The cycle's
contract"): whole cycles as EEM starts them, against a real VictoriaMetrics and Pushgateway on
loopback, killed at random instants. After every cycle the journal, the SLA state, the store and
the Pushgateway are reconciled: nothing downstream holds a cycle the journal lacks, a kill loses
at most the cycle in flight, and after clean cycles every journaled report is in the state and
in VictoriaMetrics exactly once. Prints its figures."""

import os
import random
import signal
import subprocess
import sys
import time

from guestagent.sinks import journal
from tests.conftest import ROOT, write_config

CONFIG = """
agent: {{state_dir: {state}, instance: van-17, deadline_s: 6}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: {count}, interval_s: 0.2, timeout_s: 1.0}}}}
targets: [{{name: lo4, host: 127.0.0.1, role: isp-edge}}, {{name: lo6, host: "::1"}}]
journal: {{max_bytes: 60000, keep_files: 100}}
sinks:
  pushgateway: {{url: "{push}", timeout_s: 2}}
  victoriametrics: {{url: "{vm}", timeout_s: 3, batch_reports: 3}}
"""
TARGETS = ("lo4", "lo6")


class Agent(object):
    """Runs cycles in fresh processes; `kill_after_s` SIGKILLs the cycle's process group."""

    def __init__(self, tmp_path, pushgateway, victoriametrics, count=1):
        self.state = str(tmp_path / "state")
        self.journal_dir = os.path.join(self.state, "journal")
        self.config = write_config(tmp_path, CONFIG.format(
            state=self.state, push=pushgateway.url, vm=victoriametrics.url, count=count))
        self.offset_s = 0.0

    def cycle(self, kill_after_s=None):
        env = dict(os.environ, PYTHONPATH=ROOT, GUESTAGENT_CLOCK_OFFSET_S=str(self.offset_s))
        env.pop("GUESTAGENT_CONFIG", None)
        proc = subprocess.Popen([sys.executable, "-m", "guestagent", "run", "--config",
                                 self.config, "--trigger", "timer"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        killed = False
        if kill_after_s is not None:
            try:
                proc.wait(kill_after_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
        out, err = proc.communicate(timeout=60)
        err = err.decode("utf-8", "replace")
        assert "Traceback" not in err, err
        if not killed:
            assert proc.returncode in (0, 1), (proc.returncode, err)
        return killed, proc.returncode, out.decode("utf-8", "replace")

    def journaled(self):
        return list(journal.read(self.journal_dir))


def state_samples(state_dir, journal_dir):
    """{target: sample count}, the state's last cycle id and its packets_sent counters: of the
    state as the cycles see it, the store and the journal's reports newer than it (the store is
    written every sla.commit_every reports, docs/sla.md)."""
    from guestagent import sla
    from guestagent.sla import config as sla_config
    path = os.path.join(state_dir, "sla.sqlite3")
    if not os.path.exists(path):
        return {}, None, {}
    seen = sla.open_state(path, journal_dir, sla_config.SCHEMA.defaults(), 300.0)
    try:
        counts = dict((p["name"], len(seen.records(p))) for p in seen.points())
        sent = dict((p["name"], seen.counters(p["id"])["packets_sent"]) for p in seen.points())
        return counts, seen.meta("last_cycle_id"), sent
    finally:
        seen.close()


def store_stamps(victoriametrics, expect=0):
    """Timestamps (ms) of every report sample the store holds, stepped clocks included (the
    export's default range ends now; reports from a clock stepped forward are later)."""
    import json
    import requests
    deadline = time.monotonic() + (10 if expect else 0)
    while True:
        requests.get(victoriametrics.url + "/internal/force_flush", timeout=10)
        text = requests.get(victoriametrics.url + "/api/v1/export", timeout=10, params={
            "match[]": 'guestagent_last_cycle_timestamp_seconds{instance="van-17"}',
            "start": "0", "end": str(int(time.time()) + 30 * 86400)}).text
        held = sorted(s for line in text.splitlines() if line.strip()
                      for s in json.loads(line)["timestamps"])
        if len(held) >= expect or time.monotonic() > deadline:
            return held
        time.sleep(0.2)


def stamp(report):
    return int(round(report["cycle"]["started_ts"] * 1000))


def reconcile(agent, pushgateway, victoriametrics, settled, expect=0):
    """Check the contract after one cycle; `settled`: after a clean cycle, so the state and the
    store must hold every journaled report. Returns (journaled, missing from the store,
    duplicated in the store)."""
    reports = agent.journaled()
    ids = set(r["cycle"]["id"] for r in reports)
    assert len(ids) == len(reports)
    stamps = dict((stamp(r), r["cycle"]["id"]) for r in reports)

    def journaled_stamp(value):
        return any(v in stamps for v in (value - 1, value, value + 1))

    # The state: nothing the journal lacks; after a clean cycle, all of it.
    counts, last_id, sent = state_samples(agent.state, agent.journal_dir)
    assert last_id is None or last_id in ids
    for name in TARGETS:
        in_journal = [s for r in reports for s in r["probes"] if s["target"] == name]
        assert counts.get(name, 0) <= len(in_journal)
        assert sent.get(name, 0) <= sum(s.get("sent") or 0 for s in in_journal
                                        if not s.get("error"))
        if settled:
            assert counts.get(name, 0) == len(in_journal), (name, counts, len(in_journal))
            assert sent.get(name, 0) == sum(s.get("sent") or 0 for s in in_journal
                                            if not s.get("error"))
    # The Pushgateway shows a journaled cycle.
    pushed = pushgateway.samples("guestagent_last_cycle_timestamp_seconds")
    for _, value in pushed:
        assert journaled_stamp(int(round(value * 1000)))
    # VictoriaMetrics: only journaled reports, none twice.
    held = store_stamps(victoriametrics, expect)
    assert all(journaled_stamp(v) for v in held), "the store holds a cycle the journal lacks"
    duplicates = len(held) - len(set(held))
    missing = [i for s, i in stamps.items()
               if not any(abs(s - v) <= 1 for v in held)]
    return reports, missing, duplicates


def test_sigkill_at_random_instants_loses_at_most_the_cycle_in_flight(tmp_path, pushgateway,
                                                                     victoriametrics, figures):
    rng = random.Random(int(os.environ.get("GUESTAGENT_FAULT_SEED", "12")))
    agent = Agent(tmp_path, pushgateway, victoriametrics)
    tried = killed = killed_journaled = 0
    durations = []
    previous_ids = set()
    # Clock steps along the way: backward and forward, as NTP or a battery-less boot would do.
    steps = {30: -3600.0, 45: +5400.0, 70: -86400.0, 90: +600.0}
    started = time.monotonic()
    budget_s = 160.0  # bounded: the figures say how many were tried
    target_tries = 110
    # Until enough kills landed, too: a cycle that ends before its kill instant is a clean one,
    # and the faster the cycle, the more often that happens.
    while (tried < target_tries or killed < 60) and tried < 3 * target_tries and \
            time.monotonic() - started < budget_s:
        if tried in steps:
            agent.offset_s += steps[tried]
        kill = tried >= 3 and rng.random() < 0.75
        typical = sorted(durations)[len(durations) // 2] if durations else 1.0
        t0 = time.monotonic()
        was_killed, code, _ = agent.cycle(rng.uniform(0.05, typical * 1.1) if kill else None)
        tried += 1
        reports, missing, duplicates = reconcile(agent, pushgateway, victoriametrics,
                                                 settled=False)
        ids = set(r["cycle"]["id"] for r in reports)
        assert previous_ids <= ids, "a kill cost a cycle that was already journaled"
        new = ids - previous_ids
        assert len(new) <= 1
        if was_killed:
            killed += 1
            killed_journaled += len(new)
        else:
            assert len(new) == 1, "a clean cycle did not journal its report"
            durations.append(time.monotonic() - t0)
        assert duplicates == 0
        previous_ids = ids
    # Two clean cycles settle what the kills left in flight.
    for _ in range(2):
        was_killed, code, out = agent.cycle()
    reports, missing, duplicates = reconcile(agent, pushgateway, victoriametrics, settled=True,
                                             expect=len(previous_ids) + 2)
    lost = len(missing) + duplicates
    # How often the recovery paths ran: batches read back, reports replayed into the state.
    read_back = sum(((r.get("sinks_previous") or {}).get("victoriametrics") or {}).get(
        "settled_in_flight", 0) for r in reports)
    replayed = sum(1 for r in reports for e in r["errors"]
                   if e["where"] == "sla" and "journaled report(s)" in e["message"])
    figures("\nfault suite, SIGKILL ({:.0f} s): tried {} cycles, killed {} ({} after their journal line, {} "
            "in flight), completed {}; journaled {}; in VictoriaMetrics once {}, twice {}, "
            "missing {}; state == journal; lost {}; clock steps {}; (as far as journaled outcomes "
            "show:) in-flight reports found held by the store {}, cycles that replayed journaled "
            "reports into the state {}".format(
                time.monotonic() - started, tried, killed, killed_journaled, killed - killed_journaled, tried - killed,
                len(reports), len(reports) - len(missing), duplicates, len(missing), lost,
                sorted(steps.values()), read_back, replayed))
    assert tried >= 100
    assert killed >= 50 and killed_journaled >= 5 and killed - killed_journaled >= 5
    assert lost == 0, (missing, duplicates)


def test_clock_steps_backward_and_forward_lose_nothing_and_send_nothing_twice(
        tmp_path, pushgateway, victoriametrics, figures):
    agent = Agent(tmp_path, pushgateway, victoriametrics)
    offsets = [0, -3600, -3600, -7200, 0, +3600, -60, -60, +86400, 0, -1]
    for n, offset in enumerate(offsets):
        agent.offset_s = float(offset)
        if n == 4:
            victoriametrics.stop()  # a backlog built across a step
        if n == 7:
            victoriametrics.start()
        killed, code, out = agent.cycle()
        assert not killed
    reports, missing, duplicates = reconcile(agent, pushgateway, victoriametrics, settled=True,
                                             expect=len(offsets))
    started = [r["cycle"]["started_ts"] for r in reports]
    assert started != sorted(started)  # the clock did go back
    figures("\nfault suite, clock steps {}: tried {}, journaled {}, in VictoriaMetrics once {}, "
            "twice {}, lost {}".format(offsets, len(offsets), len(reports),
                                       len(reports) - len(missing), duplicates, len(missing)))
    assert missing == [] and duplicates == 0
