"""The journal: every report appended as one JSON line, fsync'd, rotated by size.

`reports.jsonl` is the current file; rotation renames it to `reports.jsonl.1` (older files move up
to `.2`, ... and the oldest beyond `keep_files` is removed). Flash wears, so the bound is in bytes
and each cycle writes one line.
"""

import errno
import json
import os

from guestagent.statefile import fsync_path

CURRENT = "reports.jsonl"


def rotate(journal_dir, keep_files):
    oldest = os.path.join(journal_dir, "{}.{}".format(CURRENT, keep_files))
    if os.path.exists(oldest):
        os.remove(oldest)
    for n in range(keep_files - 1, 0, -1):
        src = os.path.join(journal_dir, "{}.{}".format(CURRENT, n))
        if os.path.exists(src):
            os.rename(src, os.path.join(journal_dir, "{}.{}".format(CURRENT, n + 1)))
    current = os.path.join(journal_dir, CURRENT)
    if os.path.exists(current):
        os.rename(current, os.path.join(journal_dir, CURRENT + ".1"))
    fsync_path(journal_dir)


def append(journal_dir, line, max_bytes, keep_files):
    """Append one line (a JSON document without newlines); returns the file written."""
    if not os.path.isdir(journal_dir):
        os.makedirs(journal_dir, mode=0o750)
    path = os.path.join(journal_dir, CURRENT)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if size and size + len(data) > max_bytes:
        rotate(journal_dir, keep_files)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        end = os.fstat(fd).st_size
        if end and os.pread(fd, 1, end - 1) != b"\n":
            data = b"\n" + data  # a torn line from a power loss stays one bad line of its own
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def files(journal_dir):
    """Journal files, oldest first."""
    try:
        names = os.listdir(journal_dir)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise
    rotated = []
    for name in names:
        if name.startswith(CURRENT + "."):
            suffix = name[len(CURRENT) + 1:]
            if suffix.isdigit():
                rotated.append((int(suffix), name))
    ordered = [name for _, name in sorted(rotated, reverse=True)]
    if CURRENT in names:
        ordered.append(CURRENT)
    return [os.path.join(journal_dir, name) for name in ordered]


def read(journal_dir, skipped=None):
    """Yield every report in the journal, oldest first; lines that do not parse (a torn write at
    power loss) are skipped and counted in `skipped` (a list) when given."""
    for path in files(journal_dir):
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                try:
                    yield json.loads(raw.decode("utf-8"))
                except ValueError:
                    if skipped is not None:
                        skipped.append("{}:{}".format(path, number))


def last(journal_dir):
    """The newest report, or None."""
    for path in reversed(files(journal_dir)):
        with open(path, "rb") as f:
            lines = f.read().splitlines()
        for raw in reversed(lines):
            try:
                return json.loads(raw.decode("utf-8"))
            except ValueError:
                continue
    return None
