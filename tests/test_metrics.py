import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from guestagent.metrics import MetricSet


def sample_set():
    out = MetricSet()
    sample = {"target": "isp-edge", "role": "isp-edge", "kind": "icmp", "via": "guestshell"}
    labels = out.probe_labels(sample)
    out.gauge("guestagent_icmp_loss_ratio", "Loss.", 0.1, labels)
    out.gauge("guestagent_icmp_rtt_seconds", "RTT.", 0.012, dict(labels, stat="median"))
    out.gauge("guestagent_icmp_rtt_seconds", "RTT.", 0.020, dict(labels, stat="p95"))
    out.counter("guestagent_sla_packets_sent_total", "Sent.", 1200, labels)
    out.info("guestagent_agent_info", "Agent.", {"hostname": 'ir1101 "lab"\\1', "serial": None})
    out.gauge("guestagent_icmp_jitter_seconds", "Jitter.", None, labels)  # absent value: skipped
    return out


def test_rendered_text_parses_back_with_types_and_escaped_labels():
    text = sample_set().render().decode("utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["guestagent_icmp_loss_ratio"].type == "gauge"
    assert families["guestagent_sla_packets_sent"].type == "counter"
    sent = families["guestagent_sla_packets_sent"].samples[0]
    assert sent.name == "guestagent_sla_packets_sent_total" and sent.value == 1200
    info = families["guestagent_agent_info"].samples[0]
    assert info.labels["hostname"] == 'ir1101 "lab"\\1' and info.labels["serial"] == ""
    rtts = {s.labels["stat"]: s.value for s in families["guestagent_icmp_rtt_seconds"].samples}
    assert rtts == {"median": 0.012, "p95": 0.020}
    assert "guestagent_icmp_jitter_seconds" not in families
    assert " 1" in text and "timestamp" not in text  # no timestamps for the Pushgateway


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed")
def test_promtool_accepts_the_exposition():
    proc = subprocess.run(["promtool", "check", "metrics"], input=sample_set().render(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr.decode() + proc.stdout.decode()


@pytest.mark.parametrize("name", ["loss_ratio", "guestagent_Loss", "guestagent-x"])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError):
        MetricSet().gauge(name, "x", 1)


def test_counter_names_end_in_total():
    with pytest.raises(ValueError):
        MetricSet().counter("guestagent_packets", "x", 1)
