"""The journal: every report appended as one JSON line, fsync'd, rotated by size, bounded in bytes.

`reports.jsonl` is the current file; rotation renames it to `reports.jsonl.1` (older files move up
to `.2`, ...); the oldest go once the files together pass `budget_bytes` (or `keep_files`). Flash
wears, so the bound is in bytes and each cycle appends one line.

The first line of each file is a report in full; the lines after it are compact: the report's
cycle id and start time in clear, and the report itself deflated against that first line
(`{"cycle": {"id", "started_ts"}, "z": base64}`, docs/flash.md). Reports of one router differ
little from cycle to cycle, so a compact line is about a twelfth of the report, and one append
dirties one or two flash pages. Every reader here gives back the report as it was measured.

The journal is the agent's record of what was measured: a cycle appends its report before any
network sink sees it, and everything downstream (the SLA state, the VictoriaMetrics cursor) is
reconciled against it by cycle id (docs/architecture.md). A line that is not a report (a torn
write, or anything a person or another program put there) is skipped by every reader and counted,
never trusted.
"""

import errno
import math
import os

from guestagent import jsontext
from guestagent.statefile import fsync_path

CURRENT = "reports.jsonl"
# A compact line at least this fraction of its report (the file's first line no longer resembles
# the reports: new test points) is not worth it: the report goes in full.
COMPACT_MAX_RATIO = 0.5
# Reading back to the start of the line before a position stops after this much.
_BACK_LIMIT = 1 << 22


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


def _decode(raw):
    try:
        return jsontext.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except ValueError:  # also UnicodeDecodeError
        return None


def _is_compact(document):
    return isinstance(document, dict) and isinstance(document.get("z"), str)


def parse_line(raw, base=None):
    """A journal line's report, or None for a torn or foreign line. A compact line needs its
    file's first line (`base`, bytes) to be read; without it, it is None."""
    document = _decode(raw)
    if not is_report(document):
        return None
    if _is_compact(document):
        if base is None:
            return None
        document = expand(document, base)
    return document


def expand(document, base):
    """The report of a compact line's document; None when it does not inflate to that report."""
    import base64
    import binascii
    import zlib
    try:
        inflater = zlib.decompressobj(-15, zdict=base)
        data = base64.b64decode(document["z"].encode("ascii"), validate=True)
        text = inflater.decompress(data) + inflater.flush()
    except (ValueError, binascii.Error, zlib.error, UnicodeEncodeError):
        return None
    report = _decode(text)
    if not is_report(report) or report["cycle"]["id"] != document["cycle"]["id"]:
        return None
    return report


def compact(raw, base, report):
    """The compact line (bytes, no newline) of report line `raw` against `base`, both bytes;
    `report` is `raw` decoded."""
    import binascii  # not base64: its import (struct, re) is most of what a cycle's line costs
    import zlib
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, zdict=base)
    data = deflater.compress(raw) + deflater.flush()
    head = {"id": report["cycle"]["id"], "started_ts": report["cycle"]["started_ts"]}
    text = binascii.b2a_base64(data, newline=False).decode("ascii")  # = base64.b64encode
    return jsontext.dumps({"cycle": head, "z": text}, separators=(",", ":"),
                          sort_keys=True).encode("utf-8")


def base_of(path):
    """The file's first line when it is a report in full (what its compact lines inflate
    against), else None."""
    try:
        with open(path, "rb") as f:
            first = f.readline()
    except (IOError, OSError):
        return None
    return _base(first)


def _base(first):
    first = first.rstrip(b"\n")
    document = _decode(first)
    if is_report(document) and not _is_compact(document):
        return first
    return None


def rotate(journal_dir, keep_files, budget_bytes=None):
    """Move the current file to `.1` (and each older one up); drop the oldest past `keep_files`
    and past `budget_bytes` for all files together."""
    names = files(journal_dir)
    rotated = names[:-1] if names and names[-1].endswith(CURRENT) else names
    # Oldest first; the current file counts toward the budget after the move too.
    total = sum(_size(path) for path in names)
    count = len(rotated) + 1
    for path in rotated:
        if count <= keep_files and (budget_bytes is None or total <= budget_bytes):
            break
        total -= _size(path)
        count -= 1
        os.remove(path)
    for n in range(keep_files - 1, 0, -1):
        src = os.path.join(journal_dir, "{}.{}".format(CURRENT, n))
        if os.path.exists(src):
            os.rename(src, os.path.join(journal_dir, "{}.{}".format(CURRENT, n + 1)))
    current = os.path.join(journal_dir, CURRENT)
    if os.path.exists(current):
        os.rename(current, os.path.join(journal_dir, CURRENT + ".1"))
    fsync_path(journal_dir)


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def append(journal_dir, line, max_bytes, keep_files, budget_bytes=None, position=None):
    """Append one report (a JSON document without newlines); returns the file written. With
    `position` (a dict), it gets the file's identity and the offset just past the line.

    The report goes in full at the start of a file, compact after. Raises OSError when it
    cannot (read-only, full): then the file is as it was before, so a full flash leaves no half
    line behind.
    """
    if not os.path.isdir(journal_dir):
        os.makedirs(journal_dir, mode=0o750, exist_ok=True)
    path = os.path.join(journal_dir, CURRENT)
    raw = line.rstrip("\n").encode("utf-8")
    size = _size(path)
    data = raw + b"\n"
    document = _decode(raw) if size else None
    if is_report(document):
        base = base_of(path)
        short = compact(raw, base, document) if base is not None else None
        # Else (a torn first line, reports unlike it) in full: the next file has a new base.
        if short is not None and len(short) < len(raw) * COMPACT_MAX_RATIO:
            data = short + b"\n"
    if size and size + len(data) > max_bytes:
        rotate(journal_dir, keep_files, budget_bytes)
        data = raw + b"\n"
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
            if position is not None:
                st = os.fstat(fd)
                position.update(dev=st.st_dev, ino=st.st_ino, offset=end + len(data))
        except OSError:
            try:
                os.ftruncate(fd, end)  # take back the part that fitted
            except OSError:
                pass
            raise
    finally:
        os.close(fd)
    if not end:
        fsync_path(journal_dir)  # the new file's name
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


def _records(path, start=0):
    """(base, [(line number or None, raw, end offset)]) of a file's lines from byte `start`
    (a line start); numbers are None when reading starts past the file's beginning."""
    with open(path, "rb") as f:
        first = f.readline()
        if start:
            f.seek(start)
            data = f.read()
        else:
            data = first + f.read()
    base = _base(first)
    out, offset = [], start
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for index, raw in enumerate(lines):
        offset += len(raw) + 1
        out.append((None if start else index + 1, raw, min(offset, start + len(data))))
    return base, out


def identity(path):
    """(device, inode) of a journal file: it stays the same file through rotation's renames."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def read(journal_dir, skipped=None):
    """Yield every report in the journal, oldest first; lines that are not reports (a torn write
    at power loss, a foreign line) are skipped and counted in `skipped` (a list) when given."""
    for path in files(journal_dir):
        try:
            base, records = _records(path)
        except (IOError, OSError):
            continue  # rotated away between listing and reading
        for number, raw, _ in records:
            report = _report(path, number, raw, base, skipped)
            if report is not None:
                yield report


def newest(journal_dir, count, skipped=None):
    """Up to `count` reports, newest first; lines that are not reports are passed over."""
    out = []
    for path, number, raw, base in newest_lines(journal_dir):
        report = _report(path, number, raw, base, skipped)
        if report is not None:
            out.append(report)
            if len(out) >= count:
                return out
    return out


def newest_lines(journal_dir):
    """(path, line number, raw line, its file's base) of every journal line, newest first;
    `parse_line(raw, base)` reads one."""
    for path in reversed(files(journal_dir)):
        try:
            base, records = _records(path)
        except (IOError, OSError):
            continue  # rotated away between listing and reading
        for number, raw, _ in reversed(records):
            yield path, number, raw, base


def _report(path, number, raw, base, skipped):
    """The report on a line, or None (blank, or not a report: then "FILE:LINE" to `skipped`)."""
    if not raw.strip():
        return None
    report = parse_line(raw, base)
    if report is None and skipped is not None:
        skipped.append("{}:{}".format(path, number if number is not None else "?"))
    return report


def last(journal_dir):
    """The newest report, or None."""
    found = newest(journal_dir, 1)
    return found[0] if found else None


def _after_position(journal_dir, cycle_id, position, counted):
    """[(path, number, raw, base, end)] of the lines after `position` (the cursor's file
    identity and byte offset just past the line of `cycle_id`), oldest first; None when the
    position is not (or no longer) that line's end. What is read is added to counted[0]."""
    if not isinstance(position, dict) or not cycle_id:
        return None
    paths = files(journal_dir)
    for index, path in enumerate(paths):
        try:
            if list(identity(path)) != [position.get("dev"), position.get("ino")]:
                continue
            offset = position.get("offset")
            if not isinstance(offset, int) or isinstance(offset, bool) or \
                    not 0 < offset <= _size(path):
                return None
            with open(path, "rb") as f:
                before = _line_before(f, offset, counted)
            document = _decode(before) if before is not None else None
            if not is_report(document) or document["cycle"]["id"] != cycle_id:
                return None
            out = []
            for later, start in [(path, offset)] + [(p, 0) for p in paths[index + 1:]]:
                base, records = _records(later, start)
                counted[0] += len(base or b"") + sum(len(raw) + 1 for _, raw, _ in records)
                out.extend((later, number, raw, base, end) for number, raw, end in records)
            return out
        except (IOError, OSError):
            return None
    return None


def _line_before(f, offset, counted):
    """The line that ends (with its newline) at `offset`, or None."""
    f.seek(offset - 1)
    if f.read(1) != b"\n":
        return None
    chunk, start = b"", offset - 1
    while start > 0 and b"\n" not in chunk and offset - start < _BACK_LIMIT:
        step = min(8192, start)
        start -= step
        f.seek(start)
        chunk = f.read(step) + chunk
        counted[0] += step
    cut = chunk.rfind(b"\n")
    if cut < 0 and start > 0:
        return None
    return chunk[cut + 1:]


def after(journal_dir, cycle_id, limit=None, skipped=None, sizes=None, position=None):
    """The reports journaled after the report `cycle_id`, oldest first, at most `limit`.

    Returns (reports, found). With `position` (from `sizes["positions"]` of an earlier call:
    the file and byte offset just past `cycle_id`'s line), only what follows it is read, if
    it is still that line's end. Else the journal is searched from its newest line back, so
    finding the previous cycle costs one file read; `found` is False when no report has that
    id (None, or it rotated away): then every report in the journal counts as after it. Lines
    that are not reports go to `skipped` as "FILE:LINE" and are passed over. With `sizes` (a
    dict): its "after_bytes" is the size of every line after `cycle_id` (whatever `limit`),
    "report_bytes" the size of each report returned, newline included, "positions" the
    position past each, and "read_bytes" what was read of the journal to answer.
    """
    counted = [0]
    newer = _after_position(journal_dir, cycle_id, position, counted)
    found = newer is not None
    read_bytes = counted[0]
    if not found:
        newer = []  # newest first, reversed below
        needle = cycle_id.encode("utf-8") if cycle_id else None  # cheap test before parsing
        for path in reversed(files(journal_dir)):
            try:
                base, records = _records(path)
            except (IOError, OSError):
                continue
            read_bytes += sum(len(raw) + 1 for _, raw, _ in records)
            for number, raw, end in reversed(records):
                if needle is not None and needle in raw:
                    report = parse_line(raw, base)
                    if report is not None and report["cycle"]["id"] == cycle_id:
                        found = True
                        break
                newer.append((path, number, raw, base, end))
            if found:
                break
        newer.reverse()
    out, report_bytes, positions = [], [], []
    for path, number, raw, base, end in newer:
        report = _report(path, number, raw, base, skipped)
        if report is None:
            continue
        out.append(report)
        report_bytes.append(len(raw) + 1)
        positions.append(_position(path, end))
        if limit is not None and len(out) >= limit:
            break
    if sizes is not None:
        sizes["after_bytes"] = sum(len(raw) + 1 for _, _, raw, _, _ in newer)
        sizes["report_bytes"] = report_bytes
        sizes["positions"] = positions
        sizes["read_bytes"] = read_bytes
    return out, found


def end_position(path):
    """The position just past the last line of journal file `path` (that of the report just
    appended there, under the cycle's lock), for `after(..., position=)`; None if unknown."""
    return _position(path, _size(path))


def _position(path, end):
    try:
        dev, ino = identity(path)
    except OSError:
        return None
    return {"dev": dev, "ino": ino, "offset": end}


def bytes_per_report(journal_dir, sample=50):
    """The mean size of the newest compact lines (what a report costs the budget), or None."""
    sizes = []
    for _, number, raw, _ in newest_lines(journal_dir):
        if number != 1 and _is_compact(_decode(raw)):
            sizes.append(len(raw) + 1)
        if len(sizes) >= sample:
            break
    return sum(sizes) / float(len(sizes)) if sizes else None
