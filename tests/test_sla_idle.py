"""A cycle without a test point opens the SLA state only when it commits (guestagent/sla,
IDLE): its section is what the pass computes, the commits come at the same reports, and
whatever breaks the cycles' own count (a cycle that died before saving its state, a changed
config, a test point) makes the next cycle open the state and count again."""

import pytest

from guestagent import config as configs
from guestagent import cycle as cycles
from guestagent import statefile
from guestagent.sla import IDLE, IDLE_SKIPPED
from guestagent.sla import store as stores

CONFIG = """
agent: {{state_dir: {state}, instance: lab-ir1101, deadline_s: 12}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
sla: {{commit_every: {commit_every}}}
"""

TARGET = """
targets:
  - {name: lo, host: 127.0.0.1}
probes:
  icmp: {count: 2, interval_s: 0.2, timeout_s: 1.0}
"""


@pytest.fixture
def opened(monkeypatch):
    """How many times a cycle opened the SLA store."""
    count = []
    real_init = stores.Store.__init__

    def counting(self, *args, **kwargs):
        count.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(stores.Store, "__init__", counting)
    return count


def config_of(tmp_path, commit_every=4, text="targets: []\n"):
    return configs.parse(CONFIG.format(state=tmp_path / "state", commit_every=commit_every) +
                         text, source="test.yaml")


def watermark(tmp_path):
    store = stores.Store(str(tmp_path / "state" / "sla.sqlite3"))
    try:
        return store.meta("last_cycle_id")
    finally:
        store.close()


def idle_count(tmp_path):
    state = statefile.cycle_state(str(tmp_path / "state" / "journal"), fresh=True)
    return (state.get(IDLE) or {}).get("pending")


def one_cycle(config, opened):
    before = len(opened)
    report, code, _ = cycles.run(config, dry_run=True)
    assert code == 0, report["errors"]
    return report, len(opened) > before


def test_only_the_committing_cycles_open_the_state(tmp_path, opened):
    config = config_of(tmp_path)
    seen = []
    for _ in range(9):
        report, was_opened = one_cycle(config, opened)
        seen.append((was_opened, report["sla"].get("skipped"), idle_count(tmp_path)))
        if was_opened:  # every opening commits: the watermark is this cycle
            assert watermark(tmp_path) == report["cycle"]["id"]
    assert seen == [(True, None, 0), (False, IDLE_SKIPPED, 1), (False, IDLE_SKIPPED, 2),
                    (False, IDLE_SKIPPED, 3), (True, None, 0), (False, IDLE_SKIPPED, 1),
                    (False, IDLE_SKIPPED, 2), (False, IDLE_SKIPPED, 3), (True, None, 0)]


def test_a_skipped_section_is_the_one_the_pass_computes(tmp_path, opened, monkeypatch):
    """Against a pass that does not commit (a commit adds what its maintenance did)."""
    from guestagent import sla
    config = config_of(tmp_path)
    one_cycle(config, opened)
    with monkeypatch.context() as patched:
        patched.setattr(sla, "idle_entry", lambda *args: None)
        computed, was_opened = one_cycle(config, opened)
    assert was_opened and idle_count(tmp_path) == 1
    skipped, was_opened = one_cycle(config, opened)
    assert not was_opened
    section = dict(skipped["sla"])
    assert section.pop("skipped") == IDLE_SKIPPED
    assert section == computed["sla"]


def test_the_commits_come_at_the_same_reports_as_without_skipping(tmp_path, opened):
    """Every 4th journaled report is committed whether the cycles skip or not: the pass that
    opens the state finds 3 reports to replay and commits, as a pass every cycle would."""
    config = config_of(tmp_path)
    committed = []
    for n in range(12):
        report, was_opened = one_cycle(config, opened)
        if watermark(tmp_path) == report["cycle"]["id"]:
            committed.append(n)
        assert not report["sla"]["notes"]
    assert committed == [0, 4, 8]


def test_a_cycle_that_died_before_saving_its_state_makes_the_next_one_count(tmp_path, opened,
                                                                            monkeypatch):
    config = config_of(tmp_path)
    one_cycle(config, opened)
    one_cycle(config, opened)
    assert idle_count(tmp_path) == 1
    # Journaled, then killed before the cycle state was written.
    with monkeypatch.context() as patched:
        patched.setattr(cycles.Cycle, "write_outcome", lambda self: None)
        one_cycle(config, opened)
    report, was_opened = one_cycle(config, opened)
    assert was_opened and report["sla"].get("skipped") is None  # the journal ends elsewhere
    assert idle_count(tmp_path) == 3  # its pass counted what the journal holds
    report, was_opened = one_cycle(config, opened)
    assert was_opened and watermark(tmp_path) == report["cycle"]["id"]  # the 4th: committed


def test_a_changed_sla_setting_opens_the_state(tmp_path, opened):
    one_cycle(config_of(tmp_path, commit_every=4), opened)
    _, was_opened = one_cycle(config_of(tmp_path, commit_every=4), opened)
    assert not was_opened
    _, was_opened = one_cycle(config_of(tmp_path, commit_every=6), opened)
    assert was_opened


def test_a_test_point_ends_the_skipping_and_its_pass_replays_the_skipped_reports(tmp_path,
                                                                               opened):
    config = config_of(tmp_path, commit_every=8)
    for _ in range(3):
        one_cycle(config, opened)
    assert idle_count(tmp_path) == 2
    with_target = config_of(tmp_path, commit_every=8, text=TARGET)
    report, _ = cycles.run(with_target, dry_run=True)[:2]
    section = report["sla"]
    assert section.get("skipped") is None and section["error"] is None
    assert section["notes"] == [] and list(section["targets"]) == ["lo"]
    assert idle_count(tmp_path) is None
    assert not [e for e in report["errors"] if e.get("where") == "sla"]
