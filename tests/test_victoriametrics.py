"""Nothing measured while the uplink was down is lost: reports journaled while the store was
unreachable reach VictoriaMetrics later, each with its own timestamp."""

import json

from guestagent.sinks import journal
from tests.conftest import run_agent, write_config

CONFIG = """
agent: {{state_dir: {state}, instance: van-17}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 2, interval_s: 0.2, timeout_s: 1.0}}}}
targets: [{{name: loopback, host: 127.0.0.1, role: isp-edge}}]
sinks:
  victoriametrics: {{url: "{url}", timeout_s: 3, batch_reports: 2}}
"""


def read_outcome(tmp_path):
    with open(str(tmp_path / "state" / "journal" / "sinks.json")) as f:
        return json.load(f)


def test_backlog_from_an_outage_arrives_with_original_timestamps(tmp_path, victoriametrics):
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state",
                                                  url=victoriametrics.url))

    def cycle():
        return run_agent(["run", "--config", config, "--trigger", "timer"])

    assert cycle().returncode == 0
    victoriametrics.stop()  # the uplink goes down
    for _ in range(2):
        proc = cycle()
        assert proc.returncode == 1 and "victoriametrics" in proc.stdout
    victoriametrics.start()  # and comes back
    assert cycle().returncode == 0

    journaled = list(journal.read(str(tmp_path / "state" / "journal")))
    assert len(journaled) == 4
    # Each cycle's outcome is journaled with the next report (the journal line comes first).
    assert journaled[0]["sinks_previous"] is None
    assert [r["sinks_previous"]["victoriametrics"]["ok"] for r in journaled[1:]] == [
        True, False, False]
    last = read_outcome(tmp_path)
    assert last["cycle_id"] == journaled[-1]["cycle"]["id"]
    assert last["victoriametrics"]["ok"] is True
    assert last["victoriametrics"]["sent_reports"] == 3  # two late + its own

    [(labels, values, stamps)] = victoriametrics.export(
        'guestagent_last_cycle_timestamp_seconds{instance="van-17"}', expect_points=4)
    assert labels["job"] == "guestagent"
    expected = [r["cycle"]["started_ts"] * 1000 for r in journaled]
    # Each sample carries its own cycle's start time (to the millisecond).
    assert len(stamps) == 4
    assert all(abs(got - want) <= 1 for got, want in zip(stamps, expected)), (stamps, expected)
    assert all(abs(v * 1000 - want) <= 1 for v, want in zip(values, expected))

    series = victoriametrics.export('guestagent_icmp_loss_ratio{target="loopback"}',
                                    expect_points=4)
    assert len(series) == 1 and len(series[0][2]) == 4


def test_dry_run_sends_nothing(tmp_path, victoriametrics):
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state",
                                                  url=victoriametrics.url))
    proc = run_agent(["run", "--config", config, "--dry-run"])
    assert proc.returncode == 0, proc.stdout
    assert victoriametrics.export('{__name__=~"guestagent_.*"}') == []
