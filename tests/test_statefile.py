"""The cycle's state in two slots written in place: a power loss mid-write leaves the older slot,
and no file is created, renamed or deleted once the state exists (docs/flash.md)."""

import os

import pytest

from guestagent import statefile


def test_saves_alternate_slots_in_place_and_the_newest_is_read(tmp_path):
    path = str(tmp_path / "cycle.state")
    state = statefile.SlotState(path)
    assert not state.found and state.problems == []
    inodes = set()
    for n in range(5):
        state.put("sinks", {"cycle_id": "c%d" % n})
        state.save()
        inodes.add(os.stat(path).st_ino)
        assert statefile.read_slots(path) == (n + 1, {"sinks": {"cycle_id": "c%d" % n}})
    assert len(inodes) == 1 and os.listdir(str(tmp_path)) == ["cycle.state"]
    again = statefile.SlotState(path)
    assert again.found and again.seq == 5 and again.get("sinks") == {"cycle_id": "c4"}


@pytest.mark.parametrize("where", [0, 10, 40, 200])
def test_a_torn_write_leaves_the_other_slot(tmp_path, where):
    path = str(tmp_path / "cycle.state")
    state = statefile.SlotState(path)
    for n in range(3):
        state.put("victoriametrics", {"last_id": "c%d" % n, "pad": "x" * 300})
        state.save()
    with open(path, "r+b") as f:  # the newest slot (seq 3) cut where the power went
        f.seek(statefile.SLOT_BYTES * (3 % 2) + where)
        f.write(b"\0" * 20)
    again = statefile.SlotState(path)
    assert again.found and again.seq == 2 and again.get("victoriametrics")["last_id"] == "c1"
    again.put("victoriametrics", {"last_id": "c3"})
    again.save()  # into the torn slot: the whole one stays until this one is whole
    assert statefile.read_slots(path) == (3, {"victoriametrics": {"last_id": "c3"}})


def test_no_valid_slot_or_a_foreign_file_is_a_problem_not_a_crash(tmp_path):
    path = str(tmp_path / "cycle.state")
    with open(path, "wb") as f:
        f.write(b'{"last_id": 12')
    state = statefile.SlotState(path)
    assert not state.found and "not a state file" in state.problems[0]
    with open(path, "wb") as f:
        f.write(b"GAS1 7 5 123\n".ljust(32) + b"hello")
    state = statefile.SlotState(path)
    assert not state.found and "no valid slot" in state.problems[0]
    state.put("sinks", {"cycle_id": "c1"})
    state.save()  # a cycle's save replaces it
    assert statefile.SlotState(path).get("sinks") == {"cycle_id": "c1"}


def test_a_state_too_big_for_its_slot_is_refused_and_the_old_one_stays(tmp_path):
    path = str(tmp_path / "cycle.state")
    state = statefile.SlotState(path)
    state.put("sinks", {"cycle_id": "c1"})
    state.save()
    state.put("interfaces", {"pad": "x" * statefile.SLOT_BYTES})
    with pytest.raises(OSError):
        state.save()
    assert statefile.SlotState(path).get("sinks") == {"cycle_id": "c1"}
    assert statefile.SlotState(path).seq == 1


def test_one_shared_state_per_file_within_a_process(tmp_path):
    a = statefile.cycle_state(str(tmp_path), fresh=True)
    a.put("interfaces", {"Gi0/0/0": {"ts": 1.0, "in_bytes": 5}})
    assert statefile.cycle_state(str(tmp_path)) is a
    assert statefile.cycle_state(str(tmp_path), fresh=True).get("interfaces") is None


LEGACY_CONFIG = """
agent: {{state_dir: {state}, deadline_s: 12}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
targets: []
"""


def test_the_cycle_that_writes_the_state_first_removes_an_older_version_s_files(tmp_path):
    """sinks.json, victoriametrics.json and interfaces.json, which an older version rewrote
    every cycle, go once the cycle's state is on flash; later cycles read only the state."""
    from guestagent import config as configs, cycle as cycles
    state_dir = tmp_path / "state"
    journal_dir = state_dir / "journal"
    journal_dir.mkdir(parents=True)
    legacy = [journal_dir / "sinks.json", state_dir / "victoriametrics.json",
              state_dir / "interfaces.json"]
    for path in legacy:
        path.write_text("{}")
    config = configs.parse(LEGACY_CONFIG.format(state=state_dir), source="test.yaml")
    report, code, _ = cycles.run(config, dry_run=True)
    assert code == 0, report["errors"]
    assert (journal_dir / "cycle.state").exists()
    assert [path.exists() for path in legacy] == [False, False, False]
