import json
import os

from guestagent.sinks import journal


def doc(n, **extra):
    """A report as the journal's readers recognise it: an object with a cycle id and start."""
    return json.dumps(dict({"cycle": {"id": "c%d" % n, "started_ts": 1795392000.0 + n}, "n": n},
                           **extra))


def test_append_rotate_and_read_back_in_order(tmp_path):
    directory = str(tmp_path / "journal")
    for i in range(400):  # compact lines: ~60 bytes each after a file's first
        journal.append(directory, doc(i, pad="x" * 200), max_bytes=4096, keep_files=3)
    names = sorted(os.listdir(directory))
    assert names == ["reports.jsonl", "reports.jsonl.1", "reports.jsonl.2", "reports.jsonl.3"]
    assert all(os.path.getsize(os.path.join(directory, n)) <= 4096 for n in names)
    numbers = [r["n"] for r in journal.read(directory)]
    # Oldest files were dropped; what is kept is contiguous and ends with the newest report.
    assert numbers == list(range(numbers[0], 400)) and numbers[0] > 0
    assert journal.last(directory)["n"] == 399


def test_a_torn_last_line_is_skipped_and_counted(tmp_path):
    directory = str(tmp_path)
    journal.append(directory, doc(1), 1 << 20, 2)
    with open(os.path.join(directory, journal.CURRENT), "a") as f:
        f.write('{"cycle": {"id": "c2", "cut by power lo')  # no newline: the write never finished
    skipped = []
    assert [r["n"] for r in journal.read(directory, skipped)] == [1]
    assert len(skipped) == 1
    assert journal.last(directory)["n"] == 1
    # The next report starts on a line of its own: the torn line stays one bad line.
    journal.append(directory, doc(3), 1 << 20, 2)
    assert [r["n"] for r in journal.read(directory)] == [1, 3]


FOREIGN = ['[1,2,3]', '{"cycle": null}', '{"cycle": {"id": "x", "started_ts": "yesterday"}}',
           '{"cycle": {"id": 7, "started_ts": 1}}', '"a string"', 'null', '{}',
           '{"cycle": {"id": "y", "started_ts": true}}', '{"cycle": {"id": "", "started_ts": 1}}',
           '{"cycle": {"id": "z", "started_ts": NaN}}', '\xff\xfe not utf-8']


def test_foreign_lines_are_passed_over_by_every_reader(tmp_path):
    directory = str(tmp_path)
    journal.append(directory, doc(1), 1 << 20, 2)
    with open(os.path.join(directory, journal.CURRENT), "ab") as f:
        for line in FOREIGN:
            f.write(line.encode("latin-1") + b"\n")
    journal.append(directory, doc(2), 1 << 20, 2)
    skipped = []
    assert [r["n"] for r in journal.read(directory, skipped)] == [1, 2]
    assert len(skipped) == len(FOREIGN)
    assert journal.last(directory)["n"] == 2
    assert [r["n"] for r in journal.newest(directory, 5)] == [2, 1]
    skipped = []
    reports, found = journal.after(directory, "c1", skipped=skipped)
    assert found and [r["n"] for r in reports] == [2] and len(skipped) == len(FOREIGN)


def test_after_finds_the_cycle_across_rotation_and_bounds_the_backlog(tmp_path):
    directory = str(tmp_path)
    for i in range(60):
        journal.append(directory, doc(i, pad="x" * 100), max_bytes=600, keep_files=50)
    assert len(journal.files(directory)) > 3
    reports, found = journal.after(directory, "c10")
    assert found and [r["n"] for r in reports] == list(range(11, 60))
    reports, found = journal.after(directory, "c10", limit=5)
    assert [r["n"] for r in reports] == list(range(11, 16))
    assert journal.after(directory, "c59") == ([], True)
    # An id that is not there (rotated away, or never journaled): everything is after it.
    reports, found = journal.after(directory, "gone")
    assert not found and len(reports) == 60
    # An id that only appears inside another report's text is not the cycle.
    journal.append(directory, doc(60, note="c61"), max_bytes=600, keep_files=50)
    assert journal.after(directory, "c61")[1] is False


def test_empty_or_missing_journal(tmp_path):
    assert journal.files(str(tmp_path / "none")) == []
    assert journal.last(str(tmp_path / "none")) is None
    assert journal.after(str(tmp_path / "none"), "c1") == ([], False)


def report_like(n, targets=10):
    """A report shaped like a cycle's: per-target figures that change a little every cycle."""
    return json.dumps({"cycle": {"id": "cycle-%06d" % n, "started_ts": 1795392000.0 + 300 * n},
                       "probes": [{"target": "t%d" % t,
                                   "rtt_ms": {"avg": 20.0 + (n * 7 + t) % 13 / 10.0,
                                              "max": 31.5 + n % 5},
                                   "loss_ratio": 0.0, "sent": 10, "received": 10,
                                   "host": "192.0.2.%d" % t, "kind": "icmp"}
                                  for t in range(targets)],
                       "sla": {"t%d" % t: {"available_s": 300.0 * n, "known_s": 300.0 * n}
                               for t in range(targets)}}, sort_keys=True)


def test_compact_lines_read_back_as_measured_and_keep_the_cycle_id_in_clear(tmp_path):
    directory = str(tmp_path)
    lines = [report_like(n) for n in range(20)]
    for line in lines:
        journal.append(directory, line, 1 << 20, 5)
    with open(os.path.join(directory, journal.CURRENT), "rb") as f:
        raw = f.read().splitlines()
    assert raw[0] == lines[0].encode()  # the file's first report in full
    compact = [json.loads(r) for r in raw[1:]]
    assert all(set(c) == {"cycle", "z"} for c in compact)
    assert [c["cycle"]["id"] for c in compact] == ["cycle-%06d" % n for n in range(1, 20)]
    # A compact line is a fraction of its report.
    assert max(len(r) for r in raw[1:]) * 3 < len(lines[1])
    assert [json.dumps(r, sort_keys=True) for r in journal.read(directory)] == lines
    assert journal.last(directory) == json.loads(lines[-1])
    assert [r["cycle"]["id"] for r in journal.newest(directory, 3)] == [
        "cycle-000019", "cycle-000018", "cycle-000017"]
    # Without its file's first line, a compact line is not a report.
    assert journal.parse_line(raw[5]) is None
    assert journal.parse_line(raw[5], raw[0]) == json.loads(lines[5])
    assert journal.parse_line(raw[5], raw[3]) is None  # inflated against the wrong base


def test_a_torn_compact_line_is_skipped_and_the_next_report_is_compact_again(tmp_path):
    directory = str(tmp_path)
    for n in range(3):
        journal.append(directory, report_like(n), 1 << 20, 5)
    path = os.path.join(directory, journal.CURRENT)
    with open(path, "rb") as f:
        whole = f.read()
    with open(path, "wb") as f:
        f.write(whole[:-40])  # the last compact line cut short by a power loss
    skipped = []
    assert [r["cycle"]["id"] for r in journal.read(directory, skipped)] == [
        "cycle-000000", "cycle-000001"]
    assert len(skipped) == 1
    journal.append(directory, report_like(3), 1 << 20, 5)
    assert [r["cycle"]["id"] for r in journal.read(directory)] == [
        "cycle-000000", "cycle-000001", "cycle-000003"]
    with open(path, "rb") as f:
        assert set(json.loads(f.read().splitlines()[-1])) == {"cycle", "z"}


def test_a_torn_first_line_leaves_the_file_readable_in_full_lines(tmp_path):
    directory = str(tmp_path)
    with open(os.path.join(directory, journal.CURRENT), "w") as f:
        f.write(report_like(0)[:100])
    for n in range(1, 4):
        journal.append(directory, report_like(n), 1 << 20, 5)
    skipped = []
    assert [r["cycle"]["id"] for r in journal.read(directory, skipped)] == [
        "cycle-000001", "cycle-000002", "cycle-000003"]
    assert len(skipped) == 1


def test_the_byte_budget_bounds_all_files_and_drops_the_oldest(tmp_path):
    directory = str(tmp_path)
    for n in range(3000):
        journal.append(directory, report_like(n), 16384, 1000, budget_bytes=65536)
    total = sum(os.path.getsize(p) for p in journal.files(directory))
    assert total <= 65536 + 16384
    ids = [r["cycle"]["id"] for r in journal.read(directory)]
    assert ids[-1] == "cycle-002999" and len(ids) > 200
    assert ids == ["cycle-%06d" % n for n in range(3000 - len(ids), 3000)]


def test_after_a_position_reads_only_what_follows_it_through_rotation(tmp_path):
    directory = str(tmp_path)
    for n in range(300):
        journal.append(directory, report_like(n), 16384, 50)
    sizes = {}
    reports, found = journal.after(directory, "cycle-000010", sizes=sizes)
    assert found and reports[0]["cycle"]["id"] == "cycle-000011"
    position = sizes["positions"][-1]  # just past cycle-000299
    whole = sum(os.path.getsize(p) for p in journal.files(directory))
    for n in range(300, 400):  # rotates several times: the position's file is renamed
        journal.append(directory, report_like(n), 16384, 50)
        sizes = {}
        reports, found = journal.after(directory, "cycle-%06d" % (n - 1), sizes=sizes,
                                       position=position)
        assert found and [r["cycle"]["id"] for r in reports] == ["cycle-%06d" % n]
        # The new line, its file's first line and a block back to the cursor's line: not all.
        assert sizes["read_bytes"] < 0.2 * whole
        position = sizes["positions"][-1]
    # A position that is not the end of that cycle's line: the search from the newest line.
    sizes = {}
    reports, found = journal.after(directory, "cycle-000390", sizes=sizes, position=position)
    assert found and [r["cycle"]["id"] for r in reports][:1] == ["cycle-000391"]
    bogus = dict(position, offset=position["offset"] - 3)
    reports, found = journal.after(directory, "cycle-000399", position=bogus)
    assert found and reports == []
