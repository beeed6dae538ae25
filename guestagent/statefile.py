"""Small state files written so that a power loss leaves the old content or the new, never half."""

import errno
import os

from guestagent import jsontext


def fsync_path(path):
    """fsync a file, or a directory to make a rename or a new file in it durable."""
    try:
        fd = os.open(path or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_json(path, default=None, problems=None):
    """The file's JSON, or `default` when it is missing or unreadable.

    With `problems` (a list), an unreadable or unparseable file (not a missing one) adds a line
    saying so: corrupt state is an error of the cycle, not a silent reset.
    """
    fallback = {} if default is None else default
    try:
        with open(path) as f:
            return jsontext.loads(f.read())
    except (IOError, OSError) as exc:
        if problems is not None and not isinstance(exc, FileNotFoundError):
            problems.append("cannot read {}: {}".format(path, exc.strerror or exc))
        return fallback
    except ValueError as exc:  # also bad UTF-8
        if problems is not None:
            problems.append("{} is not valid JSON ({}); ignored".format(path, exc))
        return fallback


def write_json(path, data):
    """Write JSON to a temporary file, fsync it, rename it over `path`.

    Raises OSError when the directory is read-only or full; the temporary file is removed then,
    so a full flash collects no debris and the old content stays.
    """
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(jsontext.dumps(data, sort_keys=True))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_path(os.path.dirname(path))


# -- state written in place --------------------------------------------------------------------
#
# A cycle's small state (the sink outcomes, the VictoriaMetrics cursor, the interface counters)
# lives in one file of two fixed slots, each written in place at its own page-aligned offset:
# the write goes to the slot that does not hold the newest content, with a sequence number and a
# CRC of the content in its header, then fdatasync. A power loss mid-write leaves that slot
# invalid and the other one whole; a reader takes the valid slot with the higher sequence. No
# file is created, renamed or deleted per write, and a write of up to 4 KiB dirties one page.

SLOT_BYTES = 65536  # each slot's room; page-aligned so one small write dirties one page
_MAGIC = b"GAS1"
_HEADER = 32  # b"GAS1 <seq> <length> <crc32>" space-padded, then the content


def _slot_header(seq, content):
    import zlib
    text = b"%s %d %d %d" % (_MAGIC, seq, len(content), zlib.crc32(content) & 0xffffffff)
    return text.ljust(_HEADER - 1) + b"\n"


def _parse_slot(block):
    """(seq, content) of a slot's bytes, or None when the slot is empty, torn or foreign."""
    import zlib
    head = block[:_HEADER].split()
    if len(head) != 4 or head[0] != _MAGIC:
        return None
    try:
        seq, length, crc = int(head[1]), int(head[2]), int(head[3])
    except ValueError:
        return None
    content = block[_HEADER:_HEADER + length]
    if len(content) != length or zlib.crc32(content) & 0xffffffff != crc:
        return None
    return seq, content


def read_slots(path):
    """(seq, JSON document) of the newest valid slot; (0, None) when there is none.

    Raises OSError when the file cannot be read (FileNotFoundError when it is missing), and
    ValueError when the file is not a slot file (an older JSON state file, say)."""
    with open(path, "rb") as f:
        first = f.read(SLOT_BYTES)
        second = f.read(SLOT_BYTES)
    if first[:len(_MAGIC)] != _MAGIC and second[:len(_MAGIC)] != _MAGIC and first.strip():
        raise ValueError("not a slot file")
    best = None
    for block in (first, second):
        found = _parse_slot(block)
        if found is None:
            continue
        try:
            document = jsontext.loads(found[1].decode("utf-8"))
        except ValueError:
            continue
        if best is None or found[0] > best[0]:
            best = (found[0], document)
    return best or (0, None)


def write_slots(path, data, seq):
    """Write `data` (JSON) with sequence `seq` (one more than the newest read) into the slot
    `seq % 2`, in place, and fdatasync it. Raises OSError (read-only, full, too big); the other
    slot keeps the previous content whole."""
    content = jsontext.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if len(content) > SLOT_BYTES - _HEADER:
        raise OSError(errno.EFBIG, "state of {} bytes exceeds its slot of {}".format(
            len(content), SLOT_BYTES - _HEADER))
    block = _slot_header(seq, content) + content
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        created = os.fstat(fd).st_size == 0
        offset = (seq % 2) * SLOT_BYTES
        written = 0
        while written < len(block):
            written += os.pwrite(fd, block[written:], offset + written)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_path(os.path.dirname(path))


class SlotState(object):
    """One slot file's sections ({name: JSON}), read once, changed in memory by whoever owns a
    section, and written once (`save`) where the cycle says so: one page per cycle for all."""

    def __init__(self, path):
        self.path = path
        self.seq = 0
        self.sections = {}
        self.problems = []
        self.found = False  # a valid slot was read
        try:
            self.seq, document = read_slots(path)
        except FileNotFoundError:
            document = None
        except (IOError, OSError) as exc:
            self.problems.append("cannot read {}: {}".format(path, exc.strerror or exc))
            document = None
        except ValueError:
            self.problems.append("{} is not a state file; ignored".format(path))
            document = None
        else:
            if document is None and os.path.getsize(path):
                self.problems.append("{} holds no valid slot; ignored".format(path))
        if isinstance(document, dict):
            self.sections = document
            self.found = True
        self.dirty = False

    def get(self, name, default=None):
        return self.sections.get(name, default)

    def put(self, name, value):
        self.sections[name] = value
        self.dirty = True

    def save(self):
        """Write every section (raises OSError); the sequence moves on only once written."""
        write_slots(self.path, self.sections, self.seq + 1)
        self.seq += 1
        self.dirty = False
        self.found = True


_OPEN = {}


def slot_state(path, fresh=False):
    """The SlotState of `path`, shared by the sections' owners within one process; `fresh`
    reads it again from flash (a cycle starts so)."""
    key = os.path.abspath(path)
    if fresh or key not in _OPEN:
        _OPEN[key] = SlotState(key)
    return _OPEN[key]


CYCLE_STATE = "cycle.state"  # in the journal directory, where `status --journal DIR` finds it


def cycle_state(journal_dir, fresh=False):
    """The cycle's state beside the journal: sections "sinks" (the last outcome), "journal"
    (the last saved cycle's journal position), "victoriametrics" (its cursor), "interfaces"
    (the last counters) and "sla_idle" (the SLA state's pending reports, counted by cycles
    without a test point: sla.IDLE)."""
    return slot_state(os.path.join(journal_dir, CYCLE_STATE), fresh)
