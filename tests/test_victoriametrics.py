"""Nothing measured while the uplink was down is lost: reports journaled while the store was
unreachable reach VictoriaMetrics later, each with its own timestamp."""

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
    from guestagent.commands.status import last_outcome
    return last_outcome(str(tmp_path / "state" / "journal"))


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


def journal_dir(tmp_path):
    return str(tmp_path / "state" / "journal")


def set_cursor(tmp_path, cursor):
    """Replace the cursor in the cycle's state, as a cycle would save it."""
    from guestagent.statefile import cycle_state
    state = cycle_state(journal_dir(tmp_path), fresh=True)
    state.put("victoriametrics", cursor)
    state.save()


def points(victoriametrics, expect):
    series = victoriametrics.export(
        'guestagent_last_cycle_timestamp_seconds{instance="van-17"}', expect_points=expect)
    return sorted(stamp for _, _, stamps in series for stamp in stamps)


def stamps_of(tmp_path):
    return sorted(int(round(r["cycle"]["started_ts"] * 1000))
                  for r in journal.read(journal_dir(tmp_path)))


def once_each(got, journaled):
    """Every journaled report's sample is in the store once (timestamps to the millisecond)."""
    return len(got) == len(journaled) and all(abs(a - b) <= 1 for a, b in zip(got, journaled))


def test_foreign_journal_lines_are_errors_once_and_every_report_arrives(tmp_path,
                                                                          victoriametrics):
    from tests.test_journal import FOREIGN
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state",
                                                  url=victoriametrics.url))
    assert run_agent(["run", "--config", config]).returncode == 0
    with open(journal_dir(tmp_path) + "/reports.jsonl", "ab") as f:
        for line in FOREIGN:
            f.write(line.encode("latin-1") + b"\n")
    proc = run_agent(["run", "--config", config])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.count("is not a report; passed over") == len(FOREIGN)
    proc = run_agent(["run", "--config", config])  # passed over once, not every cycle
    assert proc.returncode == 0, proc.stdout
    status = run_agent(["status", "--config", config])
    assert status.returncode == 0 and "Traceback" not in status.stderr
    held = points(victoriametrics, 3)
    print("\nfault suite, foreign journal lines: tried {}, passed over {}, reported once, "
          "tracebacks 0; reports in VictoriaMetrics {} of {}".format(
              len(FOREIGN), len(FOREIGN), len(held), len(stamps_of(tmp_path))))
    assert once_each(held, stamps_of(tmp_path))


def test_a_cursor_that_makes_no_sense_is_an_error_and_the_backlog_still_arrives(
        tmp_path, victoriametrics):
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state",
                                                  url=victoriametrics.url))
    assert run_agent(["run", "--config", config]).returncode == 0
    victoriametrics.stop()
    assert run_agent(["run", "--config", config]).returncode == 1
    set_cursor(tmp_path, {"last_id": 12})
    victoriametrics.start()
    proc = run_agent(["run", "--config", config])
    assert proc.returncode == 1
    first = list(journal.read(journal_dir(tmp_path)))[0]["cycle"]["id"]
    assert "holds no cursor" in proc.stdout
    assert "cursor unusable; resuming after {}".format(first) in proc.stdout
    assert read_outcome(tmp_path)["victoriametrics"]["sent_reports"] == 2
    assert once_each(points(victoriametrics, 3), stamps_of(tmp_path))  # each report once


def test_a_torn_state_write_falls_back_to_the_older_slot_and_sends_each_report_once(
        tmp_path, victoriametrics):
    from guestagent.statefile import CYCLE_STATE, SLOT_BYTES, cycle_state
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state",
                                                  url=victoriametrics.url))
    assert run_agent(["run", "--config", config]).returncode == 0
    assert run_agent(["run", "--config", config]).returncode == 0
    # Power lost while the second cycle's state was written: its slot is half old, half new.
    seq = cycle_state(journal_dir(tmp_path), fresh=True).seq
    path = journal_dir(tmp_path) + "/" + CYCLE_STATE
    with open(path, "r+b") as f:
        f.seek((seq % 2) * SLOT_BYTES + 40)
        f.write(b"\0" * 64)
    state = cycle_state(journal_dir(tmp_path), fresh=True)
    assert state.seq == seq - 1  # the first cycle's state, whole
    proc = run_agent(["run", "--config", config])
    assert proc.returncode == 0, proc.stdout
    outcome = read_outcome(tmp_path)["victoriametrics"]
    # The second cycle's send is not on flash: read back from the store, not sent again.
    assert outcome["settled_in_flight"] == 1 and outcome["sent_reports"] == 1
    assert once_each(points(victoriametrics, 3), stamps_of(tmp_path))


def test_a_caught_up_cycle_reads_only_its_own_line_of_the_journal(tmp_path, victoriametrics):
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state",
                                                  url=victoriametrics.url))
    for _ in range(4):
        assert run_agent(["run", "--config", config]).returncode == 0
    outcome = read_outcome(tmp_path)["victoriametrics"]
    with open(journal_dir(tmp_path) + "/reports.jsonl", "rb") as f:
        lines = f.read().splitlines()
    assert outcome["sent_reports"] == 1 and outcome["backlog_reports"] == 0
    # The new line, its file's first (what it inflates against), and a block back to check the
    # cursor's line: not the journal.
    assert len(lines[-1]) < outcome["journal_read_bytes"] <= len(lines[0]) + len(lines[-1]) + \
        8192 + 1


def test_a_batch_left_in_flight_is_read_back_not_sent_twice(tmp_path, victoriametrics):
    config = write_config(tmp_path, CONFIG.format(state=tmp_path / "state",
                                                  url=victoriametrics.url))
    assert run_agent(["run", "--config", config]).returncode == 0
    [first] = list(journal.read(journal_dir(tmp_path)))
    # As if the process was killed after the store's reply, before the cursor was written.
    set_cursor(tmp_path, {"last_id": None, "in_flight": {"ids": [first["cycle"]["id"]],
                                                         "after": None}})
    assert run_agent(["run", "--config", config]).returncode == 0
    outcome = read_outcome(tmp_path)["victoriametrics"]
    assert outcome["settled_in_flight"] == 1 and outcome["sent_reports"] == 1
    assert once_each(points(victoriametrics, 2), stamps_of(tmp_path))
