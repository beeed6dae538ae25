"""One measurement cycle under a deadline.

Order: lock -> device and agent identity -> path discovery (traceroute) while the configured test
points are already being pinged -> first-hop ping -> router collectors -> SLA state -> report ->
journal (always) -> metric pushes (unless --dry-run). Everything that runs is bounded by the
deadline; what does not finish in time is killed and recorded as a measurement error.
"""

import errno
import os
import sys
import threading
import time

from guestagent import EXIT_CYCLE_ERRORS, EXIT_LOCKED, EXIT_OK, report as reports
from guestagent.deadline import Deadline
from guestagent.schema import Namespace

# Time kept back at the end of the deadline for the journal and the push.
SINK_RESERVE_S = 2.0
# ... of which the journal, written last, keeps this much.
JOURNAL_RESERVE_S = 0.3
FIRST_HOP = "first-hop"


class Locked(Exception):
    pass


class CycleLock(object):
    """An exclusive lock on <state_dir>/cycle.lock; a second cycle fails at once (exit 3)."""

    def __init__(self, state_dir):
        self.path = os.path.join(state_dir, "cycle.lock")
        self.fd = None

    def __enter__(self):
        import fcntl
        if not os.path.isdir(os.path.dirname(self.path)):
            os.makedirs(os.path.dirname(self.path), mode=0o750)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            holder = os.read(self.fd, 64).decode("ascii", "replace").strip()
            os.close(self.fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise Locked("another cycle holds {} (pid {})".format(self.path, holder or "?"))
            raise
        os.ftruncate(self.fd, 0)
        os.write(self.fd, str(os.getpid()).encode("ascii"))
        return self

    def __exit__(self, *exc_info):
        os.close(self.fd)  # closing releases the flock


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
        self.probe_deadline = self.deadline.shortened(min(SINK_RESERVE_S, self.deadline_s * 0.2))
        self.device = None
        self._lock = threading.Lock()

    # -- helpers -------------------------------------------------------------------------------
    def say(self, text):
        if self.verbose:
            with self._lock:
                self.out.write(text + "\n")
                self.out.flush()

    def error(self, where, message):
        with self._lock:
            reports.add_error(self.report, where, message)
        self.say("error: {}: {}".format(where, message))

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
        agent = self.report["agent"]
        agent["python"] = "%d.%d.%d" % sys.version_info[:3]
        for key in ("serial", "platform", "ios_version"):
            agent.setdefault(key, None)
        if self.device is not None:
            from guestagent import ios
            if "show-version" in ios.PARSERS:
                try:
                    text = self.device.execute("show version",
                                               timeout_s=min(5.0, self.probe_deadline.remaining()))
                    version = ios.parser("show-version")(text)
                    agent["hostname"] = version.get("hostname") or agent["hostname"]
                    agent["serial"] = version.get("serial")
                    agent["platform"] = version.get("platform")
                    agent["ios_version"] = version.get("version")
                except Exception as exc:
                    self.error("show version", exc)
        agent["instance"] = self.config.agent.instance or agent["hostname"]

    def targets(self):
        return list(self.config.targets)

    def run_probe(self, target):
        from guestagent import probes
        from guestagent.config import target_options
        prober = probes.module(target.kind)
        context = Namespace(device=self.device, config=self.config, trigger=self.trigger,
                            state_dir=self.config.agent.state_dir)
        try:
            sample = prober.probe(target, target_options(self.config, target),
                                  self.probe_deadline, context)
        except Exception as exc:  # a prober bug must not cost the other samples
            from guestagent.probes import common
            sample = common.new_sample(target, target.kind)
            sample["error"] = "probe crashed: {}: {}".format(type(exc).__name__, exc)
        if sample.get("error"):
            self.error("probe {}".format(target.name), sample["error"])
        self.say(describe_sample(sample))
        return sample

    def discover_path(self):
        """Traceroute toward the anchor; returns the first-hop target or None."""
        discovery = self.config.path_discovery
        toward = discovery.toward or (self.config.targets[0].host if self.config.targets else None)
        if not discovery.enabled or not toward:
            return None
        target = Namespace(name="path", host=toward, kind="traceroute", role="path", group=None,
                           via=discovery.via, vrf=discovery.vrf)
        sample = self.run_probe(target)
        self.report["path"] = {
            "toward": toward, "address": sample.get("address"), "hops": sample.get("hops") or [],
            "first_hop": sample.get("first_hop"), "reached": bool(sample.get("reached")),
            "truncated": bool(sample.get("truncated")), "error": sample.get("error"),
            "via": sample.get("via"), "via_reason": sample.get("via_reason"),
        }
        if discovery.first_hop and sample.get("first_hop"):
            return Namespace(name=FIRST_HOP, host=sample["first_hop"], kind="icmp", role=FIRST_HOP,
                             group=None, via=discovery.via, vrf=discovery.vrf)
        return None

    def measure(self):
        """Probe every test point concurrently; the first hop joins when traceroute found it."""
        from concurrent.futures import ThreadPoolExecutor
        targets = self.targets()
        workers = max(1, min(self.config.probes.concurrency, len(targets) + 2))
        samples = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self.run_probe, t) for t in targets]
            path_future = pool.submit(self.discover_path)
            collect_future = pool.submit(self.collect)
            first_hop = path_future.result()
            if first_hop is not None:
                futures.insert(0, pool.submit(self.run_probe, first_hop))
            for future in futures:
                samples.append(future.result())
            collect_future.result()
        self.report["probes"] = samples

    def collect(self):
        from guestagent import collectors
        for name in sorted(collectors.COLLECTORS):
            if self.device is None:
                break
            try:
                module = collectors.module(name)
                self.report[name] = module.collect(self.device, self.config, self.probe_deadline)
            except Exception as exc:
                self.error("collect {}".format(name), "{}: {}".format(type(exc).__name__, exc))

    def analyse(self):
        """Cross-cycle state (SLA engine) and per-cycle verdicts, when those parts are present."""
        for name, call in (("isolation", _isolation), ("sla", _sla)):
            try:
                section = call(self.config, self.report)
            except ImportError:
                continue
            except Exception as exc:
                self.error(name, "{}: {}".format(type(exc).__name__, exc))
                continue
            if section is not None:
                self.report[name] = section

    def metrics(self):
        out = metrics_for(self.report)
        out.gauge("guestagent_cycle_duration_seconds", "Wall time of the last cycle.",
                  time.time() - self.report["cycle"]["started_ts"])
        return out

    def write_journal(self):
        from guestagent.sinks import journal
        journal_config = self.config.journal
        try:
            path = journal.append(journal_config.dir, reports.dumps(self.report),
                                  journal_config.max_bytes, journal_config.keep_files)
            return path
        except (IOError, OSError) as exc:
            # The report still goes to stdout/stderr of the EEM run; say why it is not on flash.
            self.error("journal", "cannot write {}: {}".format(journal_config.dir,
                                                              exc.strerror or exc))
            return None

    def push(self, out):
        sinks = self.report.setdefault("sinks", {})
        push_config = self.config.sinks.pushgateway
        if push_config is None:
            return
        if self.dry_run:
            sinks["pushgateway"] = {"ok": False, "skipped": "dry run"}
            return
        from guestagent.sinks import pushgateway
        job = push_config.job or self.config.agent.job
        outcome = pushgateway.push(out, push_config, job, self.report["agent"]["instance"],
                                   self.deadline.shortened(JOURNAL_RESERVE_S))
        sinks["pushgateway"] = outcome
        if not outcome["ok"]:
            self.error("pushgateway", outcome.get("error", "push failed"))
        else:
            self.say("pushed to {} ({} attempt(s))".format(pushgateway.redact(push_config.url),
                                                         outcome["attempts"]))

    def sync_store(self):
        """Send this report and any backlog, with timestamps, to VictoriaMetrics."""
        sink_config = self.config.sinks.victoriametrics
        if sink_config is None:
            return
        sinks = self.report.setdefault("sinks", {})
        if self.dry_run:
            sinks["victoriametrics"] = {"ok": False, "skipped": "dry run"}
            return
        from guestagent.sinks import victoriametrics
        outcome = victoriametrics.sync(
            sink_config, self.config.agent.state_dir, self.config.journal.dir, self.report,
            sink_config.job or self.config.agent.job, self.report["agent"]["instance"],
            self.deadline.shortened(JOURNAL_RESERVE_S))
        sinks["victoriametrics"] = outcome
        if not outcome["ok"]:
            self.error("victoriametrics", outcome.get("error", "import failed"))

    def run(self):
        """Run the cycle; returns (report, exit code)."""
        self.open_device()
        self.identify()
        self.measure()
        self.analyse()
        out = self.metrics()
        self.report["cycle"]["deadline_hit"] = self.probe_deadline.expired()
        self.push(out)
        reports.finish(self.report)
        self.sync_store()
        self.journal_path = self.write_journal()
        self.metric_set = out
        return self.report, (EXIT_CYCLE_ERRORS if self.report["errors"] else EXIT_OK)


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
        out.gauge("guestagent_probe_duration_seconds", "Time the probe took.",
                  sample.get("duration_s"), labels)
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
    out.info("guestagent_cycle_info", "How the last cycle was started.",
             {"trigger": cycle["trigger"]})
    out.gauge("guestagent_last_cycle_timestamp_seconds",
              "Unix time the last cycle started (a silent router shows as stale, not healthy).",
              cycle["started_ts"])
    return out


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
        with CycleLock(config.agent.state_dir):
            cycle = Cycle(config, **kwargs)
            report, code = cycle.run()
            return report, code, None
    except Locked as exc:
        return None, EXIT_LOCKED, str(exc)
