"""deploy/: each design starts from its files with the real Debian binaries, and 50 simulated
routers (the requests of one real agent cycle, replayed with their own instance labels) go
through it into the real stores, where their samples are queryable; the project's rules load
in Prometheus and vmalert; vmauth lets only the routers' credentials write; sharding puts each
router on one node; a tenant's routers land in their tenant only, through vmauth's credentials
or a sink URL naming the tenant (`/insert/<accountID>/influx`, or `/insert/<accountID>/prometheus`
with `format: prometheus`)."""

import glob
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import requests
import yaml

from deploy import routers, start
from tests.conftest import ROOT

ROUTERS = 50

pytestmark = pytest.mark.skipif(
    not all(shutil.which(b) for b in ("prometheus", "prometheus-pushgateway", "victoria-metrics",
                                      "vmagent", "vmauth", "vmalert")),
    reason="needs Debian's prometheus, prometheus-pushgateway and victoria-metrics")

RULE_GROUPS = sorted(group["name"] for path in glob.glob(os.path.join(ROOT, "rules", "*.yml"))
                     for group in yaml.safe_load(open(path))["groups"])


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    """One real cycle's requests, as the agent's sinks sent them."""
    found = routers.capture_cycle(str(tmp_path_factory.mktemp("capture")))
    return {kind: routers.Replay(kind, found[kind]) for kind in ("pushgateway", "victoriametrics")}


def replay(replay, addr, names, auth=None, stamp=True):
    stamp_ms = int(time.time() * 1000) if stamp else None
    jobs = [routers.request_bytes(replay, name, addr, auth, stamp_ms) for name in names]
    return routers.push_all(addr, jobs, concurrency=8, timeout_s=20.0)


def post(replay, addr, name, auth, prefix=""):
    """One replayed request through requests (which reads an early refusal's status)."""
    headers = dict(replay.headers)
    return requests.request(replay.method, "http://" + addr + prefix + replay.path(name),
                            data=replay.body(int(time.time() * 1000)), headers=headers,
                            auth=auth, timeout=20)


def eventually(probe, wait_s=30.0):
    """probe() until it returns something true, or its last value after wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def vm_instances(base, metric="guestagent_last_cycle_timestamp_seconds"):
    """Instances with samples of `metric` in a VictoriaMetrics (raw export: no query offset)."""
    requests.get(base + "/internal/force_flush", timeout=10)
    text = requests.get(base + "/api/v1/export", params={"match[]": metric}, timeout=10).text
    return set(json.loads(line)["metric"].get("instance") for line in text.splitlines()
               if line.strip())


def names(count, first=0):
    return [routers.router_name(i) for i in range(first, first + count)]


def test_every_design_file_resolves():
    """Every placeholder of every design (the cluster's too, whose binaries Debian lacks) has a
    value, and the files it names exist."""
    import string
    for path in (None, os.path.join(ROOT, "deploy", "cluster", "designs.yaml")):
        spec = start.load(path)
        for design, components in spec["designs"].items():
            values = dict((k, str(v)) for k, v in spec["vars"].items())
            values.update(RUN="/run", ROOT=ROOT)
            for component in components:
                for name in [component["name"]] + component.get("ports", []):
                    values[name] = "127.0.0.1:1"
            for component in components:
                for arg in component["argv"]:
                    string.Template(arg).substitute(values)
                for rel in component.get("files", []):
                    with open(os.path.join(ROOT, "deploy", rel)) as f:
                        yaml.safe_load(string.Template(f.read()).substitute(values))


def test_captured_cycle_is_what_the_sinks_send(captured):
    push, imported = captured["pushgateway"], captured["victoriametrics"]
    assert push.method == "PUT" and push.path("r1") == "/metrics/job/guestagent/instance/r1"
    assert "instance%3Dr1" in imported.path("r1")
    # The import carries the cycle's timestamp on every line (of line protocol: each line a
    # label set with its fields); the replay moves it.
    lines = [line for line in imported.plain.split(b"\n") if line.strip()]
    assert imported.stamped_lines == len(lines) and imported.samples > 100
    assert b" 1000\n" in routers.decode(imported.body(1000), imported.encoding)


def test_small_fleet_pushgateway_and_prometheus(tmp_path, captured):
    with start.start("small", str(tmp_path), {"SCRAPE_INTERVAL": "1s"}) as lab:
        result = replay(captured["pushgateway"], lab.addr["PUSHGATEWAY"], names(ROUTERS))
        assert result.accepted == ROUTERS, result.status
        query = lab.url("PROMETHEUS") + "/api/v1/query"

        def scraped():
            data = requests.get(query, params={"query": "count(count by (instance) "
                                "(guestagent_last_cycle_timestamp_seconds))"}, timeout=10).json()
            found = data["data"]["result"]
            return int(found[0]["value"][1]) if found else 0

        assert eventually(lambda: scraped() == ROUTERS)
        # honor_labels: the routers' job and instance, not the gateway's.
        data = requests.get(query, params={"query": "count by (job) (up)"}, timeout=10).json()
        series = requests.get(lab.url("PROMETHEUS") + "/api/v1/series", params={
            "match[]": 'guestagent_last_cycle_timestamp_seconds{instance="rtr-00049"}'},
            timeout=10).json()["data"]
        assert [s["job"] for s in series] == ["guestagent"], data
        groups = requests.get(lab.url("PROMETHEUS") + "/api/v1/rules", timeout=10).json()
        assert sorted(g["name"] for g in groups["data"]["groups"]) == RULE_GROUPS


def test_large_fleet_vmauth_vmagent_victoriametrics_vmalert(tmp_path, captured):
    with start.start("large", str(tmp_path)) as lab:
        auth = (lab.values["ROUTER_USER"], lab.values["ROUTER_PASSWORD"])
        imported = captured["victoriametrics"]
        result = replay(imported, lab.addr["VMAUTH"], names(ROUTERS), auth)
        assert result.accepted == ROUTERS, result.status
        assert eventually(lambda: len(vm_instances(lab.url("VM"))) == ROUTERS)
        assert vm_instances(lab.url("VM")) == set(names(ROUTERS))
        # Without the routers' credentials, or with them on a read path, nothing passes.
        refused = post(imported, lab.addr["VMAUTH"], "intruder", ("routers", "wrong"))
        # vmauth 1.79 answers unknown credentials with 400 ("cannot find the provided auth
        # token"), not 401.
        assert 400 <= refused.status_code < 500 and "auth" in refused.text, refused.text
        reading = requests.get(lab.url("VMAUTH") + "/api/v1/query", params={"query": "up"},
                               auth=auth, timeout=10)
        assert reading.status_code >= 400
        # The dashboards' credentials read the same samples through vmauth.
        grafana = (lab.values["GRAFANA_USER"], lab.values["GRAFANA_PASSWORD"])
        series = requests.get(lab.url("VMAUTH") + "/api/v1/series", auth=grafana, params={
            "match[]": "guestagent_last_cycle_timestamp_seconds"}, timeout=10).json()["data"]
        assert len(series) == ROUTERS
        assert "intruder" not in vm_instances(lab.url("VM"))
        # vmagent keeps its queue on disk, in the run directory.
        assert os.path.isdir(os.path.join(str(tmp_path), "vmagent-buffer", "persistent-queue"))
        groups = eventually(lambda: requests.get(lab.url("VMALERT") + "/api/v1/rules",
                                                 timeout=10).json()["data"]["groups"])
        assert sorted(g["name"] for g in groups) == RULE_GROUPS
        # A real cycle of the agent through vmauth, with the routers' credentials.
        run_cycle(tmp_path, "http://{}".format(lab.addr["VMAUTH"]), auth, "agent-router")
        assert eventually(lambda: "agent-router" in vm_instances(lab.url("VM")))


def test_sharding_puts_each_router_on_one_node(tmp_path, captured):
    with start.start("sharded", str(tmp_path)) as lab:
        auth = (lab.values["ROUTER_USER"], lab.values["ROUTER_PASSWORD"])
        result = replay(captured["victoriametrics"], lab.addr["VMAUTH"], names(ROUTERS), auth)
        assert result.accepted == ROUTERS, result.status

        def both():
            return vm_instances(lab.url("VM_0")), vm_instances(lab.url("VM_1"))

        assert eventually(lambda: sum(len(s) for s in both()) == ROUTERS)
        shard0, shard1 = both()
        assert shard0 | shard1 == set(names(ROUTERS)) and not shard0 & shard1
        assert len(shard0) > 10 and len(shard1) > 10  # a hash split, not all on one node
        # A router's series are all on its node, and the shard label is not stored.
        requests.get(lab.url("VM_0") + "/internal/force_flush", timeout=10)
        one = sorted(shard0)[0]
        text = requests.get(lab.url("VM_0") + "/api/v1/export", timeout=10, params={
            "match[]": '{{instance="{}"}}'.format(one)}).text
        rows = [json.loads(line)["metric"] for line in text.splitlines() if line.strip()]
        assert len(rows) == captured["victoriametrics"].samples
        assert not any("__tmp_shard" in row for row in rows)
        text = requests.get(lab.url("VM_1") + "/api/v1/export", timeout=10, params={
            "match[]": '{{instance="{}"}}'.format(one)}).text
        assert not text.strip()


def test_tenants_on_the_cluster_paths(tmp_path, captured):
    with start.start("tenants", str(tmp_path)) as lab:
        imported = captured["victoriametrics"]
        of_42, of_7 = names(25), names(25, first=25)
        for who, fleet in (("42", of_42), ("7", of_7)):
            result = replay(imported, lab.addr["VMAUTH"], fleet,
                            ("customer-" + who, "secret-" + who))
            assert result.accepted == len(fleet), result.status
        node_42 = lab.url("VM_42") + "/insert/42:0/prometheus"
        node_7 = lab.url("VM_7") + "/insert/7:0/prometheus"
        assert eventually(lambda: len(vm_instances(node_42)) == 25)
        assert eventually(lambda: len(vm_instances(node_7)) == 25)
        assert vm_instances(node_42) == set(of_42) and vm_instances(node_7) == set(of_7)
        # Customer 7's credentials cannot name tenant 42's path.
        sneaky = post(imported, lab.addr["VMAUTH"], "sneaky", ("customer-7", "secret-7"),
                      prefix="/insert/42/influx")
        assert sneaky.status_code >= 400, sneaky.text
        # The sink URL naming the tenant, straight to vmagent's multitenant handlers, from a
        # real cycle of the agent (line protocol, the sink's default: /insert/<id>/influx).
        run_cycle(tmp_path, "http://{}/insert/42/influx".format(lab.addr["VMAGENT"]), None,
                  "agent-42")
        assert eventually(lambda: "agent-42" in vm_instances(node_42))
        assert "agent-42" not in vm_instances(node_7) and "sneaky" not in vm_instances(node_42)


def run_cycle(tmp_path, url, auth, instance):
    """One real agent cycle with only the VictoriaMetrics sink, to `url`."""
    config = tmp_path / (instance + ".yaml")
    config.write_text("""
agent: {{state_dir: {state}, deadline_s: 30, instance: {instance}}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 2, interval_s: 0.2, timeout_s: 1.0}}}}
targets: [{{name: lo, host: 127.0.0.1}}]
sinks:
  victoriametrics: {{url: "{url}"{auth}}}
""".format(state=tmp_path / (instance + "-state"), instance=instance, url=url,
           auth=", username: {}, password: {}".format(*auth) if auth else ""))
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("GUESTAGENT_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "guestagent", "run", "--trigger", "timer", "-c",
                           str(config), "--json"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=90)
    report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    outcome = (report.get("sinks") or {}).get("victoriametrics") or {}
    assert outcome.get("ok"), (proc.returncode, proc.stdout[-1500:], proc.stderr[-1500:])
