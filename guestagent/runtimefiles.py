"""Files of this user's in the runtime directory: the early lock and the caches kept between
cycles (the checked config, the compiled regular expressions).

The directory is `$XDG_RUNTIME_DIR`, else `/tmp`. What is read there is this user's own: a file
of another user, one that others may write, a link or an oversized one is not read (it could
hand the cycle somebody else's config or code). What is written goes to a temporary file of
this process, mode 0600, renamed over the old one: a reader sees the old file or the new.
"""

import os


def directory():
    return os.environ.get("XDG_RUNTIME_DIR") or "/tmp"


def path(name):
    return os.path.join(directory(), name)


def path_digest(file_path):
    """The SHA-1 hex digest of a path's text (what names a runtime file after a config file),
    without importing hashlib (on Python 3.6 it loads OpenSSL's and every built-in hash: ~2 ms of
    a cycle's start-up)."""
    try:
        from _sha1 import sha1
    except ImportError:  # an interpreter built without its own SHA-1
        from hashlib import sha1
    return sha1(file_path.encode("utf-8", "replace")).hexdigest()


def read_private(file_path, max_bytes):
    """The file's bytes, or None when it is missing, unreadable or not ours alone."""
    import stat
    try:
        fd = os.open(file_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (IOError, OSError):
        return None
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or
                info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or info.st_size > max_bytes):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    except (IOError, OSError):
        return None
    finally:
        os.close(fd)


def write_private(file_path, body):
    """Replace the file with `body`; True when written (best effort: a cache that cannot be
    written is no cache)."""
    partial = "{}.{}.tmp".format(file_path, os.getpid())
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                     getattr(os, "O_NOFOLLOW", 0), 0o600)
    except (IOError, OSError):
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(partial, file_path)
        return True
    except (IOError, OSError):
        try:
            os.unlink(partial)
        except OSError:
            pass
        return False
