"""One measurement cycle under a deadline.

Order: lock -> device and agent identity, path discovery (traceroute) while the configured test
points are already being pinged, first-hop ping, router collectors -> SLA section (computed in an
open transaction) -> report -> journal -> SLA commit -> metric pushes (unless --dry-run) -> sink
outcomes. The journal comes before every network sink and before the state is committed, so a
cycle killed at any instant leaves nothing in the state, the pushed counters or VictoriaMetrics
that the journal lacks (docs/architecture.md, "The cycle's contract"). Everything that runs is
bounded by the deadline: what does not finish in time is abandoned and recorded as a measurement
error, and the cycle still journals its report.
"""

import _thread
import errno
import os
import sys
import time

from guestagent import EXIT_CYCLE_ERRORS, EXIT_LOCKED, EXIT_OK, report as reports
from guestagent.deadline import Deadline
from guestagent.schema import Namespace

# Time kept back at the end of the deadline for the journal and the sinks.
SINK_RESERVE_S = 2.0
# A prober is given this long past the probe deadline to return its own deadline error; after
# that its thread is abandoned (never joined) and the sample is a measurement error.
LATE_GRACE_S = 0.5
# Where older versions kept the last outcomes (read once); now the cycle's state beside the
# journal (statefile.cycle_state, two slots written in place) holds them.
OUTCOME_FILE = "sinks.json"
FIRST_HOP = "first-hop"


class Locked(Exception):
    pass


class CycleLock(object):
    """An exclusive lock on <state_dir>/cycle.lock; a second cycle fails at once (exit 3).

    A state directory where the lock cannot even be created (read-only, gone) does not stop the
    cycle: `problem` says why it ran without the lock, and the report records it.
    """

    def __init__(self, state_dir, name="cycle.lock"):
        self.path = os.path.join(state_dir, name)
        self.fd = None
        self.problem = None

    def __enter__(self):
        import fcntl
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o750, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            self.problem = "cannot open the lock {}: {}".format(self.path, exc.strerror or exc)
            return self
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            holder = _flock_holder(self.fd)
            os.close(self.fd)
            self.fd = None
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise Locked("another cycle holds {} (pid {})".format(self.path, holder or "?"))
            self.problem = "cannot lock {}: {}".format(self.path, exc.strerror or exc)
            return self
        # No pid written into the file: that would dirty a flash page every cycle; the
        # kernel's /proc/locks names the holder (_flock_holder).
        return self

    def __exit__(self, *exc_info):
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


def _flock_holder(fd):
    """The pid holding a flock on fd's file, from /proc/locks; the file's text (an older
    version wrote its pid there) when /proc/locks does not say; "" when neither does."""
    try:
        st = os.fstat(fd)
        inode = ":{}".format(st.st_ino)
        with open("/proc/locks") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].endswith(inode) \
                        and int(fields[5].split(":")[0], 16) == os.major(st.st_dev) \
                        and int(fields[5].split(":")[1], 16) == os.minor(st.st_dev):
                    return fields[4]
    except (IOError, OSError, ValueError, IndexError):
        pass
    try:
        return os.read(fd, 64).decode("ascii", "replace").strip()
    except OSError:
        return ""


def early_lock(config_path):
    """A lock taken before the config is read (loading it takes seconds on the router): one per
    config file, in the runtime directory. Overlapping EEM runs then exit 3 at once."""
    from guestagent import config as configs, runtimefiles
    path = os.path.abspath(config_path or configs.default_path())
    digest = runtimefiles.path_digest(path)[:16]  # the same name as with hashlib, without it
    return CycleLock(runtimefiles.directory(), "guestagent-{}.lock".format(digest))


# The cycle's threads are started with `_thread`, not `threading`: on Python 3.6, `threading`
# imports traceback, linecache and tokenize, a tenth of the start-up of a cycle that runs no
# probe. A cycle that runs one imports `threading` anyway (subprocess, the probers), in the main
# thread before any task starts (measure()): Python 3.6's `threading` takes the thread that
# imports it for the main one, and at exit asserts that thread is still alive.
_TASK_THREADS = set()  # idents of the threads running the cycle's tasks


class _Event(object):
    """`threading.Event`'s set() and wait() on `_thread` locks."""

    def __init__(self):
        self._guard = _thread.allocate_lock()
        self._gate = _thread.allocate_lock()
        self._gate.acquire()  # held until set()
        self._set = False

    def set(self):
        with self._guard:
            if not self._set:
                self._set = True
                self._gate.release()

    def wait(self, timeout=None):
        """True once set(); False when `timeout` (seconds) passes first."""
        if self._set:
            return True
        if timeout is None:
            got = self._gate.acquire()
        else:
            got = self._gate.acquire(True, min(max(0.0, timeout), _thread.TIMEOUT_MAX))
        if got:
            self._gate.release()  # the next waiter's turn
        return got or self._set


class _Future(object):
    """A task's outcome. concurrent.futures is not imported for it: on Python 3.6 it pulls in
    multiprocessing and logging, a tenth of a cycle's start-up."""

    def __init__(self):
        self._done = _Event()
        self._result = None
        self._exception = None

    def set_result(self, result):
        self._result = result
        self._done.set()

    def set_exception(self, exception):
        self._exception = exception
        self._done.set()

    def result(self, timeout=None):
        """The result; raises the task's exception, or _NotBack when it is not back in time."""
        if not self._done.wait(timeout):
            raise _NotBack()
        if self._exception is not None:
            raise self._exception
        return self._result


class _NotBack(Exception):
    pass


class _Tasks(object):
    """At most `workers` threads at a time, each taking the tasks left waiting when its own
    ends. A task that hangs is abandoned at the deadline and never joined (ThreadPoolExecutor
    joins its threads at shutdown and at interpreter exit); `_thread`'s threads, like daemon
    threads, do not keep the process alive."""

    def __init__(self, workers):
        self._workers = max(1, workers)
        self._running = 0
        self._waiting = []
        self._lock = _thread.allocate_lock()

    def submit(self, call, *args):
        future = _Future()
        item = (future, call, args)
        with self._lock:
            if self._running >= self._workers:
                self._waiting.append(item)
                return future
            self._running += 1
        try:
            _thread.start_new_thread(self._work, (item,))
        except BaseException:
            with self._lock:
                self._running -= 1
            raise
        return future

    def _work(self, item):
        ident = _thread.get_ident()
        _TASK_THREADS.add(ident)
        try:
            while item is not None:
                future, call, args = item
                try:
                    future.set_result(call(*args))
                except BaseException as exc:  # recorded by whoever awaits it
                    future.set_exception(exc)
                with self._lock:
                    item = self._waiting.pop(0) if self._waiting else None
                    if item is None:
                        self._running -= 1
        finally:
            _TASK_THREADS.discard(ident)


def _runs_program(target):
    """Whether the probe runs a program here (ping, traceroute), which starts at its outset:
    the others (DNS, HTTP, throughput, IOS's ping) are not waited for."""
    return target.kind in ("icmp", "traceroute") and getattr(target, "via", None) != "ios"


class _Starts(object):
    """A count of probes whose program has not started yet (a probe that ends, or runs no
    program, counts as started): `wait()` returns when it is zero, or at the timeout."""

    def __init__(self, count):
        self._left = count
        self._zero = _Event()
        self._lock = _thread.allocate_lock()
        if count <= 0:
            self._zero.set()

    def one(self):
        """A callable for one probe: counts it the first time it is called."""
        called = []

        def started():
            with self._lock:
                if called:
                    return
                called.append(True)
                self._left -= 1
                if self._left <= 0:
                    self._zero.set()

        return started

    def wait(self, timeout_s):
        return self._zero.wait(timeout_s)


class Late(Exception):
    """A task did not return before the cycle stopped waiting for it."""


class Cycle(object):
    def __init__(self, config, trigger="cli", deadline_s=None, dry_run=False, verbose=False,
                 track=None, track_state=None, out=sys.stderr):
        self.config = config
        self.trigger = trigger
        self.deadline_s = float(deadline_s or config.agent.deadline_s)
        self.dry_run = dry_run
        self.verbose = verbose
        self.out = out
        self.report = reports.new(trigger, self.deadline_s, track=track, track_state=track_state)
        self.report["cycle"]["config"] = getattr(config, "source", None) or ""
        self.deadline = Deadline(self.deadline_s)
        self.reserve_s = min(SINK_RESERVE_S, self.deadline_s * 0.2)
        self.probe_deadline = self.deadline.shortened(self.reserve_s)
        self.device = None
        self.journal_path = None
        self.journal_position = None  # the file and offset just past this cycle's line
        self.metric_set = None
        self._sla_pending = None
        self._collected = set()  # router sections done (the rest are reported late)
        self._starts = None  # _Starts: the probes whose program has not started yet
        self._prepare_step = "waiting"  # the SLA preparation: "running" or "skipped" once taken
        self._prepared = _Future()
        self._sla_idle = None  # sla.idle_entry: this cycle does not open the SLA state
        self._sla_idle_next = None  # what the cycle state keeps for the next cycle
        self._lock = _thread.allocate_lock()
        self._sealed = False  # set when the cycle stops waiting: late threads change nothing

    # -- helpers -------------------------------------------------------------------------------
    def say(self, text):
        if self.verbose:
            with self._lock:
                self.out.write(text + "\n")
                self.out.flush()

    def error(self, where, message):
        with self._lock:
            if self._sealed and _thread.get_ident() in _TASK_THREADS:
                return  # an abandoned task: its report was already written
            reports.add_error(self.report, where, message)
        self.say("error: {}: {}".format(where, message))

    def publish(self, key, value):
        """Put a task's result into the report, unless the cycle stopped waiting for it."""
        with self._lock:
            if not self._sealed:
                self.report[key] = value

    def seal(self):
        with self._lock:
            self._sealed = True

    def wait_for(self, future, what):
        """The task's result; Late when it is not back by the probe deadline (plus grace)."""
        timeout_s = max(0.0, self.probe_deadline.remaining() + LATE_GRACE_S)
        timeout_s = min(timeout_s, max(0.0, self.deadline.remaining() - self.reserve_s / 2))
        try:
            return future.result(timeout=timeout_s)
        except _NotBack:
            raise Late("deadline: {}: no result within the cycle's deadline ({:g} s); "
                       "abandoned".format(what, self.deadline_s))
        except Exception as exc:  # a bug in the task must not cost the cycle
            raise Late("{} crashed: {}: {}".format(what, type(exc).__name__, exc))

    # -- steps ---------------------------------------------------------------------------------
    def open_device(self):
        from guestagent.device import DeviceError, open_device
        try:
            self.device = open_device(self.config.device)
            self.report["agent"]["device"] = self.device.describe()
        except DeviceError as exc:
            self.report["agent"]["device"] = {"kind": "none", "reason": str(exc)}
            self.error("device", exc)
        # A simulated report must never pass for a real one: flagged here and on every series.
        self.report["agent"]["simulated"] = self.report["agent"]["device"]["kind"] == "simulated"

    def identify(self):
        """The router's identity from `show version` (a task: the device may not answer)."""
        found = {}
        if self.device is not None:
            from guestagent import ios
            if "show-version" in ios.PARSERS:
                try:
                    text = self.device.execute("show version",
                                               timeout_s=min(5.0, self.probe_deadline.remaining()))
                    version = ios.parser("show-version")(text)
                    found = {"serial": version.get("serial"), "platform": version.get("platform"),
                             "ios_version": version.get("version")}
                    if version.get("hostname"):
                        found["hostname"] = version["hostname"]
                except Exception as exc:
                    self.error("show version", exc)
        with self._lock:
            if not self._sealed:
                self.report["agent"].update(found)

    def targets(self):
        return list(self.config.targets)

    def run_probe(self, target, starts=None):
        """One sample; `starts` (a _Starts) hears once that its program started, or that the
        probe ended without one."""
        from guestagent import probes, proc
        from guestagent.config import target_options
        prober = probes.module(target.kind)
        context = Namespace(device=self.device, config=self.config, trigger=self.trigger,
                            state_dir=self.config.agent.state_dir)
        started = starts.one() if starts is not None else (lambda: None)
        try:
            with proc.on_start(started):
                sample = prober.probe(target, target_options(self.config, target),
                                      self.probe_deadline, context)
        except Exception as exc:  # a prober bug must not cost the other samples
            from guestagent.probes import common
            sample = common.new_sample(target, target.kind)
            sample["error"] = "probe crashed: {}: {}".format(type(exc).__name__, exc)
        finally:
            started()
        if sample.get("error"):
            self.error("probe {}".format(target.name), sample["error"])
        self.say(describe_sample(sample))
        return sample

    def late_sample(self, target, message):
        from guestagent.probes import common
        sample = common.new_sample(target, target.kind)
        sample["error"] = message
        self.error("probe {}".format(target.name), sample["error"])
        return sample

    def path_target(self):
        discovery = self.config.path_discovery
        toward = discovery.toward or (self.config.targets[0].host if self.config.targets else None)
        if not discovery.enabled or not toward:
            return None
        return Namespace(name="path", host=toward, kind="traceroute", role="path", group=None,
                         via=discovery.via, vrf=discovery.vrf)

    def discover_path(self, starts=None):
        """Traceroute toward the anchor; returns the first-hop target or None."""
        discovery = self.config.path_discovery
        target = self.path_target()
        if target is None:
            return None
        sample = self.run_probe(target, starts)
        self.publish("path", {
            "toward": target.host, "address": sample.get("address"),
            "hops": sample.get("hops") or [], "first_hop": sample.get("first_hop"),
            "reached": bool(sample.get("reached")), "truncated": bool(sample.get("truncated")),
            "error": sample.get("error"), "via": sample.get("via"),
            "via_reason": sample.get("via_reason"), "reduced": sample.get("reduced"),
            "partial": bool(sample.get("partial")),
        })
        if discovery.first_hop and sample.get("first_hop"):
            # The first hop is probed from where the path was traced (IOS when traceroute is absent).
            via = sample.get("via") or discovery.via
            return Namespace(name=FIRST_HOP, host=sample["first_hop"], kind="icmp", role=FIRST_HOP,
                             group=None, via=via, vrf=discovery.vrf if via == "ios" else None)
        return None

    def measure(self):
        """Identity, every test point, the path and the router's sections, concurrently; the
        first hop joins when traceroute found it. Waits end at the probe deadline (plus a short
        grace): what is not back then is a measurement error, and its thread is left behind."""
        targets = self.targets()
        workers = max(1, min(self.config.probes.concurrency, len(targets) + 2)) + 2
        path = self.path_target()
        if targets or path is not None:
            # The probers and what they load use `re`: what it compiles is kept for the next
            # cycle too (a cycle without a test point may never load it: guestagent/rx.py).
            from guestagent import regexcache
            regexcache.hook()
            import threading  # noqa: F401 (in the main thread: see _TASK_THREADS)
        # Loaded here, once, rather than by fifty threads at once behind the import lock.
        from guestagent import probes
        for kind in sorted(set(t.kind for t in targets)):
            probes.module(kind)
        waited = [t for t in targets + [path] if t is not None and _runs_program(t)]
        if waited:  # a cycle that starts no program (no test point) loads none of it
            from guestagent import proc
            proc.prepare()
        self._starts = starts = _Starts(len(waited))

        def starts_of(target):
            return starts if target in waited else None

        tasks = _Tasks(workers)
        try:
            # The probes' programs start first: the router's sections are mostly parsing, and
            # would hold the GIL that each ping's start needs.
            futures = [(t, tasks.submit(self.run_probe, t, starts_of(t))) for t in targets]
            # No thread for a path not discovered (discover_path() would return at once).
            path_future = tasks.submit(self.discover_path, starts_of(path)) \
                if path is not None else None
            identify_future = tasks.submit(self.identify)
            collect_future = tasks.submit(self.collect_then_prepare)
            try:
                first_hop = self.wait_for(path_future, "path discovery") \
                    if path_future is not None else None
            except Late as exc:
                first_hop = None
                target = self.path_target()
                self.publish("path", {"toward": target.host, "address": None, "hops": [],
                                      "first_hop": None, "reached": False, "truncated": False,
                                      "error": str(exc), "via": target.via})
                self.error("probe path", str(exc))
            if first_hop is not None:
                futures.insert(0, (first_hop, tasks.submit(self.run_probe, first_hop)))
            samples = []
            for target, future in futures:
                try:
                    samples.append(self.wait_for(future, "probe " + target.name))
                except Late as exc:
                    samples.append(self.late_sample(target, str(exc)))
            for future, what in ((collect_future, "router sections"),
                                 (identify_future, "show version")):
                try:
                    self.wait_for(future, what)
                except Late as exc:
                    if future is collect_future:
                        from guestagent import collectors
                        for name in sorted(set(collectors.COLLECTORS) - self._collected):
                            if self.device is not None:
                                self.error("collect {}".format(name), str(exc))
                    else:
                        self.error(what, str(exc))
            self.report["probes"] = samples
        finally:
            self.seal()  # the workers end by themselves once no task is left waiting

    def collect_then_prepare(self):
        """The router's sections, then the SLA state opened and the journal's newer reports
        replayed (`sla.prepare`): CPU that would otherwise follow the pings. It comes after
        the sections, when every probe's program has started: begun beside them, it delayed
        the last pings' start as much as it saved at the end."""
        try:
            self.collect()
        finally:
            self._prepare_in_worker()

    def _prepare_in_worker(self):
        if self._sla_idle is not None:
            return
        # After every probe's program has started: its CPU would delay the last ones' start
        # (each waits for the GIL, up to the 5 ms switch interval each time).
        if self._starts is not None:
            self._starts.wait(max(0.0, self.probe_deadline.remaining()))
        with self._lock:
            if self._prepare_step != "waiting":  # analyse() got there first
                return
            self._prepare_step = "running"
        try:
            from guestagent import sla
            self._prepared.set_result(sla.prepare(self.config, self.report["cycle"]["id"],
                                                  self.config.journal.dir))
        except BaseException as exc:  # begin() meets, and reports, whatever failed here
            self._prepared.set_exception(exc)

    def _prepared_state(self):
        """What the worker prepared; None when it had not started (a router section that
        hangs) or failed, or is not back before the sinks' reserve: begin() then opens and
        replays itself. A late one is left to roll back when the process ends."""
        with self._lock:
            if self._prepare_step == "waiting":
                self._prepare_step = "skipped"
                return None
        try:
            return self._prepared.result(max(0.0, self.deadline.remaining() - self.reserve_s))
        except Exception:
            return None

    def collect(self):
        from guestagent import collectors
        for name in sorted(collectors.COLLECTORS):
            if self.device is None:
                break
            try:
                module = collectors.module(name)
                self.publish(name, module.collect(self.device, self.config, self.probe_deadline))
            except reports.Partial as exc:  # data, and what went wrong getting it
                self.publish(name, exc.data)
                for message in exc.errors:
                    self.error("collect {}".format(name), message)
            except Exception as exc:
                self.error("collect {}".format(name), "{}: {}".format(type(exc).__name__, exc))
            self._collected.add(name)

    def analyse(self):
        """Per-cycle verdicts, and the SLA section computed in a transaction left open: it is
        committed only once the journal holds this report (`settle_state`)."""
        try:
            section = _isolation(self.config, self.report)
            if section is not None:
                self.report["isolation"] = section
        except ImportError:
            pass
        except Exception as exc:
            self.error("isolation", "{}: {}".format(type(exc).__name__, exc))
        try:
            from guestagent import sla
        except ImportError:
            return
        if self._sla_idle is not None:
            self.report["sla"] = sla.idle_section(self.config)
            return
        prepared = self._prepared_state()
        try:
            self._sla_pending = sla.begin(self.config, self.report, self.config.journal.dir,
                                          prepared)
        except Exception as exc:
            self.error("sla", "{}: {}".format(type(exc).__name__, exc))
            return
        section = self._sla_pending.section
        self.report["sla"] = section
        for note in section.get("notes") or []:
            self.error("sla", note)
        if section.get("error"):
            self.error("sla", section["error"])

    def settle_state(self, journaled):
        """Commit the SLA pass once the journal has the report; without the journal, roll it
        back and keep this cycle's counters out of every push."""
        pending, self._sla_pending = self._sla_pending, None
        if pending is None:
            if self._sla_idle is not None:
                from guestagent import sla
                self._sla_idle_next = sla.next_idle(self.config, self.report, journaled,
                                                    skipped=self._sla_idle)
            return
        if journaled:
            from guestagent import sla
            from guestagent.sinks import journal
            error = pending.commit(journal.end_position(self.journal_path))
            if error:  # the next cycle replays this report from the journal
                self.error("sla", error)
            self._sla_idle_next = sla.next_idle(self.config, self.report, journaled,
                                                pending=pending)
            return
        if pending.store is not None:  # else the state was not open: already an error
            pending.rollback("state not updated: the report is not in the journal")
            self.error("sla", pending.section["error"])
        for entry in (pending.section.get("targets") or {}).values():
            entry.pop("counters", None)
        for entry in (pending.section.get("groups") or {}).values():
            if isinstance(entry, dict):
                entry.pop("counters", None)

    def metrics(self):
        out = metrics_for(self.report)
        out.gauge("guestagent_cycle_duration_seconds", "Wall time of the last cycle.",
                  self.deadline.elapsed())
        return out

    def previous_outcome(self):
        """The last cycle's sink outcomes (written after its journal line), for this report."""
        from guestagent import statefile
        state = statefile.cycle_state(self.config.journal.dir)
        for problem in state.problems:
            self.error("sinks", problem)
        previous = state.get("sinks") if state.found else _legacy_outcome(
            self.config.journal.dir, self.error)
        return previous if isinstance(previous, dict) and previous.get("cycle_id") else None

    def count_telemetry(self, previous):
        """This month's telemetry bytes: what the sinks put on the wire this cycle, added to the
        previous outcome's count while the UTC month is the same (kept in the outcome file)."""
        sinks = self.report.get("sinks")
        if not sinks:
            return
        month = time.strftime("%Y-%m", time.gmtime())
        sent = sum(outcome.get("wire_bytes") or 0 for outcome in sinks.values()
                   if isinstance(outcome, dict) and isinstance(outcome.get("wire_bytes"), int))
        sinks["telemetry"] = telemetry_month(previous, month, sent)

    def write_outcome(self):
        """The sink outcomes, with every other section of the cycle's state (the
        VictoriaMetrics cursor, the interface counters): one in-place write, one flash page."""
        from guestagent import statefile
        outcome = dict(self.report.get("sinks") or {}, cycle_id=self.report["cycle"]["id"],
                       journaled=self.journal_path is not None)
        state = statefile.cycle_state(self.config.journal.dir)
        state.put("sinks", outcome)
        if self.journal_position is not None:
            state.put("journal", {"cycle_id": self.report["cycle"]["id"],
                                  "position": self.journal_position})
        from guestagent.sla import IDLE
        if self._sla_idle_next is not None or state.get(IDLE) is not None:
            state.put(IDLE, self._sla_idle_next)
        first = not state.found  # none on flash before this save: an older version's may be
        try:
            if not os.path.isdir(self.config.journal.dir):
                os.makedirs(self.config.journal.dir, mode=0o750, exist_ok=True)
            state.save()
        except (IOError, OSError) as exc:
            self.error("sinks", "outcome not written: {}".format(exc.strerror or exc))
            return
        if first:
            _drop_legacy(self.config)

    def write_journal(self):
        from guestagent.sinks import journal
        journal_config = self.config.journal
        self.report["storage"] = storage_figures(journal_config, self.config.agent.state_dir)
        try:
            position = {}
            path = journal.append(journal_config.dir, reports.dumps(self.report),
                                  journal_config.max_bytes, journal_config.keep_files,
                                  journal_config.budget_bytes, position)
            self.journal_position = position or None
            return path
        except (IOError, OSError) as exc:
            # The report still goes to stdout of the EEM run; say why it is not on flash.
            self.error("journal", "cannot write {}: {}".format(journal_config.dir,
                                                              exc.strerror or exc))
            return None

    def push(self, out, previous=None):
        sinks = self.report.setdefault("sinks", {})
        push_config = self.config.sinks.pushgateway
        if push_config is None:
            return
        if self.dry_run:
            sinks["pushgateway"] = {"ok": False, "skipped": "dry run"}
            return
        from guestagent.sinks import pushgateway
        job = push_config.job or self.config.agent.job
        try:
            outcome = pushgateway.push(out, push_config, job, self.report["agent"]["instance"],
                                       self.deadline,
                                       previous=(previous or {}).get("pushgateway"))
        except Exception as exc:
            outcome = {"ok": False, "attempts": 0, "error": pushgateway.redact(
                "{}: {}".format(type(exc).__name__, exc))}
        sinks["pushgateway"] = outcome
        if not outcome["ok"]:
            self.error("pushgateway", outcome.get("error", "push failed"))
        else:
            self.say("pushed to {} ({} attempt(s))".format(pushgateway.redact(push_config.url),
                                                         outcome["attempts"]))

    def sync_store(self, previous):
        """Send the journal's reports the store has not accepted, with their timestamps."""
        sink_config = self.config.sinks.victoriametrics
        if sink_config is None:
            return
        sinks = self.report.setdefault("sinks", {})
        if self.dry_run:
            sinks["victoriametrics"] = {"ok": False, "skipped": "dry run"}
            return
        if self.journal_path is None:
            # Only journaled reports go to the store: it must never hold what the journal lacks.
            sinks["victoriametrics"] = {"ok": False, "skipped": "report not journaled"}
            return
        from guestagent.sinks import victoriametrics
        recovered = ((previous or {}).get("victoriametrics") or {}).get("last_id")
        try:
            outcome = victoriametrics.sync(
                sink_config, self.config.agent.state_dir, self.config.journal.dir, self.report,
                sink_config.job or self.config.agent.job, self.report["agent"]["instance"],
                self.deadline, recovered_id=recovered if isinstance(recovered, str) else None)
        except Exception as exc:
            from guestagent.sinks.pushgateway import redact
            outcome = {"ok": False, "attempts": 0,
                       "error": redact("{}: {}".format(type(exc).__name__, exc))}
        sinks["victoriametrics"] = outcome
        for problem in outcome.get("problems") or []:
            self.error("victoriametrics", problem)
        if not outcome["ok"]:
            self.error("victoriametrics", outcome.get("error", "import failed"))

    def run(self):
        """Run the cycle; returns (report, exit code)."""
        from guestagent import statefile
        state = statefile.cycle_state(self.config.journal.dir, fresh=True)  # as on flash, once
        try:
            from guestagent import sla
            self._sla_idle = sla.idle_entry(self.config, state, self.config.journal.dir)
        except ImportError:
            pass
        self.open_device()
        self.measure()
        agent = self.report["agent"]
        agent["python"] = "%d.%d.%d" % sys.version_info[:3]
        for key in ("serial", "platform", "ios_version"):
            agent.setdefault(key, None)
        agent["instance"] = self.config.agent.instance or agent["hostname"]
        self.analyse()
        previous = self.previous_outcome()
        self.report["sinks_previous"] = previous
        self.report["cycle"]["deadline_hit"] = self.probe_deadline.expired()
        reports.finish(self.report)
        self.journal_path = self.write_journal()  # first: what was measured is on flash
        self.settle_state(self.journal_path is not None)
        out = self.metrics()
        self.push(out, previous)
        self.sync_store(previous)
        self.count_telemetry(previous)
        self.write_outcome()
        self.metric_set = out
        return self.report, (EXIT_CYCLE_ERRORS if self.report["errors"] else EXIT_OK)


def telemetry_month(previous, month, sent_bytes):
    """{"month", "wire_bytes"}: the previous outcome's count for `month` (0 in a new month, or
    without one) plus `sent_bytes`."""
    before = ((previous or {}).get("telemetry") or {})
    carried = before.get("wire_bytes") if before.get("month") == month else 0
    if not isinstance(carried, int) or carried < 0:
        carried = 0
    return {"month": month, "wire_bytes": carried + int(sent_bytes),
            "cycle_wire_bytes": int(sent_bytes)}


def metrics_for(report, timestamp=None):
    """The metrics of a report: a pure function of it, so that a journal can be replayed."""
    from guestagent import collectors, probes
    from guestagent.metrics import MetricSet
    agent = report["agent"]
    simulated = agent.get("simulated") or agent["device"]["kind"] == "simulated"
    out = MetricSet(common_labels={"simulated": "true"} if simulated else None,
                    timestamp=timestamp)
    out.info("guestagent_agent_info", "The agent and the router it runs on.", {
        "version": agent["version"], "hostname": agent.get("hostname"),
        "serial": agent.get("serial"), "platform": agent.get("platform"),
        "ios_version": agent.get("ios_version"), "device": agent["device"]["kind"]})
    for sample in report["probes"]:
        labels = out.probe_labels(sample)
        if sample.get("skipped"):  # not due this cycle (its schedule, its budget)
            probes.module(sample["kind"]).metrics(sample, out)
            continue
        out.gauge("guestagent_probe_success",
                  "1 when the sample was taken and the test point answered.",
                  1 if (not sample.get("error") and sample.get("reachable")) else 0, labels)
        out.gauge("guestagent_probe_measurement_error",
                  "1 when the agent could not take the sample (excluded from availability).",
                  1 if sample.get("error") else 0, labels)
        # The probe's own wall time stays in the report: cycle_duration_seconds says whether
        # the cycle kept its deadline, and per point it changed every cycle for no reader.
        if sample.get("resolve_s"):
            out.gauge("guestagent_probe_resolve_seconds",
                      "Name resolution time before the probe.", sample["resolve_s"], labels)
        if not sample.get("error") and sample["kind"] in probes.PROBERS:
            probes.module(sample["kind"]).metrics(sample, out)
    path = report.get("path")
    if path and not path.get("error"):
        probes.module("traceroute").metrics(dict(path, target="path", role="path",
                                                 kind="traceroute", via=path.get("via")), out)
    for name in sorted(collectors.COLLECTORS):
        if report.get(name):
            _section_metrics(report, name, collectors.module(name), out)
    for name, module_name in (("isolation", "guestagent.isolation"), ("sla", "guestagent.sla")):
        if report.get(name):
            _section_metrics(report, name, __import__(module_name, fromlist=["metrics"]), out)
    cycle = report["cycle"]
    if cycle.get("duration_s") is not None:
        out.gauge("guestagent_cycle_duration_seconds", "Wall time of the last cycle.",
                  cycle["duration_s"])
    out.gauge("guestagent_cycle_deadline_seconds", "Time budget of the last cycle.",
              cycle["deadline_s"])
    out.gauge("guestagent_cycle_errors", "Errors recorded in the last cycle's report.",
              len(report["errors"]))
    previous = report.get("sinks_previous") or {}
    for sink in sorted(previous):
        outcome = previous[sink]
        # A sink's outcome is known only after the push, so it rides on the next cycle's report.
        if isinstance(outcome, dict) and "ok" in outcome and not outcome.get("skipped"):
            out.gauge("guestagent_sink_previous_cycle_ok",
                      "1 when the previous cycle's push to this sink was accepted.",
                      1 if outcome["ok"] else 0, {"sink": sink})
            if isinstance(outcome.get("backlog_bytes"), int):
                out.gauge("guestagent_sink_previous_backlog_bytes",
                          "Journal bytes of reports this sink had not accepted after the "
                          "previous cycle.",
                          outcome["backlog_bytes"], {"sink": sink})
    telemetry = previous.get("telemetry")
    if isinstance(telemetry, dict) and isinstance(telemetry.get("wire_bytes"), int):
        # Up to the previous cycle (this one's bytes are known only once it has sent them); a
        # new UTC month starts from zero.
        month = time.strftime("%Y-%m", time.gmtime(cycle["started_ts"]))
        out.gauge("guestagent_telemetry_month_bytes",
                  "Bytes the sinks put on the wire this calendar month (UTC), up to the "
                  "previous cycle.", telemetry["wire_bytes"] if telemetry.get("month") == month
                  else 0)
    storage = report.get("storage")
    if isinstance(storage, dict):
        for key, name, text in _STORAGE_GAUGES:
            if isinstance(storage.get(key), int):
                out.gauge(name, text, storage[key])
    out.info("guestagent_cycle_info", "How the last cycle was started.",
             {"trigger": cycle["trigger"]})
    out.gauge("guestagent_last_cycle_timestamp_seconds",
              "Unix time the last cycle started (a silent router shows as stale, not healthy).",
              cycle["started_ts"])
    return out


_STORAGE_GAUGES = (
    ("journal_bytes", "guestagent_journal_bytes",
     "Bytes in the journal's files before this cycle's report."),
    ("journal_capacity_bytes", "guestagent_journal_capacity_bytes",
     "What the journal keeps at most: journal.budget_bytes (or max_bytes x (keep_files + 1))."),
    ("filesystem_free_bytes", "guestagent_state_filesystem_free_bytes",
     "Free bytes on the file system of the state directory (the flash)."),
    ("filesystem_size_bytes", "guestagent_state_filesystem_size_bytes",
     "Size of the file system of the state directory."),
)


def _legacy_outcome(journal_dir, error):
    """The outcome an older version left in sinks.json (read once, until the state is saved)."""
    from guestagent.statefile import read_json
    problems = []
    previous = read_json(os.path.join(journal_dir, OUTCOME_FILE), problems=problems)
    for problem in problems:
        error("sinks", problem)
    return previous


def _drop_legacy(config):
    """Once the state is on flash, the files an older version rewrote each cycle go (in the
    cycle that wrote the state first: later cycles read the state, never these)."""
    from guestagent.collectors.interfaces import STATE_FILE as INTERFACES
    from guestagent.sinks.victoriametrics import CURSOR
    for path in (os.path.join(config.journal.dir, OUTCOME_FILE),
                 os.path.join(config.agent.state_dir, CURSOR),
                 os.path.join(config.agent.state_dir, INTERFACES)):
        try:
            os.remove(path)
        except OSError:
            pass


def storage_figures(journal_config, state_dir):
    """The journal's size against its bound, and the flash's free space: what an alert needs to
    say that reports will rotate away before a sink takes them, or that the flash fills up."""
    from guestagent.sinks import journal
    figures = {"journal_capacity_bytes": int(min(journal_config.budget_bytes,
                                                 journal_config.max_bytes *
                                                 (journal_config.keep_files + 1)))}
    try:
        figures["journal_bytes"] = sum(os.path.getsize(path)
                                       for path in journal.files(journal_config.dir))
    except (IOError, OSError):
        pass  # rotated while listed, or unreadable: the figure is absent, not wrong
    try:
        stat = os.statvfs(state_dir)
        figures["filesystem_free_bytes"] = int(stat.f_bavail * stat.f_frsize)
        figures["filesystem_size_bytes"] = int(stat.f_blocks * stat.f_frsize)
    except (IOError, OSError):
        pass
    return figures


def _section_metrics(report, name, module, out):
    try:
        module.metrics(report[name], out)
    except Exception as exc:  # one section's bug must not cost the others' metrics
        reports.add_error(report, "metrics {}".format(name), "{}: {}".format(
            type(exc).__name__, exc))


def _isolation(config, report):
    from guestagent import isolation
    sla = config.get("sla") or {}
    return isolation.verdict(report["probes"], sla.get("loss_max", isolation.LOSS_MAX),
                             sla.get("rtt_max_ms", isolation.RTT_MAX_MS))


def _sla(config, report):
    from guestagent import sla
    return sla.update(config, report)


def describe_sample(sample):
    """One line per probe, for -v."""
    name = "{:<8} {:<18}".format(sample["kind"], sample["target"][:18])
    if sample.get("error"):
        return "{} ERROR {}".format(name, sample["error"])
    if sample.get("skipped"):
        return "{} skipped: {}".format(name, sample["skipped"])
    if sample["kind"] == "traceroute":
        return "{} {} hops, first hop {}".format(name, len(sample.get("hops") or []),
                                                 sample.get("first_hop") or "-")
    if sample["kind"] == "throughput":
        rates = ["{} {}".format(d, _rate((sample.get(d) or {}).get("bits_per_second")))
                 for d in ("download", "upload")]
        return "{} {}, latency {}".format(name, ", ".join(rates), _ms(sample.get("latency_ms")))
    if sample["kind"] == "dns" and sample.get("loss_ratio") is not None:
        return "{} loss {:5.1%}  median response {}  {}".format(
            name, sample["loss_ratio"], _ms((sample.get("response_ms") or {}).get("median")),
            " ".join("{}={}".format(k, v) for k, v in sorted(sample["rcodes"].items())))
    if sample["kind"] == "http" and sample.get("loss_ratio") is not None:
        phases = sample.get("phases_ms") or {}
        return "{} failed {:5.1%}  median ttfb {}  total {}  {}".format(
            name, sample["loss_ratio"], _ms((phases.get("ttfb") or {}).get("median")),
            _ms((phases.get("total") or {}).get("median")),
            " ".join("HTTP {}x{}".format(k, v) for k, v in sorted(sample["statuses"].items())))
    if "loss_ratio" in sample and sample.get("loss_ratio") is not None:
        rtt = (sample.get("rtt_ms") or {}).get("median")
        return "{} loss {:5.1%}  median rtt {}  jitter {}".format(
            name, sample["loss_ratio"], "-" if rtt is None else "{:.3f} ms".format(rtt),
            "-" if sample.get("jitter_ms") is None else "{:.3f} ms".format(sample["jitter_ms"]))
    return "{} done in {:.3f} s".format(name, sample.get("duration_s") or 0)


def _ms(value):
    return "-" if value is None else "{:.3f} ms".format(value)


def _rate(bps):
    return "-" if bps is None else "{:.2f} Mbit/s".format(bps / 1e6)


def run(config, **kwargs):
    """Take the lock and run one cycle: (report or None, exit code, message)."""
    try:
        with CycleLock(config.agent.state_dir) as lock:
            cycle = Cycle(config, **kwargs)
            if lock.problem:
                cycle.error("lock", lock.problem + "; running without it")
            report, code = cycle.run()
            return report, code, None
    except Locked as exc:
        return None, EXIT_LOCKED, str(exc)
