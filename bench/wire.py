"""Bytes on the wire per cycle, by sink and test-point count (1, 10, 50), before and after
compression, from real cycles: the agent's own cycle, renderers and sinks, sending to Debian's
prometheus-pushgateway and victoria-metrics started here on loopback. Prints a table; asserts
nothing.

    python bench/wire.py [--warmup N] [--repeat N]

Each count runs `--warmup` cycles first (the SLA baselines learn after 2 samples here, as they
do after two days on a router), then measures one more. A request's bytes are its request line,
headers and body as sent (what `sinks/http.py` counts for the telemetry counter, answers left
out); "raw" is the same body uncompressed. The Pushgateway column shows both kinds of push: the
full PUT (first cycle, then at least every `full_push_s`, default an hour) and the POST of the
families that changed, which is every other cycle; "cycle" is the steady state (POST), "hour
avg" averages 11 POSTs and one PUT per hour at a 5-minute interval. Every address is loopback.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CYCLES_PER_HOUR = 12  # a 5-minute EEM timer
CYCLES_PER_MONTH = 12 * 24 * 30


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, proc, timeout_s=15.0):
    import socket
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("a receiver exited: {}".format(proc.args))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on 127.0.0.1:{}".format(port))


def start(directory):
    """Debian's Pushgateway and VictoriaMetrics on free loopback ports."""
    gateway = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    store = shutil.which("victoria-metrics")
    if not gateway or not store:
        raise SystemExit("needs prometheus-pushgateway and victoria-metrics (apt-get install)")
    log = open(os.path.join(directory, "receivers.log"), "w")
    pg_port, vm_port = free_port(), free_port()
    procs = [
        subprocess.Popen([gateway, "--web.listen-address=127.0.0.1:{}".format(pg_port),
                          "--persistence.file=" + os.path.join(directory, "pg.data")],
                         stdout=log, stderr=subprocess.STDOUT),
        subprocess.Popen([store, "-httpListenAddr=127.0.0.1:{}".format(vm_port),
                          "-storageDataPath=" + os.path.join(directory, "vm-data")],
                         stdout=log, stderr=subprocess.STDOUT),
    ]
    wait_for(pg_port, procs[0])
    wait_for(vm_port, procs[1])
    return procs, log, "http://127.0.0.1:{}".format(pg_port), \
        "http://127.0.0.1:{}".format(vm_port)


def write_config(directory, n_targets, pg_url, vm_url):
    targets = "\n".join("  - {{name: lo{0}, host: 127.0.0.{0}}}".format(i + 1)
                        for i in range(n_targets))
    state = os.path.join(directory, "state-{}".format(n_targets))
    path = os.path.join(directory, "config-{}.yaml".format(n_targets))
    with open(path, "w") as f:
        f.write("""
agent: {{state_dir: {state}, deadline_s: 30, instance: bench-{n}}}
device: {{kind: simulated}}
path_discovery: {{enabled: true, toward: 127.0.0.1, first_hop: true}}
probes:
  concurrency: 64
  icmp: {{count: 10, interval_s: 0.01, timeout_s: 1.0}}
  traceroute: {{max_hops: 2}}
sla: {{baseline_min_samples: 2}}
targets:
{targets}
sinks:
  pushgateway: {{url: "{pg}"}}
  victoriametrics: {{url: "{vm}"}}
""".format(state=state, n=n_targets, targets=targets, pg=pg_url, vm=vm_url))
    return path


class Requests(object):
    """Every request the sinks send, as (method, path, request bytes), recorded where
    sinks/http.py counts them."""

    def __init__(self):
        from guestagent.sinks import http
        self.seen = []
        self._original = http.request_bytes
        seen = self.seen
        original = self._original

        def counted(method, path, headers, body, host):
            size = original(method, path, headers, body, host)
            seen.append((method, path, size, len(body or b"")))
            return size
        http.request_bytes = counted

    def take(self):
        out = list(self.seen)
        del self.seen[:]
        return out


def one_count(directory, n_targets, pg_url, vm_url, warmup, requests):
    from guestagent import config as configs
    from guestagent.cycle import Cycle
    from guestagent.sinks import http, pushgateway, victoriametrics
    cfg = configs.load(write_config(directory, n_targets, pg_url, vm_url))
    put = None
    for i in range(warmup):
        report = Cycle(cfg).run()[0]
        sent = requests.take()
        if report["sinks"]["pushgateway"].get("method") == "PUT":
            put = sent  # the last full push
    cycle = Cycle(cfg)
    report = cycle.run()[0]
    sent = requests.take()
    if report["sinks"]["pushgateway"].get("method") != "POST":
        raise SystemExit("{} test points: the measured push was not a POST".format(n_targets))
    out = {"series": cycle.metric_set.series(), "families": len(cycle.metric_set.families)}
    out["pg_post"] = sum(size for method, path, size, _ in sent if method == "POST" and
                         "/metrics/" in path)
    out["pg_put"] = sum(size for method, path, size, _ in put if method == "PUT")
    out["vm"] = sum(size for method, path, size, _ in sent if "/write" in path)
    out["pg_post_body"] = sum(b for m, p, _, b in sent if m == "POST" and "/metrics/" in p)
    out["pg_put_body"] = sum(b for m, p, _, b in put if m == "PUT")
    out["vm_body"] = sum(b for m, p, _, b in sent if "/write" in p)
    # The same bodies uncompressed, from the same renderers.
    metric_set = cycle.metric_set
    previous = report["sinks_previous"]["pushgateway"]
    target = http.prepare("pushgateway", cfg.sinks.pushgateway)
    group = "{}:{}{}".format(target.host, target.port, target.base_path + pushgateway.grouping_path(
        cfg.agent.job, report["agent"]["instance"]))
    method, post_raw, _ = pushgateway.plan(metric_set, previous, cfg.sinks.pushgateway,
                                           time.time(), group)
    assert method == "POST"
    out["pg_post_raw"] = len(post_raw)
    out["pg_put_raw"] = len(metric_set.render())
    out["vm_raw"] = len(victoriametrics.render_one(report, "influx"))
    out["vm_text_raw"] = len(victoriametrics.render_one(report, "prometheus"))
    out["vm_text_gz"] = len(pushgateway.gzip_body(victoriametrics.render_one(report,
                                                                             "prometheus")))
    # Rendering's CPU: the Pushgateway's body and the store's, compressed, as a cycle does.
    cpu = []
    for _ in range(20):
        started = time.process_time()
        from guestagent.cycle import metrics_for
        replay = metrics_for(report, timestamp=report["cycle"]["started_ts"])
        pushgateway.gzip_body(pushgateway.plan(replay, previous, cfg.sinks.pushgateway,
                                               time.time(), group)[1])
        pushgateway.gzip_body(replay.render_influx())
        cpu.append(time.process_time() - started)
    out["render_ms"] = statistics.median(cpu) * 1000
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="guestagent-wire-")
    procs, log, pg_url, vm_url = start(directory)
    requests = Requests()
    rows = {}
    try:
        for n in (1, 10, 50):
            rows[n] = one_count(directory, n, pg_url, vm_url, args.warmup, requests)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)

    print("Python {}, gzip level 6, loopback receivers: Debian prometheus-pushgateway and "
          "victoria-metrics".format(sys.version.split()[0]))
    print()
    print("== bodies before and after compression (bytes)")
    head = "{:>6} {:>7} | {:>22} | {:>22} | {:>22} | {:>22}".format(
        "points", "series", "pushgateway PUT raw/gz", "pushgateway POST raw/gz",
        "vm line proto raw/gz", "vm text import raw/gz")
    print(head)
    for n, r in sorted(rows.items()):
        print("{:>6} {:>7} | {:>22} | {:>22} | {:>22} | {:>22}".format(
            n, r["series"], "{} / {}".format(r["pg_put_raw"], r["pg_put_body"]),
            "{} / {}".format(r["pg_post_raw"], r["pg_post_body"]),
            "{} / {}".format(r["vm_raw"], r["vm_body"]),
            "{} / {}".format(r["vm_text_raw"], r["vm_text_gz"])))
    print()
    print("== on the wire per cycle: requests (request line, headers, gzip'd body), bytes")
    print("{:>6} | {:>9} {:>9} {:>9} | {:>9} | {:>9} {:>9} | {:>11} | {:>10}".format(
        "points", "pg PUT", "pg POST", "pg h.avg", "vm", "total", "total h.avg",
        "MB / month", "render ms"))
    for n, r in sorted(rows.items()):
        hour_avg = (r["pg_put"] + (CYCLES_PER_HOUR - 1) * r["pg_post"]) / float(CYCLES_PER_HOUR)
        total = r["pg_post"] + r["vm"]
        total_avg = hour_avg + r["vm"]
        print("{:>6} | {:>9} {:>9} {:>9.0f} | {:>9} | {:>9} {:>11.0f} | {:>11.1f} | {:>10.2f}"
              .format(n, r["pg_put"], r["pg_post"], hour_avg, r["vm"], total, total_avg,
                      total_avg * CYCLES_PER_MONTH / 1e6, r["render_ms"]))
    r = rows[10]
    total_avg = (r["pg_put"] + (CYCLES_PER_HOUR - 1) * r["pg_post"]) / float(
        CYCLES_PER_HOUR) + r["vm"]
    print()
    print("10 test points, both sinks: {} bytes a steady cycle, {:.0f} averaged over the hour "
          "(target <= 4096)".format(r["pg_post"] + r["vm"], total_avg))


if __name__ == "__main__":
    main()
