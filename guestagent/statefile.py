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


def read_json(path, default=None):
    """The file's JSON, or `default` when it is missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (IOError, OSError, ValueError):
        return {} if default is None else default


def write_json(path, data):
    """Write JSON to a temporary file, fsync it, rename it over `path`."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    fsync_path(os.path.dirname(path))
