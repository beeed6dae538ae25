"""The router itself, through the Guest Shell `cli` module.

Only `cli.execute()` is used (one exec command; it refuses `;` and newlines). What the module does
is described in the project's platform notes ("The `cli` module, as its public source behaves"):

- It is not thread-safe (one module-level listener rewrites its session token from each response),
  so every call here holds one process-wide lock; a caller that cannot get it within its time gets
  a DeviceTimeout saying IOS was busy.
- It has its own timeout, `cli.MAX_WAIT_TIME`: set to the call's allowed time, IOS gives up and the
  module raises CLITimeoutError with the partial output, which stays on the DeviceTimeout as
  `.output`. The call runs in the calling thread, so nothing is left talking to IOS afterwards.
  A module without MAX_WAIT_TIME gets a bounded fallback (see `_call_in_thread`).
- Empty output makes the module itself fail on `None.strip` (AttributeError): that is '' here.
- Exception classes differ across IOS XE releases, so any exception at this boundary becomes a
  DeviceError, and output carrying IOS error text is a failure too.
"""

import _thread
import time

from guestagent.device import Device, DeviceError, DeviceTimeout, check_command, ios_error

# One IOS call at a time in this process, whichever OnBoxDevice makes it.
# `_thread`, not `threading`: a cycle that runs no probe does not load it (cycle._TASK_THREADS).
_CLI_LOCK = _thread.allocate_lock()
# MAX_WAIT_TIME is given in whole seconds: the unit the module passes to IOS is not documented,
# and an int is valid whether it wants an int or a float. Below one second left, no call starts.
_MIN_CALL_S = 1.0


def import_cli():
    """(module, None) inside Guest Shell; (None, why) elsewhere."""
    try:
        import cli
    except Exception as exc:  # ImportError, or the module failing to find its IOS session
        return None, "the Guest Shell cli module cannot be imported ({}: {})".format(
            type(exc).__name__, exc)
    if not hasattr(cli, "execute"):
        return None, "the imported cli module has no execute() (not Guest Shell's)"
    return cli, None


def _empty_output(exc):
    """True for the module's own failure on a reply without text (`None.strip`)."""
    return isinstance(exc, AttributeError) and "'NoneType'" in str(exc) and "strip" in str(exc)


class OnBoxDevice(Device):
    kind = "onbox"

    def __init__(self, cli_module, command_timeout_s):
        self.cli = cli_module
        self.command_timeout_s = command_timeout_s

    def execute(self, command, timeout_s=None):
        check_command(command)
        allowed_s = self.command_timeout_s if timeout_s is None else min(timeout_s,
                                                                          self.command_timeout_s)
        started = time.monotonic()
        if allowed_s < _MIN_CALL_S:
            raise DeviceTimeout(command, "not sent: {:.1f} s allowed, IOS is given whole "
                                         "seconds".format(max(0.0, allowed_s)))
        if not _CLI_LOCK.acquire(timeout=allowed_s - _MIN_CALL_S):
            raise DeviceTimeout(command, "IOS was busy with another command for {:.1f} s (one "
                                         "call at a time)".format(allowed_s - _MIN_CALL_S))
        left_s = allowed_s - (time.monotonic() - started)
        if left_s < _MIN_CALL_S:  # got the lock, but too late
            _CLI_LOCK.release()
            raise DeviceTimeout(command, "IOS was busy with another command for {:.1f} s (one "
                                         "call at a time)".format(allowed_s - left_s))
        if hasattr(self.cli, "MAX_WAIT_TIME"):
            try:
                output = self._call_with_max_wait(command, left_s)
            finally:
                _CLI_LOCK.release()
        else:
            output = self._call_in_thread(command, left_s)  # releases the lock itself
        error = ios_error(output)
        if error:
            raise DeviceError(command, "IOS says: " + error)
        return output

    def _call_with_max_wait(self, command, wait_s):
        """cli.execute() in this thread, IOS told to give up after wait_s (the lock is held)."""
        previous = self.cli.MAX_WAIT_TIME
        self.cli.MAX_WAIT_TIME = int(wait_s)
        try:
            return self._output_of(command, lambda: self.cli.execute(command), int(wait_s))
        finally:
            self.cli.MAX_WAIT_TIME = previous

    def _call_in_thread(self, command, wait_s):
        """Fallback for a module without MAX_WAIT_TIME: IOS cannot be told to give up, so the call
        runs in a daemon thread that we stop waiting for after wait_s. That thread keeps the lock
        until IOS answers, so no second call overlaps the abandoned one; later callers wait for it
        within their own time and get "IOS was busy". Bounded, but the command still runs on."""
        box = {}
        done = _thread.allocate_lock()
        done.acquire()  # released when the call is back

        def work():
            try:
                box["output"] = self.cli.execute(command)
            except Exception as exc:
                box["error"] = exc
            finally:
                _CLI_LOCK.release()
                done.release()

        try:
            _thread.start_new_thread(work, ())
        except Exception:
            _CLI_LOCK.release()
            raise
        if not done.acquire(True, min(max(0.0, wait_s), _thread.TIMEOUT_MAX)):
            raise DeviceTimeout(command, "no answer from IOS within {:.1f} s (this cli module "
                                         "cannot be told to give up)".format(wait_s))

        def result():
            if "error" in box:
                raise box["error"]
            return box["output"]
        return self._output_of(command, result, wait_s)

    @staticmethod
    def _output_of(command, call, wait_s):
        """The text of call(), every exception turned into a DeviceError."""
        try:
            output = call()
        except Exception as exc:
            if _empty_output(exc):
                return ""
            name = type(exc).__name__
            if name == "CLITimeoutError":
                timeout = DeviceTimeout(command, "IOS gave up after {} s (CLITimeoutError)"
                                        .format(wait_s))
                timeout.output = getattr(exc, "output", None) or ""
                raise timeout
            if name == "CLISyntaxError":
                # The module keeps IOS's text to itself: all it says is that IOS refused.
                raise DeviceError(command, "IOS rejected the command as invalid (CLISyntaxError: "
                                           "{})".format(str(exc).strip()[:200]))
            text = getattr(exc, "output", None) or str(exc)
            raise DeviceError(command, "{}: {}".format(name, str(text).strip()[:300]))
        if output is None:
            return ""
        if not isinstance(output, str):
            raise DeviceError(command, "the cli module returned {}, not text".format(
                type(output).__name__))
        return output
