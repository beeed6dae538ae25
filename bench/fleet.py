"""Fleet simulator: N routers replaying the requests of a real agent cycle into the fleet's side
as deploy/ starts it, on loopback. Prints a table; asserts nothing.

    python bench/fleet.py [--sizes 1000,10000] [--vm-sizes 1000,10000,50000] [--compress 10]

What it does, per receiver and fleet size N:
- capture: one real cycle of the agent (10 ICMP test points on 127.0.0.x) against a loopback
  server answering as the Pushgateway and VictoriaMetrics do; the two requests its sinks sent
  (headers and body as sent: compressed or not) are what every simulated router sends, with
  its own instance label, and for the import its own timestamps (deploy/routers.py).
- fill: N routers' first cycle as fast as a bounded client allows (32 connections): accepted
  pushes/s and errors, then the receiver's RSS. For the Pushgateway, one scrape of /metrics
  (gzip, as Prometheus asks) timed and sized; for VictoriaMetrics, samples/s ingested end to
  end (until the store has them all), disk bytes per router per day, and the fleet dashboard's
  queries (dashboards/fleet.json) timed.
- schedule: one more cycle timed as the EEM timer starts it: `*/5` on every router (no offset:
  all start at :00, push after a cycle of ~10 s +- 1 s), or with eem render's offset (hashed
  from the router's name, spread over the 5 minutes). The schedule is compressed: 300 s of
  fleet time take 300/K s here (--compress K), so the offered rate is K times the real one;
  each push keeps the agent's 5 s timeout in real time, counted from its scheduled start, so a
  push that waits for a connection slot that long is an error, as on the router. At most 256
  connections at once (the load bound).
- the Pushgateway's breaking point: the smallest N where a scrape takes longer than the scrape
  interval (60 s, deploy/small/prometheus.yml) or its RSS passes 2 GB.
- headroom of vmagent -> VictoriaMetrics: capacity (routers per 5 min at the measured end-to-end
  ingest rate) over the need (N routers per 5 min).

Every address is 127.0.0.1; the processes are stopped at the end.
"""

import argparse
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERIOD_S = 300.0             # the EEM timer's step (*/5)
CYCLE_S = 10.0               # a cycle's measurement before it pushes (10 pings at 1 s)
CYCLE_JITTER_S = 1.0         # how much that differs between routers
TIMEOUT_S = 5.0              # sinks.*.timeout_s default
SCRAPE_INTERVAL_S = 60.0     # deploy/small/prometheus.yml
RSS_LIMIT = 2 * 1024 ** 3
RSS_GUARD = 8 * 1024 ** 3    # stop filling a receiver past this (the machine's sake)
FILL_CONCURRENCY = 32
SCHEDULE_CONCURRENCY = 256


sys.path.insert(0, ROOT)
from deploy import routers, start  # noqa: E402


def rss_bytes(pid):
    try:
        with open("/proc/{}/status".format(pid)) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def dir_bytes(path):
    total = 0
    for base, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(base, name))
            except OSError:
                pass
    return total


def get(url, timeout=600, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.read()


def metric_value(base, name, match=""):
    """Sum of a metric's samples in a component's own /metrics."""
    total = 0.0
    for line in get(base + "/metrics", 30).decode().splitlines():
        if line.startswith(name) and (line[len(name)] in " {") and match in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def offset_s(name, spread):
    if not spread:
        return 0.0
    from guestagent import eem
    minute, wait = eem.spread_offset(name, int(PERIOD_S // 60), 20)
    return minute * 60.0 + wait


def schedule(replay, addr, names, auth, cycle, t0_ms, spread, compress, prefix=""):
    """One cycle of every router at its EEM time, compressed; a routers.Result with the
    offered peak (pushes in the busiest fleet second)."""
    rng = random.Random(cycle)
    plan = []
    for name in names:
        start_s = offset_s(name, spread)
        push_s = start_s + CYCLE_S + rng.uniform(-CYCLE_JITTER_S, CYCLE_JITTER_S)
        stamp_ms = t0_ms + int((cycle * PERIOD_S + start_s) * 1000)
        plan.append((push_s, name, stamp_ms))
    plan.sort()
    per_second = {}
    for push_s, _n, _s in plan:
        per_second[int(push_s)] = per_second.get(int(push_s), 0) + 1
    result = routers.Result()
    result.peak_per_s = max(per_second.values())

    async def main(loop):
        import asyncio
        semaphore = asyncio.Semaphore(SCHEDULE_CONCURRENCY)
        began = loop.time()

        async def one(push_s, name, stamp_ms):
            due = began + push_s / compress
            await asyncio.sleep(max(0.0, due - loop.time()))
            data = routers.request_bytes(replay, name, addr, auth, stamp_ms, prefix)
            try:
                await asyncio.wait_for(semaphore.acquire(), TIMEOUT_S)
            except asyncio.TimeoutError:
                result.status["no slot in 5 s"] = result.status.get("no slot in 5 s", 0) + 1
                return
            try:
                left = TIMEOUT_S - (loop.time() - due)
                if left <= 0.05:
                    result.status["timeout"] = result.status.get("timeout", 0) + 1
                    return
                await routers.send_one(addr, data, left, result, loop)
            finally:
                semaphore.release()

        await asyncio.gather(*[one(*item) for item in plan])
        return loop.time() - began

    result.wall_s = routers.run(main)
    return result


def fill(replay, addr, names, auth, t0_ms, rss_pid=None, prefix=""):
    """Every router's first push as fast as the bounded client allows."""
    began = time.monotonic()
    result = routers.Result()
    for chunk in range(0, len(names), 2000):
        jobs = [routers.request_bytes(replay, name, addr, auth, t0_ms, prefix)
                for name in names[chunk:chunk + 2000]]
        part = routers.push_all(addr, jobs, FILL_CONCURRENCY, timeout_s=60.0)
        for key, count in part.status.items():
            result.status[key] = result.status.get(key, 0) + count
        result.latencies_s += part.latencies_s
        if rss_pid and rss_bytes(rss_pid) > RSS_GUARD:
            result.status["stopped: RSS guard"] = len(names) - chunk - 2000
            break
    result.wall_s = time.monotonic() - began
    return result


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def fmt_status(result):
    bad = dict((k, v) for k, v in result.status.items()
               if not (isinstance(k, int) and k < 300))
    return ", ".join("{}: {}".format(k, v) for k, v in sorted(bad.items(), key=str)) or "0"


# -- the Pushgateway ---------------------------------------------------------------------------

def bench_pushgateway(capture, sizes, compress, work, rows, log):
    spec = start.load()
    spec["designs"] = {"gateway": spec["designs"]["small"][:1]}  # the gateway, with its flags
    replay = capture["pushgateway"]
    breaking = None
    for n in sizes:
        run_dir = os.path.join(work, "pushgateway-{}".format(n))
        with start.start("gateway", run_dir, designs=spec) as lab:
            addr, pid = lab.addr["PUSHGATEWAY"], lab.pid("PUSHGATEWAY")
            names = [routers.router_name(i) for i in range(n)]
            first = fill(replay, addr, names, None, 0, pid)
            log("pushgateway N={}: filled in {:.1f} s ({})".format(n, first.wall_s,
                                                                   fmt_status(first)))
            began = time.monotonic()
            scraped = get(lab.url("PUSHGATEWAY") + "/metrics", 900,
                          {"Accept-Encoding": "gzip"})
            scrape_s = time.monotonic() - began
            import gzip
            plain_bytes = len(gzip.decompress(scraped)) if scraped[:2] == b"\x1f\x8b" else len(
                scraped)
            rss = rss_bytes(pid)
            log("pushgateway N={}: scrape {:.1f} s, {:.0f} MB, RSS {:.0f} MB".format(
                n, scrape_s, plain_bytes / 1e6, rss / 2 ** 20))
            timed = {}
            for spread in (False, True):
                timed[spread] = schedule(replay, addr, names, None, 1, 0, spread, compress)
                log("pushgateway N={} schedule spread={}: {}".format(
                    n, spread, fmt_status(timed[spread])))
            rss = max(rss, rss_bytes(pid))
            broken = scrape_s > SCRAPE_INTERVAL_S or rss > RSS_LIMIT
            if broken and breaking is None:
                breaking = n
            rows.append({
                "receiver": "Pushgateway", "n": n,
                "fill_per_s": first.accepted / first.wall_s, "fill_errors": fmt_status(first),
                "rss": rss, "scrape_s": scrape_s, "scrape_bytes": plain_bytes,
                "scrape_wire": len(scraped),
                "timed": timed, "broken": broken})
        shutil.rmtree(run_dir, ignore_errors=True)
    return breaking


# -- vmauth -> vmagent -> VictoriaMetrics ------------------------------------------------------

def dashboard_queries():
    with open(os.path.join(ROOT, "dashboards", "fleet.json")) as f:
        board = json.load(f)
    found = []

    def walk(panels):
        for panel in panels:
            walk(panel.get("panels") or [])
            for target in panel.get("targets") or []:
                expr = target.get("expr")
                if expr and expr not in [e for _t, e in found]:
                    found.append((panel.get("title"), expr))
    walk(board["panels"])
    out = []
    for title, expr in found:
        for key, value in (("$__rate_interval", "10m"), ("$__range", "1h"),
                           ("$__interval", "5m"), ("$silent_after_s", "900"),
                           ("$instance", ".*"), ("$site", ".*"), ("$area", ".*"),
                           ("$sla_target", "0.999"), ("${instance}", ".*")):
            expr = expr.replace(key, value)
        out.append((title, expr))
    return out


def query_latency(base, queries, at_s, runs_each=3):
    """Median seconds of each dashboard query (result cache off), the slowest one, and the
    queries the store refused ({HTTP status: count}; e.g. 422 past
    -search.maxUniqueTimeseries)."""
    import urllib.error
    times, refused = [], {}
    for _title, expr in queries:
        runs = []
        for _ in range(runs_each):
            url = base + "/api/v1/query?" + urllib.parse.urlencode(
                [("query", expr), ("time", "%.0f" % at_s), ("nocache", "1")])
            began = time.monotonic()
            try:
                get(url, 120)
            except urllib.error.HTTPError as exc:
                refused[exc.code] = refused.get(exc.code, 0) + 1
                break
            except OSError:
                refused["timeout"] = refused.get("timeout", 0) + 1
                break
            runs.append(time.monotonic() - began)
        if runs:
            times.append(statistics.median(runs))
    return sum(times), max(times) if times else float("nan"), refused


def wait_ingested(vm_base, vmagent_base, expected_rows, began, limit_s=1800):
    """Seconds from `began` until VictoriaMetrics holds expected_rows more rows."""
    while time.monotonic() - began < limit_s:
        rows = metric_value(vm_base, "vm_rows_inserted_total")
        pending = metric_value(vmagent_base, "vmagent_remotewrite_pending_data_bytes")
        if rows >= expected_rows and pending == 0:
            return time.monotonic() - began, rows
        time.sleep(0.5)
    return None, metric_value(vm_base, "vm_rows_inserted_total")


def bench_victoriametrics(capture, sizes, compress, work, rows, log, cycles=3):
    replay = capture["victoriametrics"]
    for n in sizes:
        run_dir = os.path.join(work, "vm-{}".format(n))
        with start.start("large", run_dir) as lab:
            auth = (lab.values["ROUTER_USER"], lab.values["ROUTER_PASSWORD"])
            addr = lab.addr["VMAUTH"]
            vm, vmagent = lab.url("VM"), lab.url("VMAGENT")
            names = [routers.router_name(i) for i in range(n)]
            per_router = replay.samples
            # Fleet time: the cycles end about now, so the dashboard's 1h windows see them.
            t0_ms = int((time.time() - (cycles + 1) * PERIOD_S) * 1000)
            base_rows = metric_value(vm, "vm_rows_inserted_total")
            began = time.monotonic()
            first = fill(replay, addr, names, auth, t0_ms, lab.pid("VM"))
            ingest_s, got = wait_ingested(vm, vmagent, base_rows + per_router * first.accepted,
                                          began)
            new_rate = (got - base_rows) / ingest_s if ingest_s else float("nan")
            log("vm N={}: first cycle {} pushes in {:.1f} s, ingested in {} s ({:.0f} new "
                "samples/s)".format(n, first.accepted, first.wall_s, ingest_s, new_rate))
            get(vm + "/internal/force_flush", 60)
            disk_first = dir_bytes(os.path.join(run_dir, "vm"))
            # Steady cycles: existing series, as fast as the client allows (capacity).
            steady = []
            for cycle in range(1, cycles - 1):
                base_rows = metric_value(vm, "vm_rows_inserted_total")
                began = time.monotonic()
                stamp = t0_ms + int(cycle * PERIOD_S * 1000)
                result = fill(replay, addr, names, auth, stamp, lab.pid("VM"))
                ingest_s, got = wait_ingested(vm, vmagent, base_rows + per_router *
                                              result.accepted, began)
                steady.append((result, ingest_s, (got - base_rows) / ingest_s if ingest_s
                               else float("nan")))
                log("vm N={}: steady cycle {}: {:.0f} pushes/s, ingested {:.0f} samples/s "
                    "({})".format(n, cycle, result.accepted / result.wall_s, steady[-1][2],
                                  fmt_status(result)))
            # The last cycle on the EEM schedule, with and without the offset (two halves of
            # the fleet time: the offset run one period later).
            timed = {}
            for i, spread in enumerate((False, True)):
                timed[spread] = schedule(replay, addr, names, auth, cycles - 1 + i, t0_ms,
                                         spread, compress)
                log("vm N={} schedule spread={}: {} in {:.1f} s, {}".format(
                    n, spread, timed[spread].accepted, timed[spread].wall_s,
                    fmt_status(timed[spread])))
            wait_ingested(vm, vmagent, 0, time.monotonic(), 600)
            get(vm + "/internal/force_flush", 60)
            disk_last = dir_bytes(os.path.join(run_dir, "vm"))
            total_cycles = cycles + 1
            per_cycle = (disk_last - disk_first) / float(total_cycles - 1)
            per_router_day = (disk_first + per_cycle * (86400 / PERIOD_S - 1)) / n
            rss = {name: rss_bytes(lab.pid(name)) for name in ("VM", "VMAGENT", "VMAUTH")}
            at_s = (t0_ms / 1000.0) + (total_cycles + 1) * PERIOD_S
            queries = dashboard_queries()
            total_q, slowest_q, refused_q = query_latency(vm, queries, at_s)
            steady_rate = statistics.median([r[2] for r in steady]) if steady else new_rate
            steady_push = statistics.median([r[0].accepted / r[0].wall_s for r in steady]) \
                if steady else first.accepted / first.wall_s
            # Capacity: routers per 5 minutes the chain takes end to end (the slower of what
            # vmauth/vmagent accept and what the store ingests), over the N it must take.
            capacity = min(steady_push * PERIOD_S, steady_rate * PERIOD_S / per_router)
            rows.append({
                "receiver": "vmagent -> VictoriaMetrics", "n": n,
                "fill_per_s": first.accepted / first.wall_s, "fill_errors": fmt_status(first),
                "new_samples_per_s": new_rate, "steady_per_s": steady_push,
                "samples_per_s": steady_rate, "rss": rss["VM"], "rss_all": rss,
                "disk_router_day": per_router_day, "queries_s": total_q,
                "slowest_query_s": slowest_q, "n_queries": len(queries),
                "refused_queries": refused_q,
                "timed": timed, "capacity": capacity, "headroom": capacity / n})
            log("vm N={}: RSS {}, disk {:.0f} KB/router/day, {} queries {:.2f} s (slowest "
                "{:.2f} s), headroom {:.1f}".format(n, {k: v // 2 ** 20 for k, v in rss.items()},
                                                    per_router_day / 1024, len(queries), total_q,
                                                    slowest_q, capacity / n))
        shutil.rmtree(run_dir, ignore_errors=True)


def print_table(capture, rows, breaking, compress, out=sys.stdout):
    push, imported = capture["pushgateway"], capture["victoriametrics"]
    out.write("\nCaptured cycle (10 test points): Pushgateway PUT {} B on the wire ({}), "
              "{} samples; import {} B ({}), {} samples\n".format(
                  len(push.wire), push.encoding or "identity", push.samples, len(imported.wire),
                  imported.encoding or "identity", imported.samples))
    out.write("Schedule compressed {}x: 300 s of fleet time in {:.0f} s; 5 s push timeout\n\n"
              .format(compress, PERIOD_S / compress))
    head = ("| receiver | N | fill pushes/s (errors) | RSS MB | /metrics MB, scrape s | "
            "samples/s new / steady | disk KB/router/day | dashboard s (slowest) | "
            "*/5 errors (peak/s) | offset errors (peak/s) | headroom |\n")
    out.write(head)
    out.write("|" + "---|" * 11 + "\n")
    for row in rows:
        timed = row["timed"]
        cells = [row["receiver"], "{:,}".format(row["n"]),
                 "{:.0f} ({})".format(row["fill_per_s"], row["fill_errors"]),
                 "{:.0f}".format(row["rss"] / 2 ** 20)]
        if row["receiver"] == "Pushgateway":
            cells.append("{:.0f}, {:.1f}{}".format(row["scrape_bytes"] / 1e6, row["scrape_s"],
                                                  " (broken)" if row["broken"] else ""))
            cells += ["-", "-", "-"]
        else:
            cells.append("-")
            cells.append("{:,.0f} / {:,.0f}".format(row["new_samples_per_s"],
                                                    row["samples_per_s"]))
            cells.append("{:.0f}".format(row["disk_router_day"] / 1024))
            cells.append("{:.2f} ({:.2f}){}".format(
                row["queries_s"], row["slowest_query_s"], "".join(
                    ", {} refused: {}".format(n, code)
                    for code, n in sorted(row["refused_queries"].items(), key=str))))
        for spread in (False, True):
            result = timed[spread]
            cells.append("{} ({:.0f})".format(result.errors, result.peak_per_s))
        cells.append("{:.1f}".format(row["headroom"]) if "headroom" in row else "-")
        out.write("| " + " | ".join(cells) + " |\n")
    out.write("\nPushgateway breaking point (scrape > {:.0f} s or RSS > 2 GB): {}\n".format(
        SCRAPE_INTERVAL_S, "N = {:,}".format(breaking) if breaking else
        "not reached at the sizes run"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000",
                        help="fleet sizes for the Pushgateway (default 1000,10000)")
    parser.add_argument("--vm-sizes", default="1000,10000",
                        help="fleet sizes for vmagent -> VictoriaMetrics (add 50000)")
    parser.add_argument("--compress", type=float, default=10.0,
                        help="fleet seconds per real second on the EEM schedule")
    parser.add_argument("--cycles", type=int, default=3, help="cycles per VictoriaMetrics run")
    parser.add_argument("--skip", choices=("pushgateway", "victoriametrics"), action="append",
                        default=[])
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="guestagent-fleet-", dir="/work" if os.path.isdir("/work")
                            else None)

    def log(text):
        sys.stderr.write("[{:7.1f} s] {}\n".format(time.monotonic() - t_start, text))
        sys.stderr.flush()

    t_start = time.monotonic()
    try:
        found = routers.capture_cycle(os.path.join(work, "capture"))
        capture = {k: routers.Replay(k, found[k]) for k in ("pushgateway", "victoriametrics")}
        log("captured: PUT {} B, import {} B".format(len(capture["pushgateway"].wire),
                                                     len(capture["victoriametrics"].wire)))
        rows, breaking = [], None
        if "pushgateway" not in args.skip:
            breaking = bench_pushgateway(capture, [int(x) for x in args.sizes.split(",")],
                                         args.compress, work, rows, log)
        if "victoriametrics" not in args.skip:
            bench_victoriametrics(capture, [int(x) for x in args.vm_sizes.split(",")],
                                  args.compress, work, rows, log, max(3, args.cycles))
        print_table(capture, rows, breaking, args.compress)
        sys.stdout.write("run time {:.0f} s\n".format(time.monotonic() - t_start))
        if args.json:
            with open(args.json, "w") as f:
                json.dump([dict((k, v) for k, v in r.items() if k != "timed") for r in rows], f,
                          indent=1, default=str)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
