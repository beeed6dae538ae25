"""Measurements against known truth: whole cycles run inside the lab's agent namespace
(tests/lab/topology.py), compared with what the lab did (nft drop counters, the delayer's log of
applied delays, tbf rates, its own routers)."""

import json
import os
import subprocess
import sys

import pytest

from guestagent import quality
from tests.conftest import ROOT


def cycle(lab, tmp_path, targets, toward=None, icmp="count: 10, interval_s: 0.05, timeout_s: 1",
          extra="", trigger="cli", deadline=20):
    """Run `guestagent run` in the agent namespace; the report."""
    lines = "\n".join("  - {" + t + "}" for t in targets)
    config = tmp_path / "lab.yaml"
    config.write_text("""
agent: {{state_dir: {state}, deadline_s: {deadline}}}
device: {{kind: simulated}}
path_discovery: {{enabled: {pd}, toward: {toward}}}
probes:
  icmp: {{{icmp}}}
  traceroute: {{max_hops: 6, wait_s: 1}}
targets:
{lines}
{extra}
""".format(state=tmp_path / "state", deadline=deadline, pd="true" if toward else "false",
           toward=toward or "127.0.0.1", icmp=icmp, lines=lines, extra=extra))
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(lab.exec_argv("agent", [sys.executable, "-m", "guestagent", "run",
                                                  "--config", str(config), "--dry-run", "--json",
                                                  "--trigger", trigger]),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def by_name(report):
    return dict((s["target"], s) for s in report["probes"])


def test_traceroute_lists_the_lab_routers_and_the_first_hop_is_probed(lab, tmp_path):
    report = cycle(lab, tmp_path, ["name: far, host: {}".format(lab.far)], toward=lab.far)
    hops = [h["address"] for h in report["path"]["hops"]]
    assert hops == [lab.first_hop, lab.isp_edge, lab.target, lab.far]
    first = by_name(report)["first-hop"]
    assert first["host"] == lab.first_hop and first["received"] == 10
    v6 = cycle(lab, tmp_path, ["name: far6, host: '{}'".format(lab.v6("far", "inet"))],
               toward=lab.v6("far", "inet"))
    assert [h["address"] for h in v6["path"]["hops"]] == [
        lab.v6("cpe", "agent"), lab.v6("isp", "cpe"), lab.v6("inet", "isp"),
        lab.v6("far", "inet")]


def test_measured_loss_equals_the_lab_drop_counter_packet_for_packet(lab, tmp_path):
    lab.set_loss("isp", "cpe", 25)
    try:
        before = lab.dropped("isp")
        report = cycle(lab, tmp_path, ["name: edge, host: {}, role: isp-edge".format(
            lab.isp_edge)], icmp="count: 400, interval_s: 0.005, timeout_s: 1")
        dropped = lab.dropped("isp") - before
    finally:
        lab.clear_loss("isp")
    edge = by_name(report)["edge"]
    assert edge["sent"] == 400
    assert edge["sent"] - edge["received"] == dropped  # every lost request is one the lab dropped
    assert 0.15 < edge["loss_ratio"] < 0.35  # and the drop rate is about what was asked for


def test_median_rtt_and_jitter_agree_with_the_delays_the_lab_applied(lab, tmp_path):
    log = str(tmp_path / "delays.jsonl")
    delayer = lab.start_delayer(40, 10, log_path=log, seed=7)
    try:
        report = cycle(lab, tmp_path, ["name: far, host: {}".format(lab.far)],
                       icmp="count: 40, interval_s: 0.05, timeout_s: 1")
    finally:
        delayer.terminate()
        delayer.wait(5)
        lab.run("far", "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0")
    applied = [json.loads(line)["delay_ms"] for line in open(log)]
    far = by_name(report)["far"]
    assert far["received"] == 40 and len(applied) == 40
    truth_median = quality.median(applied)
    truth_jitter = quality.ipdv_jitter(applied)
    # The path adds well under a millisecond; the user-space responder a little scheduling time.
    assert truth_median <= far["rtt_ms"]["median"] <= truth_median + 3.0
    assert abs(far["jitter_ms"] - truth_jitter) <= 0.15 * truth_jitter + 1.0
    assert far["mos_estimate"] is not None and far["mos_estimate"] < 4.5


def test_throughput_reports_the_tbf_limit(lab, tmp_path):
    lab.start_servers()
    lab.set_rate("inet", "isp", 8000)   # download: the server's side, 8 Mbit/s
    lab.set_rate("agent", "cpe", 4000)  # upload: the agent's side, 4 Mbit/s
    try:
        report = cycle(lab, tmp_path, [
            "name: speed, host: {}, kind: throughput, port: 80, download_bytes: 4000000, "
            "upload_bytes: 2000000, max_seconds: 6".format(lab.target)], deadline=30)
    finally:
        lab.clear_rate("inet", "isp")
        lab.clear_rate("agent", "cpe")
    speed = by_name(report)["speed"]
    assert "skipped" not in speed, speed
    down = speed["download"]["bits_per_second"]
    up = speed["upload"]["bits_per_second"]
    # tbf counts IP bytes, the probe counts HTTP body bytes: headers and TCP/IP overhead (~5%)
    # come off, and the first burst comes on.
    assert 0.85 * 8e6 <= down <= 1.05 * 8e6, down
    assert 0.85 * 4e6 <= up <= 1.05 * 4e6, up


def test_dns_and_http_through_the_lab(lab, tmp_path):
    lab.start_servers()
    report = cycle(lab, tmp_path, [
        "name: resolver, host: {}, kind: dns, role: dns, query_name: qoe.lab, count: 5, "
        "interval_s: 0".format(lab.target),
        "name: web, host: {}, kind: http, scheme: http, port: 80, count: 2".format(lab.target)])
    samples = by_name(report)
    assert samples["resolver"]["queries_answered"] == 5
    assert samples["resolver"]["rcodes"] == {"NOERROR": 5}
    assert samples["web"]["requests_ok"] == 2


@pytest.mark.parametrize("node,peer,verdict", [
    ("cpe", "agent", "local"),      # the router's own link: the first hop is already bad
    ("isp", "cpe", "access"),       # first hop fine, the ISP edge bad
    ("inet", "isp", "beyond-isp"),  # ISP edge fine, the targets beyond it bad
])
def test_isolation_names_the_segment_where_loss_was_injected(lab, tmp_path, node, peer, verdict):
    lab.set_loss(node, peer, 60)
    try:
        report = cycle(lab, tmp_path, [
            "name: edge, host: {}, role: isp-edge".format(lab.isp_edge),
            "name: server, host: {}, role: target".format(lab.target)], toward=lab.target,
            icmp="count: 30, interval_s: 0.01, timeout_s: 0.5")
    finally:
        lab.clear_loss(node)
    assert report["isolation"]["verdict"] == verdict, report["isolation"]
