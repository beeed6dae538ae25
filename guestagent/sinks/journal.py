"""The journal: every report appended as one JSON line, fsync'd, rotated by size.

`reports.jsonl` is the current file; rotation renames it to `reports.jsonl.1` (older files move up
to `.2`, ... and the oldest beyond `keep_files` is removed). Flash wears, so the bound is in bytes
and each cycle writes one line.

The journal is the agent's record of what was measured: a cycle appends its report before any
network sink sees it, and everything downstream (the SLA state, the VictoriaMetrics cursor) is
reconciled against it by cycle id (docs/architecture.md). A line that is not a report (a torn
write, or anything a person or another program put there) is skipped by every reader and counted,
never trusted.
"""

import errno
import json
import math
import os

from guestagent.statefile import fsync_path

CURRENT = "reports.jsonl"


def is_report(document):
    """True for what a cycle writes: an object whose `cycle` has a string id and a finite start."""
    if not isinstance(document, dict):
        return False
    cycle = document.get("cycle")
    if not isinstance(cycle, dict):
        return False
    cycle_id, started_ts = cycle.get("id"), cycle.get("started_ts")
    if not isinstance(cycle_id, str) or not cycle_id:
        return False
    if isinstance(started_ts, bool) or not isinstance(started_ts, (int, float)):
        return False
    return math.isfinite(started_ts)


def parse_line(raw):
    """A journal line's report, or None for a torn or foreign line."""
    try:
        document = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except ValueError:  # also UnicodeDecodeError
        return None
    return document if is_report(document) else None


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
    """Append one line (a JSON document without newlines); returns the file written.

    Raises OSError when it cannot (read-only, full): then the file is as it was before, so a
    full flash leaves no half line behind.
    """
    if not os.path.isdir(journal_dir):
        os.makedirs(journal_dir, mode=0o750, exist_ok=True)
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
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, end)  # take back the part that fitted
            except OSError:
                pass
            raise
    finally:
        os.close(fd)
    return path


def files(journal_dir):
    """Journal files, oldest first."""
    try:
        names = os.listdir(journal_dir)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
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


def _lines(path):
    with open(path, "rb") as f:
        return f.read().splitlines()


def read(journal_dir, skipped=None):
    """Yield every report in the journal, oldest first; lines that are not reports (a torn write
    at power loss, a foreign line) are skipped and counted in `skipped` (a list) when given."""
    for path in files(journal_dir):
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                report = parse_line(raw)
                if report is not None:
                    yield report
                elif skipped is not None:
                    skipped.append("{}:{}".format(path, number))


def newest(journal_dir, count, skipped=None):
    """Up to `count` reports, newest first; lines that are not reports are passed over."""
    out = []
    for path, number, raw in _newest_first(journal_dir):
        report = _report(path, number, raw, skipped)
        if report is not None:
            out.append(report)
            if len(out) >= count:
                return out
    return out


def _newest_first(journal_dir):
    """(path, line number, raw line) of every journal line, newest first."""
    for path in reversed(files(journal_dir)):
        try:
            lines = _lines(path)
        except (IOError, OSError):
            continue  # rotated away between listing and reading
        for number in range(len(lines), 0, -1):
            yield path, number, lines[number - 1]


def _report(path, number, raw, skipped):
    """The report on a line, or None (blank, or not a report: then "FILE:LINE" to `skipped`)."""
    if not raw.strip():
        return None
    report = parse_line(raw)
    if report is None and skipped is not None:
        skipped.append("{}:{}".format(path, number))
    return report


def last(journal_dir):
    """The newest report, or None."""
    found = newest(journal_dir, 1)
    return found[0] if found else None


def after(journal_dir, cycle_id, limit=None, skipped=None, sizes=None):
    """The reports journaled after the report `cycle_id`, oldest first, at most `limit`.

    Returns (reports, found). The journal is searched from its newest line back, so finding the
    previous cycle costs one file read; `found` is False when no report has that id (None, or it
    rotated away): then every report in the journal counts as after it. Lines that are not
    reports go to `skipped` as "FILE:LINE" and are passed over. With `sizes` (a dict): its
    "after_bytes" is the size of every line after `cycle_id` (whatever `limit`), and
    "report_bytes" the size of each report returned, newline included.
    """
    needle = cycle_id.encode("utf-8") if cycle_id else None  # cheap test before parsing
    newer = []  # (path, number, raw), newest first
    found = False
    for path, number, raw in _newest_first(journal_dir):
        if needle is not None and needle in raw:
            report = parse_line(raw)
            if report is not None and report["cycle"]["id"] == cycle_id:
                found = True
                break
        newer.append((path, number, raw))
    out, report_bytes = [], []
    for path, number, raw in reversed(newer):
        report = _report(path, number, raw, skipped)
        if report is None:
            continue
        out.append(report)
        report_bytes.append(len(raw) + 1)
        if limit is not None and len(out) >= limit:
            break
    if sizes is not None:
        sizes["after_bytes"] = sum(len(raw) + 1 for _, _, raw in newer)
        sizes["report_bytes"] = report_bytes
    return out, found
