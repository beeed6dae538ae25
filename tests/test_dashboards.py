"""The Grafana dashboards (dashboards/*.json), checked without Grafana: their structure, then
every query they hold, run against a real Prometheus scraping a real Pushgateway that real cycles
pushed to, and against a real VictoriaMetrics fed by the import sink from a backfilled journal."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from tests.conftest import ROOT, Pushgateway, VictoriaMetrics, free_port, run_agent, \
    stop_process, wait_for_port

DASHBOARDS = os.path.join(ROOT, "dashboards")
NAMES = ("fleet.json", "router.json", "sla.json")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Base units only (docs/metric-names.md): seconds, ratios, bytes, bit/s; dBm/dB and plain counts
# are the radio's and the counters' own units.
UNITS = {"s", "percentunit", "bytes", "bps", "none", "short", "dBm", "dB"}

# Grafana's values for the variables, as it formats them for Prometheus (a multi-value variable
# becomes a regex alternation).
VALUES = [
    ("${datasource}", "unused"), ("$__rate_interval", "1m"), ("$__interval", "15s"),
    ("$__range", "1h"), ("$sla_target", "0.999"),
    ("$instance", "(lab-ok|lab-degraded|lab-bad|lab-silent)"), ("$site", "lab-site"),
    ("$target", "loopback"),
]
ROUTERS = ("lab-ok", "lab-degraded", "lab-bad", "lab-silent")
SILENT_LAG_S = 120
STEP_S = 1  # of the range queries
# Queries that legitimately return nothing here, and why (they must still parse).
MAY_BE_EMPTY = {
    "LTE RSRQ, SNR and SINR C": "the captured modem output prints no SINR (where IOS prints it)",
}


def load(name):
    with open(os.path.join(DASHBOARDS, name)) as f:
        return json.load(f)


def panels_of(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        for inner in panel.get("panels", []):
            yield inner


def queries():
    """(label, expr, kind) of every query: panel targets, annotations, template variables."""
    out = []
    for name in NAMES:
        dashboard = load(name)
        for panel in panels_of(dashboard):
            for t in panel.get("targets", []):
                kind = "instant" if t.get("instant") else "range"
                out.append(("{} {}".format(panel["title"], t["refId"]), t["expr"], kind))
        for annotation in dashboard["annotations"]["list"]:
            if "expr" in annotation:
                out.append(("annotation " + annotation["name"], annotation["expr"], "range"))
        for var in dashboard["templating"]["list"]:
            if var["type"] == "query":
                out.append(("variable " + var["name"], var["query"]["query"], "label_values"))
    # A count ending in `or vector(0)` always returns a series: its left side is checked too, so
    # that each router state is seen in the data.
    for label, expr, kind in list(out):
        if expr.endswith(" or vector(0)"):
            out.append((label + " without vector(0)", expr[:-len(" or vector(0)")], kind))
    return out


def fill(expr, silent_after_s="900"):
    expr = expr.replace("$silent_after_s", silent_after_s)
    for name, value in VALUES:
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr


# ---------------------------------------------------------------- structure

@pytest.mark.parametrize("name", NAMES)
def test_dashboard_structure(name):
    dashboard = load(name)
    panels = list(panels_of(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        grid = panel["gridPos"]
        assert set(grid) >= {"x", "y", "w", "h"} and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"] == DATASOURCE, panel["title"]
        legends = {t["legendFormat"] for t in panel["targets"]}
        config = panel["fieldConfig"]
        for override in config["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "custom.fillBelowTo":  # a band names its other edge
                    assert prop["value"] in legends and override["matcher"]["options"] in \
                        legends, panel["title"]
        assert config["defaults"]["unit"] in UNITS, (panel["title"], config["defaults"]["unit"])
        for override in config["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    assert prop["value"] in UNITS, (panel["title"], prop["value"])
    cells = set()  # no two panels overlap on the grid
    for panel in panels:
        grid = panel["gridPos"]
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & mine, panel["title"]
        cells |= mine
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"instance", "site"} <= set(variables)
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"] == DATASOURCE, var["name"]
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            assert annotation["datasource"] == DATASOURCE


def test_dashboards_together():
    uids = [load(name)["uid"] for name in NAMES]
    assert len(set(uids)) == len(uids)
    assert "target" in {v["name"] for v in load("router.json")["templating"]["list"]}
    # Only the raw names of docs/metric-names.md: no recording rules are needed.
    with open(os.path.join(ROOT, "docs", "metric-names.md")) as f:
        documented = set(re.findall(r"`(guestagent_[a-z0-9_]+)`", f.read()))
    used = set()
    for _, expr, _ in queries():
        used.update(re.findall(r"guestagent_[a-z0-9_]+", expr))
    assert used and used <= documented, sorted(used - documented)
    # The routers' geomap places them by the gauges; `area`/`latitude` labels are not relied on.
    geomaps = {p["title"]: p for p in panels_of(load("fleet.json")) if p["type"] == "geomap"}
    assert set(geomaps) == {"Routers by availability", "Areas by availability"}
    exprs = " ".join(t["expr"] for t in geomaps["Routers by availability"]["targets"])
    assert "guestagent_location_latitude_degrees" in exprs
    assert "area" not in exprs and 'latitude=' not in exprs
    # The areas' geomap places each area by its geohash, the `area` label (docs/areas.md).
    [layer] = geomaps["Areas by availability"]["options"]["layers"]
    assert layer["location"] == {"mode": "geohash", "geohash": "area"}
    assert layer["config"]["style"]["color"]["field"] == "availability"
    worst = [p for p in panels_of(load("fleet.json")) if p["title"] == "Worst areas"]
    [sort] = [t["options"]["sort"] for t in worst[0]["transformations"] if t["id"] == "sortBy"]
    assert sort == [{"field": "availability", "desc": False}]


def test_provisioning_files():
    import yaml
    with open(os.path.join(DASHBOARDS, "provisioning.yaml")) as f:
        provisioning = yaml.safe_load(f)
    [provider] = provisioning["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    with open(os.path.join(DASHBOARDS, "datasources.example.yaml")) as f:
        sources = yaml.safe_load(f)["datasources"]
    assert {s["name"] for s in sources} == {"Prometheus", "VictoriaMetrics"}
    assert all(s["type"] == "prometheus" for s in sources)


def test_json_is_what_build_writes(tmp_path):
    """dashboards/build.py is the source: the committed JSON is its output."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("build", os.path.join(DASHBOARDS, "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, make in build.DASHBOARDS.items():
        assert json.loads(json.dumps(make())) == load(name), name


# ---------------------------------------------------------------- real backends

CONFIG = """
agent: {{state_dir: {state}, instance: {instance}}}
device: {{kind: simulated}}
router: {{location: {{name: lab-site}}}}
path_discovery: {{enabled: false}}
sla: {{rtt_max_ms: {rtt_max_ms}, outage_min_s: {outage_min_s}, baseline_min_samples: 2}}
probes: {{icmp: {{count: 2, interval_s: 0.1, timeout_s: 1.0}}}}
targets: [{{name: loopback, host: 127.0.0.1, role: isp-edge}}]
sinks:
  pushgateway: {{url: "{pushgateway}", timeout_s: 3}}
  victoriametrics: {{url: "{victoriametrics}", timeout_s: 3, batch_reports: 10}}
"""


class Prometheus(object):
    """Debian's prometheus on a free loopback port, scraping the Pushgateway every second."""

    def __init__(self, tmpdir, pushgateway_port):
        binary = shutil.which("prometheus")
        if not binary:
            pytest.skip("prometheus is not installed (./install.sh --dev)")
        self.port = free_port()
        self.url = "http://127.0.0.1:{}".format(self.port)
        config = os.path.join(str(tmpdir), "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                    "scrape_configs:\n"
                    "  - job_name: pushgateway\n"
                    "    honor_labels: true\n"  # keep the routers' job and instance
                    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % pushgateway_port)
        self.log = open(os.path.join(str(tmpdir), "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(str(tmpdir), "prometheus-data"),
             "--web.listen-address=127.0.0.1:{}".format(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout_s=30, proc=self.proc)

    def stop(self):
        stop_process(self.proc, self.log, 10)


class FreshVictoriaMetrics(VictoriaMetrics):
    """Answers with samples seconds old: no latency offset, no rollup cache."""

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [self.binary, "-httpListenAddr=127.0.0.1:{}".format(self.port),
             "-storageDataPath=" + self.storage, "-retentionPeriod=100y",
             "-search.latencyOffset=0s", "-search.disableCache"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)
        return self


def api(url, path, **params):
    import requests
    reply = requests.get(url + path, params=params, timeout=10)
    body = reply.json()
    assert reply.status_code == 200 and body["status"] == "success", (path, params, body)
    return body["data"]


def wait_scraped(prometheus, instance, started_ts, wait_s=20.0):
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        data = api(prometheus.url, "/api/v1/query",
                   query='guestagent_last_cycle_timestamp_seconds{instance="%s"}' % instance)
        if any(abs(float(r["value"][1]) - started_ts) < 0.01 for r in data["result"]):
            return
        time.sleep(0.2)
    raise AssertionError("Prometheus did not scrape {}'s cycle".format(instance))


def cycle(tmp, instance, n, urls):
    """Cycle n of a router. Below loopback's RTT, sla.rtt_max_ms makes every sample
    unavailable; a long sla.outage_min_s keeps that from being an outage."""
    state = tmp / instance
    path = tmp / (instance + ".yaml")
    unavailable = (instance == "lab-bad" and n >= 2) or instance == "lab-degraded"
    outage_min_s = 86400 if instance == "lab-degraded" else 0
    path.write_text(CONFIG.format(state=state, instance=instance, outage_min_s=outage_min_s,
                                  rtt_max_ms=0.0001 if unavailable else 500, **urls))
    # lab-silent's clock runs SILENT_LAG_S behind: its last cycle is that much older than the
    # others', a margin no scheduling delay of a loaded machine eats into.
    env = {"GUESTAGENT_CLOCK_OFFSET_S": str(-SILENT_LAG_S)} if instance == "lab-silent" else None
    proc = run_agent(["run", "--config", str(path), "--trigger", "timer", "--json"], env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    return proc.returncode, report


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Four routers, real cycles: lab-ok stays healthy; lab-degraded's samples are unavailable
    but too short a run for an outage; lab-bad is healthy for two cycles, then its test point
    goes into an outage; lab-silent cycles twice, at the start, and never again. The first round
    finds VictoriaMetrics down and is journaled; the next sends it late (the backfill)."""
    tmp = tmp_path_factory.mktemp("dashboards")
    gateway = Pushgateway(tmp)
    prometheus = vm = None
    try:
        prometheus = Prometheus(tmp, gateway.port)
        vm = FreshVictoriaMetrics(tmp)
        urls = {"pushgateway": gateway.url, "victoriametrics": vm.url}
        last = {}
        for n in range(4):
            if n == 1:
                vm.start()
            for instance in ROUTERS if n < 2 else ROUTERS[:-1]:
                rc, report = cycle(tmp, instance, n, urls)
                assert rc == (1 if n == 0 else 0), report["errors"]
                last[instance] = report
            for instance, report in last.items():
                wait_scraped(prometheus, instance, report["cycle"]["started_ts"])
        for instance in ROUTERS:
            want = 2 if instance == "lab-silent" else 4
            series = vm.export('guestagent_last_cycle_timestamp_seconds{instance="%s"}'
                               % instance, expect_points=want)
            assert sum(len(s[2]) for s in series) == want  # the journaled round arrived late
        assert last["lab-bad"]["sla"]["targets"]["loopback"]["in_outage"] is True
        assert last["lab-degraded"]["sla"]["targets"]["loopback"]["in_outage"] is False
        started = {i: r["cycle"]["started_ts"] for i, r in last.items()}
        # A range query's last point must come after the newest sample (see run_query).
        time.sleep(max(0.0, max(started.values()) + 5 * STEP_S - time.time()))
        # The simulated router has a GPS fix (fixtures of guestagent/device/ir1101): one area.
        assert {r["location"].get("area") for r in last.values()} == \
            {last["lab-ok"]["location"]["area"]}
        location = last["lab-ok"]["location"]
        yield {"prometheus": prometheus.url, "victoriametrics": vm.url, "started": started,
               "area": location["area"], "position": (location["latitude"],
                                                      location["longitude"])}
    finally:
        if vm is not None:
            vm.stop()
        if prometheus is not None:
            prometheus.stop()
        gateway.stop()


def silent_after_s(started):
    """A lab-scale $silent_after_s: halfway between the age of lab-silent's last cycle and the
    age of the others' last ones, so that exactly one router is silent."""
    silent = started["lab-silent"]
    oldest_of_the_others = min(ts for i, ts in started.items() if i != "lab-silent")
    return "{:.3f}".format(time.time() - (silent + oldest_of_the_others) / 2.0)


def run_query(url, expr, kind):
    now = time.time()
    if kind == "label_values":
        match = re.match(r"label_values\((.*),\s*(\w+)\)$", expr)
        data = api(url, "/api/v1/label/{}/values".format(match.group(2)),
                   **{"match[]": match.group(1), "start": now - 3600, "end": now})
        return data
    if kind == "instant":
        return api(url, "/api/v1/query", query=expr, time=now)["result"]
    # VictoriaMetrics aligns a range to its step and answers no later than now: a small step,
    # and the lab's newest sample is older than two steps (see `lab`).
    return api(url, "/api/v1/query_range", query=expr, start=now - 600, end=now,
               step=STEP_S)["result"]


@pytest.mark.parametrize("backend", ["prometheus", "victoriametrics"])
def test_every_query_parses_and_returns_series(lab, backend, capsys):
    checked, empty, sides = 0, [], 0
    for label, expr, kind in queries():
        sides += label.endswith(" without vector(0)")
        # A query that does not parse fails in api().
        result = run_query(lab[backend], fill(expr, silent_after_s(lab["started"])), kind)
        checked += 1
        if not result:
            empty.append(label)
    assert sorted(empty) == sorted(label for label in MAY_BE_EMPTY if label in empty), empty
    assert set(empty) <= set(MAY_BE_EMPTY), empty
    with capsys.disabled():
        print("\ndashboards: {} queries checked against {} ({} from the dashboards, {} left "
              "sides of `or vector(0)`): {} returned series, {} empty as allowed ({})".format(
                  checked, backend, checked - sides, sides, checked - len(empty), len(empty),
                  ", ".join(sorted(empty)) or "none"))


@pytest.mark.parametrize("backend", ["prometheus", "victoriametrics"])
def test_fleet_counts_one_router_in_each_state(lab, backend):
    counts = {}
    for panel in panels_of(load("fleet.json")):
        if panel["type"] == "stat":
            [t] = panel["targets"]
            result = run_query(lab[backend], fill(t["expr"], silent_after_s(lab["started"])),
                               "instant")
            counts[panel["title"]] = [float(r["value"][1]) for r in result]
    assert counts == {"Healthy": [1], "Degraded": [1], "Outage": [1], "Silent": [1]}


@pytest.mark.parametrize("backend", ["prometheus", "victoriametrics"])
def test_area_panels_map_the_lab_area(lab, backend):
    """The simulated router's GPS fix puts every lab router in one area: the area panels give
    that area the availability of the whole fleet, and a loss ratio."""
    from guestagent import areas
    panels = {p["title"]: p for p in panels_of(load("fleet.json"))}
    at = time.time()  # one evaluation time for every query, so that increases compare
    results = {}
    for title in ("Areas by availability", "Worst areas"):
        for t in panels[title]["targets"]:
            expr = fill(t["expr"], silent_after_s(lab["started"]))
            results[title, t["refId"]] = api(lab[backend], "/api/v1/query", query=expr,
                                             time=at)["result"]
    fleet = api(lab[backend], "/api/v1/query", time=at, query=fill(
        'sum(increase(guestagent_sla_available_seconds_total{instance=~"$instance"}[$__range]))'
        ' / sum(increase(guestagent_sla_known_seconds_total{instance=~"$instance"}'
        '[$__range]))'))["result"]
    area = lab["area"]
    assert area == areas.encode(*lab["position"])
    for key, result in results.items():
        assert [r["metric"] for r in result] == [{"area": area}], key
    availability = float(results["Areas by availability", "availability"][0]["value"][1])
    assert 0 < availability < 1  # lab-degraded and lab-bad lose samples, lab-ok none
    assert availability == pytest.approx(float(fleet[0]["value"][1]), rel=1e-9)
    assert float(results["Worst areas", "availability"][0]["value"][1]) == \
        pytest.approx(availability, rel=1e-9)
    assert 0 <= float(results["Worst areas", "loss"][0]["value"][1]) <= 1
