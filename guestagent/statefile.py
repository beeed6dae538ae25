"""Small state files written so that a power loss leaves the old content or the new, never half."""

import json
import os


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
            return json.load(f)
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
            json.dump(data, f, sort_keys=True)
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
