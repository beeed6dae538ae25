"""A full or read-only flash: the cycle still measures, prints its report (exit 1) with the
errors, leaves no debris, and nothing downstream gets what the journal lacks. Real file systems:
a small tmpfs filled up, and a read-only bind mount (root only)."""

import contextlib
import json
import os
import subprocess

import pytest

from guestagent.sinks import journal
from tests.conftest import is_root, run_agent, write_config

pytestmark = pytest.mark.skipif(not is_root(), reason="mounting file systems needs root")

CONFIG = """
agent: {{state_dir: {state}, instance: van-17, deadline_s: 8}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 2, interval_s: 0.2, timeout_s: 1.0}}}}
targets: [{{name: loopback, host: 127.0.0.1, role: isp-edge}}]
{sinks}
"""


def mount(*args):
    subprocess.run(["mount"] + list(args), check=True, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)


@contextlib.contextmanager
def mounted(path, *args):
    os.makedirs(path, exist_ok=True)
    mount(*(list(args) + [path]))
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)


def fill(directory):
    """Fill the file system until it refuses one more byte."""
    fd = os.open(os.path.join(directory, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def debris(directory):
    found = []
    for root, _, names in os.walk(directory):
        found.extend(os.path.join(root, n) for n in names if n.endswith(".tmp"))
    return found


def run_json(config):
    proc = run_agent(["run", "--config", config, "--json"])
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(proc.stdout)


def wheres(report):
    return set(e["where"] for e in report["errors"])


def test_a_full_flash_measures_prints_and_commits_nothing_the_journal_lacks(tmp_path,
                                                                          victoriametrics, figures):
    state = str(tmp_path / "state")
    with mounted(state, "-t", "tmpfs", "-o", "size=8m", "tmpfs"):
        config = write_config(tmp_path, CONFIG.format(state=state, sinks="sinks: {{victoriametrics: "
                                                      "{{url: '{}', timeout_s: 3}}}}".format(
                                                          victoriametrics.url)))
        proc, first = run_json(config)
        assert proc.returncode == 0, proc.stdout
        journal_file = os.path.join(state, "journal", "reports.jsonl")
        # A compact line fits in the room left in the file's last page, which a full flash
        # still takes: blank lines (passed over by every reader) fill that page first.
        with open(journal_file, "ab") as f:
            f.write(b"\n" * (-os.path.getsize(journal_file) % 4096))
        before = open(journal_file, "rb").read()
        fill(state)
        proc, report = run_json(config)
        assert proc.returncode == 1
        assert report["probes"][0]["received"] == 2  # measured all the same
        assert {"journal", "sla"} <= wheres(report)
        assert report["sinks"]["victoriametrics"]["skipped"] == "report not journaled"
        assert open(journal_file, "rb").read() == before  # no half line
        assert debris(state) == []
        os.remove(os.path.join(state, "filler"))
        proc, third = run_json(config)
        assert proc.returncode == 0, proc.stdout
    # The state counts the two journaled cycles only; the store holds them once each.
    assert third["sla"]["targets"]["loopback"]["counters"]["packets_sent"] == 4
    series = victoriametrics.export('guestagent_last_cycle_timestamp_seconds', expect_points=2)
    stamps = sorted(s for _, _, ss in series for s in ss)
    want = sorted(int(r["cycle"]["started_ts"] * 1000) for r in (first, third))
    figures("\nfault suite, full flash: 3 cycles measured and printed, 2 journaled, state "
            "counts 2, VictoriaMetrics holds {} of 2, debris 0".format(len(stamps)))
    assert len(stamps) == 2 and all(abs(a - b) <= 1 for a, b in zip(stamps, want))


@pytest.mark.parametrize("fresh", [False, True], ids=["with-state", "empty"])
def test_a_read_only_state_directory_still_measures_and_prints(tmp_path, fresh, figures):
    state = str(tmp_path / "state")
    os.makedirs(state)
    config = write_config(tmp_path, CONFIG.format(state=state, sinks=""))
    if not fresh:
        proc, _ = run_json(config)
        assert proc.returncode == 0, proc.stdout
    listing = sorted(os.listdir(state))
    with mounted(state, "--bind", state):
        mount("-o", "remount,ro,bind", state)
        proc, report = run_json(config)
        assert proc.returncode == 1
        assert report["probes"][0]["received"] == 2
        assert {"lock", "journal", "sla"} <= wheres(report), report["errors"]
        assert any("read-only" in e["message"] for e in report["errors"] if e["where"] == "sla")
        assert sorted(os.listdir(state)) == listing
    assert debris(state) == []
    figures("\nfault suite, read-only state ({}): measured {}, printed, errors {}, debris 0".format(
          "empty" if fresh else "with state", len(report["probes"]), sorted(wheres(report))))


def test_an_sla_state_failure_is_an_error_of_the_cycle(tmp_path):
    state = tmp_path / "state"
    (state / "sla.sqlite3").mkdir(parents=True)  # not a database file at all
    config = write_config(tmp_path, CONFIG.format(state=state, sinks=""))
    proc, report = run_json(config)
    assert proc.returncode == 1
    assert "sla" in wheres(report) and report["sla"]["error"]
    [journaled] = journal.read(str(state / "journal"))
    assert journaled["cycle"]["id"] == report["cycle"]["id"]
