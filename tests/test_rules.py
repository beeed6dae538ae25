"""The Prometheus rules in rules/: promtool checks them and runs their unit tests
(rules/tests/*.yml), every alert has a unit test that fires and one that stays quiet, every alert
names its router and links its runbook section, and the same files run in Debian's vmalert
against a real VictoriaMetrics, where an alert fires on backfilled data."""

import glob
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from tests.conftest import ROOT, VictoriaMetrics

RULES = os.path.join(ROOT, "rules")
RULE_FILES = sorted(glob.glob(os.path.join(RULES, "*.yml")))
TEST_FILES = sorted(glob.glob(os.path.join(RULES, "tests", "*.yml")))
RUNBOOK = os.path.join(ROOT, "docs", "runbook.md")


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def alerts():
    return [rule for path in RULE_FILES for group in load(path)["groups"]
            for rule in group["rules"] if "alert" in rule]


def unit_tests():
    """(alert name, expects alerts?) for every alert_rule_test of every test file."""
    out = []
    for path in TEST_FILES:
        for test in load(path)["tests"]:
            for case in test.get("alert_rule_test") or []:
                out.append((case["alertname"], bool(case.get("exp_alerts"))))
    return out


def promtool():
    binary = shutil.which("promtool")
    if not binary:
        pytest.skip("promtool is not installed (./install.sh --dev)")
    return binary


def run(args, timeout=120):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, cwd=ROOT)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_promtool_checks_every_rule_file():
    code, out = run([promtool(), "check", "rules"] + RULE_FILES)
    assert code == 0, out
    assert out.count("SUCCESS") == len(RULE_FILES)


def test_promtool_unit_tests_pass(capsys):
    code, out = run([promtool(), "test", "rules"] + TEST_FILES)
    assert code == 0, out
    cases = sum(len(t.get("alert_rule_test") or []) + len(t.get("promql_expr_test") or [])
                for path in TEST_FILES for t in load(path)["tests"])
    with capsys.disabled():
        print("\nrules: {} alerts, {} recording rules; promtool: {} test files, {} tests, "
              "{} test cases ({} alert cases)".format(
                  len(alerts()),
                  sum(1 for p in RULE_FILES for g in load(p)["groups"] for r in g["rules"]
                      if "record" in r),
                  len(TEST_FILES), sum(len(load(p)["tests"]) for p in TEST_FILES), cases,
                  len(unit_tests())))


def test_every_alert_has_a_unit_test_that_fires_and_one_that_does_not():
    cases = unit_tests()
    firing = set(name for name, fires in cases if fires)
    quiet = set(name for name, fires in cases if not fires)
    names = set(rule["alert"] for rule in alerts())
    assert names, "no alerts in rules/"
    assert not names - firing, "alerts without a firing test: {}".format(sorted(names - firing))
    assert not names - quiet, "alerts without a quiet test: {}".format(sorted(names - quiet))
    assert not (firing | quiet) - names, "tests of alerts that do not exist"


def test_every_alert_names_the_router_and_links_its_runbook_section():
    with open(RUNBOOK) as f:
        sections = set(h.lower() for h in re.findall(r"^## (\S+)$", f.read(), re.M))
    for rule in alerts():
        name = rule["alert"]
        assert rule.get("for"), name
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        notes = rule["annotations"]
        for key in ("summary", "description"):
            assert "$labels.instance" in notes[key] and "$labels.site" in notes[key], (name, key)
        assert notes["runbook_url"] == "docs/runbook.md#" + name.lower(), name
        assert name.lower() in sections, "docs/runbook.md has no section " + name
        # The site comes from the location's info metric, joined on the router's identity.
        assert "group_left(site)" in rule["expr"], name


def test_areas_join_the_location_info_on_the_router():
    rules = [r for g in load(os.path.join(RULES, "areas.yml"))["groups"] for r in g["rules"]]
    slices = [r for r in rules if r["record"].endswith(":increase5m") or ":avg" in r["record"]]
    assert slices
    for rule in slices:
        # topk: on VictoriaMetrics a router that just moved has its old and new area series for
        # a few minutes; one of them per router keeps the join from failing on duplicates.
        assert ("* on(job, instance) group_left(area) topk by (job, instance) "
                "(1, guestagent_location_info)") in rule["expr"]


def test_sink_outcome_of_the_previous_cycle_is_a_gauge(tmp_path):
    """PushesFailing reads guestagent_sink_previous_cycle_ok: the next report carries it."""
    from guestagent import config
    from guestagent.cycle import Cycle, metrics_for
    cfg = config.load(config.EMBEDDED_DEFAULT)
    cfg.agent.state_dir = str(tmp_path)
    cfg.journal.dir = str(tmp_path / "journal")
    cfg.probes.icmp.count = 1
    cycle = Cycle(cfg, dry_run=True)
    report, _ = cycle.run()
    report = dict(report, sinks_previous={
        "cycle_id": "x", "journaled": True,
        "pushgateway": {"ok": False, "attempts": 3, "error": "connection refused"},
        "victoriametrics": {"ok": True, "attempts": 1, "sent_reports": 2}})
    out = metrics_for(report)
    assert out.value("guestagent_sink_previous_cycle_ok", sink="pushgateway") == 0
    assert out.value("guestagent_sink_previous_cycle_ok", sink="victoriametrics") == 1
    skipped = metrics_for(dict(report, sinks_previous={
        "cycle_id": "x", "pushgateway": {"ok": False, "skipped": "dry run"}}))
    assert skipped.value("guestagent_sink_previous_cycle_ok") is None
    assert metrics_for(dict(report, sinks_previous=None)).value(
        "guestagent_sink_previous_cycle_ok") is None


def import_text(store, text):
    import requests
    reply = requests.post(store.url + "/api/v1/import/prometheus", data=text.encode(), timeout=10)
    assert reply.status_code == 204, reply.text


def test_vmalert_loads_the_rules_and_an_alert_fires_on_backfilled_data(tmp_path, capsys):
    vmalert = shutil.which("vmalert")
    if not vmalert:
        pytest.skip("vmalert is not installed (./install.sh --dev)")
    store = VictoriaMetrics(tmp_path).start()
    try:
        # What the VictoriaMetrics sink imports for two routers: one sample per 5-minute cycle,
        # with its timestamp, over two hours. r1's test point isp-dns opens an outage an hour
        # in; r2 stays healthy.
        end_s = (int(time.time()) // 300) * 300 - 600
        start_s = end_s - 7200
        lines = []
        for ts in range(start_s, end_s + 1, 300):
            ms = ts * 1000
            outage_s = max(0, ts - (start_s + 3600))
            for instance, site in (("r1", "depot-north"), ("r2", "depot-south")):
                router = 'job="guestagent",instance="{}"'.format(instance)
                point = router + ',target="isp-dns",role="target"'
                in_outage = 1 if instance == "r1" and ts >= start_s + 3600 else 0
                lines += [
                    'guestagent_last_cycle_timestamp_seconds{{{}}} {} {}'.format(router, ts, ms),
                    'guestagent_location_info{{{},site="{}",source="static",fix="none",'
                    'area="u0yjj"}} 1 {}'.format(router, site, ms),
                    'guestagent_sla_in_outage{{{}}} {} {}'.format(point, in_outage, ms),
                    'guestagent_sla_outage_duration_seconds{{{}}} {} {}'.format(
                        point, outage_s if in_outage else 0, ms)]
        import_text(store, "\n".join(lines) + "\n")
        assert store.export('guestagent_sla_in_outage', expect_points=2 * 25)

        iso = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))  # noqa: E731
        code, out = run([vmalert] + ["-rule=" + path for path in RULE_FILES] + [
            "-datasource.url=" + store.url, "-remoteWrite.url=" + store.url,
            "-replay.timeFrom=" + iso(start_s), "-replay.timeTo=" + iso(end_s),
            # Each rule's own interval as the query step (the default, 5m, is coarser than a
            # group's 1m, and the replay would take every skipped minute as a resolved alert).
            "-datasource.queryStep=0s", "-replay.rulesDelay=0s", "-replay.disableProgressBar",
            "-httpListenAddr=127.0.0.1:0"], timeout=120)
        assert code == 0, out

        rows = store.export('ALERTS{alertname="GuestagentTestPointOutage",alertstate="firing"}',
                            expect_points=1)
        assert rows, "no firing GuestagentTestPointOutage in the store; vmalert said:\n" + out
        labels = [row[0] for row in rows]
        assert all(l["instance"] == "r1" and l["site"] == "depot-north" and
                   l["target"] == "isp-dns" and l["severity"] == "critical" for l in labels), labels
        first_ms = min(ts for row in rows for ts in row[2])
        # Not before the outage began (plus its `for: 1m`, on the evaluation grid).
        assert first_ms >= (start_s + 3600) * 1000
        healthy = store.export('ALERTS{alertname="GuestagentTestPointOutage",instance="r2"}')
        assert healthy == []
        with capsys.disabled():
            print("\nvmalert replay: {} rule files, GuestagentTestPointOutage firing at {} "
                  "evaluation(s)".format(len(RULE_FILES), sum(len(r[2]) for r in rows)))
    finally:
        store.stop()
