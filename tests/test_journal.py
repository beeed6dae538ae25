import json
import os

from guestagent.sinks import journal


def test_append_rotate_and_read_back_in_order(tmp_path):
    directory = str(tmp_path / "journal")
    for i in range(100):
        journal.append(directory, json.dumps({"n": i, "pad": "x" * 200}), max_bytes=4096,
                       keep_files=3)
    names = sorted(os.listdir(directory))
    assert names == ["reports.jsonl", "reports.jsonl.1", "reports.jsonl.2", "reports.jsonl.3"]
    assert all(os.path.getsize(os.path.join(directory, n)) <= 4096 for n in names)
    numbers = [r["n"] for r in journal.read(directory)]
    # Oldest files were dropped; what is kept is contiguous and ends with the newest report.
    assert numbers == list(range(numbers[0], 100)) and numbers[0] > 0
    assert journal.last(directory)["n"] == 99


def test_a_torn_last_line_is_skipped_and_counted(tmp_path):
    directory = str(tmp_path)
    journal.append(directory, '{"n": 1}', 1 << 20, 2)
    with open(os.path.join(directory, journal.CURRENT), "a") as f:
        f.write('{"n": 2, "cut by power lo')  # no newline: the write never finished
    skipped = []
    assert [r["n"] for r in journal.read(directory, skipped)] == [1]
    assert len(skipped) == 1
    assert journal.last(directory)["n"] == 1
    # The next report starts on a line of its own: the torn line stays one bad line.
    journal.append(directory, '{"n": 3}', 1 << 20, 2)
    assert [r["n"] for r in journal.read(directory)] == [1, 3]


def test_empty_or_missing_journal(tmp_path):
    assert journal.files(str(tmp_path / "none")) == []
    assert journal.last(str(tmp_path / "none")) is None
