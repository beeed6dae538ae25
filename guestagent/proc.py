"""Run a program under a deadline: interrupt it (so it prints its summary), then kill it.

The program runs in a session of its own, and what it leaves behind goes with it: at the deadline
its whole process group is interrupted, then killed. Its output is read until it exits, not until
its pipes close: a grandchild that holds stdout open (a daemon it forked, a helper it left
running) does not keep us waiting, and is killed with the group.
"""

import errno
import os
import select
import signal
import sys
import threading
import time

# After SIGKILL, the time we wait for the child to be gone (it cannot refuse; this bounds a
# process stuck in the kernel).
KILL_WAIT_S = 1.0
# How often the child's exit is checked while its pipes stay open (output wakes us sooner).
EXIT_CHECK_S = 0.25


_calling = threading.local()


class on_start(object):
    """`with proc.on_start(callback):` calls `callback()` once a program run by this thread has
    started (the cycle waits for every probe's program before taking the CPU for other work)."""

    def __init__(self, callback):
        self.callback = callback

    def __enter__(self):
        self.saved = getattr(_calling, "started", None)
        _calling.started = self.callback
        return self

    def __exit__(self, *exc_info):
        _calling.started = self.saved


def prepare():
    """What starting a program needs loaded, loaded now (by the thread that starts the
    probes, before they contend for the import lock)."""
    _use_posix_spawn()


class Result(object):
    def __init__(self, argv, returncode, stdout, stderr, timed_out, missing=False):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.missing = missing  # the program could not be started at all


def run(argv, timeout_s, grace_s=0.5, env=None):
    """Run argv for at most timeout_s seconds, then SIGINT its group, and SIGKILL it grace_s
    later; returns within timeout_s + grace_s + KILL_WAIT_S whatever the program and its
    children do (a child still alive then has returncode None). Never raises for the
    program's own failure."""
    try:
        proc = _start(argv, env)
    except OSError as exc:
        return Result(argv, None, "", "{}: {}".format(argv[0], exc.strerror or exc), False, True)
    started = getattr(_calling, "started", None)
    if started is not None:
        started()
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    output = {out_fd: [], err_fd: []}
    open_fds = set(output)
    timed_out = False
    try:
        until = time.monotonic() + max(0.0, timeout_s)
        for sig in (None, signal.SIGINT, signal.SIGKILL):
            if sig is not None:
                # SIGINT first: ping and traceroute print what they have when interrupted.
                timed_out = True
                _signal_group(proc, sig)
                until = time.monotonic() + (grace_s if sig == signal.SIGINT else KILL_WAIT_S)
            if _read_until_exit(proc, open_fds, output, until):
                break
        # The child is gone: take what is already in the pipes, without waiting for whoever
        # still holds them open.
        _drain(open_fds, output)
    finally:
        # What the group left behind, if anything. The child is not reaped yet, so its pid
        # (the group's id) cannot have been given to another process.
        _signal_group(proc, signal.SIGKILL)
        proc.stdout.close()
        proc.stderr.close()
        if _exited(proc):
            proc.wait()  # a zombie by now: returns at once
    return Result(argv, proc.returncode, _text(output[out_fd]), _text(output[err_fd]),
                  timed_out)


def _read_until_exit(proc, open_fds, output, until):
    """Collect output until the child exits (True) or `until` passes (False)."""
    while True:
        if _exited(proc):
            return True
        left = until - time.monotonic()
        if left <= 0:
            return False
        if not open_fds:
            time.sleep(min(left, 0.02))
            continue
        # Bounded waits: the child's exit does not show on pipes a grandchild still holds. Not
        # shorter: fifty probes waking twenty times a second each cost a cycle CPU and the GIL.
        for fd in _ready(open_fds, min(left, EXIT_CHECK_S)):
            _read(fd, open_fds, output)


def _exited(proc):
    """Whether the child has exited, without reaping it (WNOWAIT keeps its pid taken)."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _drain(open_fds, output):
    """Read what the pipes hold now; stop at the first that has nothing ready."""
    for _ in range(1024):  # bounded: someone may still be writing
        if not open_fds:
            return
        ready = _ready(open_fds, 0)
        if not ready:
            return
        for fd in ready:
            _read(fd, open_fds, output)


def _ready(fds, timeout_s):
    """The fds readable (or at their end) within timeout_s; poll, not select: a cycle with many
    probes may hold descriptors past select's 1024."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(timeout_s * 1000.0)]


def _read(fd, open_fds, output):
    try:
        data = os.read(fd, 65536)
    except OSError:
        data = b""
    if data:
        output[fd].append(data)
    else:
        open_fds.discard(fd)


def _text(chunks):
    """Bytes as text, as universal_newlines would give them, but never failing on a byte."""
    text = b"".join(chunks).decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        pass


def _start(argv, env):
    """The program started in a session of its own, stdin from /dev/null, stdout and stderr to
    pipes: a Popen, or the same made by posix_spawn where that is much cheaper."""
    if _use_posix_spawn():
        return _posix_spawn(argv, env)
    import subprocess
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, env=env)


# Before 3.10, subprocess forks: the parent copies its page tables holding the GIL, then takes
# a copy-on-write fault for each page it touches after. A cycle starts fifty pings at once from
# a threaded process, and on the router's 3.6 each start cost ~2.5-3.5 ms, one after another
# (bench/cycle.py: the last of 51 pings began 150-200 ms after the first, the whole of the
# wall ratio's excess). glibc's posix_spawn (clone with CLONE_VM|CLONE_VFORK) copies nothing:
# fifty start in ~45 ms. From 3.10 subprocess does the same (vfork) itself.
POSIX_SPAWN = sys.version_info < (3, 10)
# glibc's values (spawn.h), the same on every architecture; SETSID came with glibc 2.26.
_SPAWN_SETSIGDEF = 0x04
_SPAWN_SETSID = 0x80
_spawn_lib = []  # [libc] once loaded, [None] when posix_spawn is not usable here


def _use_posix_spawn():
    if not POSIX_SPAWN:
        return False
    if not _spawn_lib:
        libc = _load_spawn_lib()
        if libc is not None:
            _keep_inherited_fds_home()
        _spawn_lib.append(libc)
    return _spawn_lib[0] is not None


def _keep_inherited_fds_home():
    """Mark close-on-exec what this process was given open and inheritable (Python's own
    descriptors are so already): posix_spawn has no close_fds, and a program of ours must not
    hold, say, the pipe whose end the process that started us waits for."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        names = [str(fd) for fd in range(3, 256)]
    for name in names:
        try:
            fd = int(name)
            if fd > 2 and os.get_inheritable(fd):
                os.set_inheritable(fd, False)
        except (ValueError, OSError):
            pass  # the listing's own descriptor, gone already


def _load_spawn_lib():
    """glibc (>= 2.26, for the session flag: CentOS 8 has 2.28) through ctypes, or None."""
    try:
        name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
        if name != "glibc" or tuple(int(p) for p in version.split(".")[:2]) < (2, 26):
            return None
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        for function in ("posix_spawn", "posix_spawn_file_actions_init",
                         "posix_spawn_file_actions_addopen", "posix_spawn_file_actions_adddup2",
                         "posix_spawn_file_actions_destroy", "posix_spawnattr_init",
                         "posix_spawnattr_setflags", "posix_spawnattr_setsigdefault",
                         "posix_spawnattr_destroy", "sigemptyset", "sigaddset"):
            getattr(libc, function)
        return libc
    except (AttributeError, ValueError, OSError, ImportError):
        return None


class _Child(object):
    """What run() needs of a started program, as a Popen gives it: pid, pipes, exit status."""

    def __init__(self, pid, stdout_fd, stderr_fd):
        self.pid = pid
        self.returncode = None
        self.stdout = os.fdopen(stdout_fd, "rb", 0)
        self.stderr = os.fdopen(stderr_fd, "rb", 0)

    def wait(self):
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # reaped elsewhere: Popen says 0 too
                status = 0
            self.returncode = (-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                               else os.WEXITSTATUS(status))
        return self.returncode


def _posix_spawn(argv, env):
    import ctypes
    libc, opaque = _spawn_lib[0], _opaque()
    actions, attributes = opaque(), _spawn_attributes()
    out_read, out_write = os.pipe()  # not inheritable: only the dup2'd ends reach the child
    err_read, err_write = os.pipe()
    libc.posix_spawn_file_actions_init(ctypes.byref(actions))
    try:
        libc.posix_spawn_file_actions_addopen(ctypes.byref(actions), 0, b"/dev/null",
                                              os.O_RDONLY, 0)
        libc.posix_spawn_file_actions_adddup2(ctypes.byref(actions), out_write, 1)
        libc.posix_spawn_file_actions_adddup2(ctypes.byref(actions), err_write, 2)
        words = [os.fsencode(word) for word in argv]
        c_argv = (ctypes.c_char_p * (len(words) + 1))(*(words + [None]))
        environment = os.environb if env is None else dict(
            (os.fsencode(k), os.fsencode(v)) for k, v in env.items())
        pairs = [key + b"=" + value for key, value in environment.items()]
        c_env = (ctypes.c_char_p * (len(pairs) + 1))(*(pairs + [None]))
        pid = ctypes.c_int(0)
        failure = errno.ENOENT
        for path in _candidates(words[0], env):
            failure = libc.posix_spawn(ctypes.byref(pid), path, ctypes.byref(actions),
                                       ctypes.byref(attributes), c_argv, c_env)
            if failure not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                break  # started (0), or a failure the next directory would not mend
    except BaseException:
        os.close(out_read)
        os.close(err_read)
        raise
    finally:
        libc.posix_spawn_file_actions_destroy(ctypes.byref(actions))
        os.close(out_write)
        os.close(err_write)
    if failure:
        os.close(out_read)
        os.close(err_read)
        raise OSError(failure, os.strerror(failure), argv[0])
    return _Child(pid.value, out_read, err_read)


_attributes = []


def _spawn_attributes():
    """The attributes every program is started with (made once, only read by posix_spawn): a
    session of its own, and what Python ignores back to the default (Popen's
    restore_signals)."""
    if not _attributes:
        import ctypes
        libc = _spawn_lib[0]
        attributes, default_signals = _opaque()(), _opaque()()
        libc.posix_spawnattr_init(ctypes.byref(attributes))
        libc.sigemptyset(ctypes.byref(default_signals))
        for number in (signal.SIGPIPE, signal.SIGXFSZ):
            libc.sigaddset(ctypes.byref(default_signals), int(number))
        libc.posix_spawnattr_setsigdefault(ctypes.byref(attributes),
                                           ctypes.byref(default_signals))
        libc.posix_spawnattr_setflags(ctypes.byref(attributes),
                                      ctypes.c_short(_SPAWN_SETSID | _SPAWN_SETSIGDEF))
        _attributes.append(attributes)
    return _attributes[0]


_opaque_type = []


def _opaque():
    """A ctypes type with room for glibc's file actions, attributes or sigset_t (made once)."""
    if not _opaque_type:
        import ctypes

        class Opaque(ctypes.Structure):
            _fields_ = [("space", ctypes.c_longlong * 64)]

        _opaque_type.append(Opaque)
    return _opaque_type[0]


def executables(name, env=None):
    """Where in the PATH of `env` (or of this process) `name` (str or bytes, no slash) is an
    executable file, in PATH's order: where a program is started from, and what shutil.which
    finds (not imported: on Python 3.6 shutil pulls in bz2, lzma and fnmatch)."""
    found = []
    for directory in os.get_exec_path(env):
        if isinstance(name, bytes):
            directory = os.fsencode(directory)
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            found.append(candidate)
    return found


def _candidates(program, env):
    """Where Popen would look for `program` (bytes): itself when it has a slash, else the
    executable ones of PATH (a failed posix_spawn costs a whole clone and exec, a stat does
    not); none: the first directory, whose failure says ENOENT or EACCES."""
    if b"/" in program:
        return [program]
    return executables(program, env) or [
        os.path.join(os.fsencode(os.get_exec_path(env)[0]), program)]
