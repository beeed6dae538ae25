"""Flash bytes as the device receives them: a private ext4 on a loop device (needs root).

Why: /proc/self/io `write_bytes` (and `ru_oublock`) counts a page-cache folio when it is
dirtied, whole. Kernels with large folios on ext4 (6.x; this machine runs 6.18) keep a file that
was read with read-ahead, or written in big chunks, in folios of up to 2 MiB, so one 4 KiB page
changed in the SLA store counts 2 MiB there while the disk gets 4-8 KiB (a kernel without large
folios in ext4 counts 4 KiB pages). The sectors written to a loop device that only the bench writes to are what
the flash would get, the file system's own journal included: `LoopExt4.written()`, after a sync.
The measured code runs as Guest Shell's user (uid 1000, `as_user()`), not root: as root, SQLite
fchown()s its journal at every open, and that ctime change alone costs a file-system journal
commit (16 KiB) per cycle that the router never pays.

    with LoopExt4(os.path.join(ROOT, "build")) as fs:
        before = fs.written(); ...; used = fs.written() - before
"""

import contextlib
import os
import subprocess
import tempfile

GUESTSHELL_UID = GUESTSHELL_GID = 1000  # shared/docs/platform.md, "Guest Shell's user"


class LoopExt4(object):
    def __init__(self, work_dir, size_mib=1024):
        self.work_dir, self.size_mib = work_dir, size_mib
        self.image = self.device = self.mount_point = None

    def __enter__(self):
        if os.geteuid() != 0:
            raise SystemExit("--loop-ext4 needs root (losetup, mount)")
        os.makedirs(self.work_dir, exist_ok=True)
        fd, self.image = tempfile.mkstemp(prefix="flash-", suffix=".ext4", dir=self.work_dir)
        with os.fdopen(fd, "wb") as f:
            f.truncate(self.size_mib * 1024 * 1024)  # sparse
        subprocess.check_call(["mkfs.ext4", "-q", "-F", self.image])
        self.device = subprocess.check_output(["losetup", "-f", "--show", self.image],
                                              universal_newlines=True).strip()
        self.mount_point = tempfile.mkdtemp(prefix="flash-", dir=self.work_dir)
        subprocess.check_call(["mount", self.device, self.mount_point])
        os.chown(self.mount_point, GUESTSHELL_UID, GUESTSHELL_GID)
        return self

    @contextlib.contextmanager
    def as_user(self, *writable):
        """Run the block with Guest Shell's uid and gid (effective only: root comes back after);
        `writable` directories are given to that user first."""
        for path in writable:
            os.chown(path, GUESTSHELL_UID, GUESTSHELL_GID)
        os.setegid(GUESTSHELL_GID)
        os.seteuid(GUESTSHELL_UID)
        try:
            yield
        finally:
            os.seteuid(0)
            os.setegid(0)

    def written(self):
        """Bytes written to the device so far (after writing back whatever is dirty)."""
        os.sync()
        name = os.path.basename(self.device)
        with open("/sys/block/{}/stat".format(name)) as f:
            return int(f.read().split()[6]) * 512  # sectors written

    def __exit__(self, *exc):
        if self.mount_point:
            # Lazily when busy: a store the bench left open goes with the process.
            if subprocess.call(["umount", self.mount_point], stderr=subprocess.DEVNULL):
                subprocess.call(["umount", "-l", self.mount_point])
            os.rmdir(self.mount_point)
        if self.device:
            subprocess.call(["losetup", "-d", self.device])
        if self.image:
            os.remove(self.image)
        return False
