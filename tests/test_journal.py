import json
import os

from guestagent.sinks import journal


def doc(n, **extra):
    """A report as the journal's readers recognise it: an object with a cycle id and start."""
    return json.dumps(dict({"cycle": {"id": "c%d" % n, "started_ts": 1795392000.0 + n}, "n": n},
                           **extra))


def test_append_rotate_and_read_back_in_order(tmp_path):
    directory = str(tmp_path / "journal")
    for i in range(100):
        journal.append(directory, doc(i, pad="x" * 200), max_bytes=4096, keep_files=3)
    names = sorted(os.listdir(directory))
    assert names == ["reports.jsonl", "reports.jsonl.1", "reports.jsonl.2", "reports.jsonl.3"]
    assert all(os.path.getsize(os.path.join(directory, n)) <= 4096 for n in names)
    numbers = [r["n"] for r in journal.read(directory)]
    # Oldest files were dropped; what is kept is contiguous and ends with the newest report.
    assert numbers == list(range(numbers[0], 100)) and numbers[0] > 0
    assert journal.last(directory)["n"] == 99


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
        journal.append(directory, doc(i, pad="x" * 100), max_bytes=2000, keep_files=50)
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
    journal.append(directory, doc(60, note="c61"), max_bytes=2000, keep_files=50)
    assert journal.after(directory, "c61")[1] is False


def test_empty_or_missing_journal(tmp_path):
    assert journal.files(str(tmp_path / "none")) == []
    assert journal.last(str(tmp_path / "none")) is None
    assert journal.after(str(tmp_path / "none"), "c1") == ([], False)
