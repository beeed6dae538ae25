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


def test_rendered_text_parses_back_with_counter_types_and_escaped_labels():
    text = sample_set().render().decode("utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # No HELP, TYPE for counters only: gauges read back untyped, as Prometheus takes them.
    assert "# HELP" not in text and text.count("# TYPE") == 1
    assert families["guestagent_icmp_loss_ratio"].type == "unknown"
    assert families["guestagent_sla_packets_sent"].type == "counter"
    sent = families["guestagent_sla_packets_sent"].samples[0]
    assert sent.name == "guestagent_sla_packets_sent_total" and sent.value == 1200
    info = families["guestagent_agent_info"].samples[0]
    # An empty label is no label to Prometheus: it is not sent.
    assert info.labels["hostname"] == 'ir1101 "lab"\\1' and "serial" not in info.labels
    rtts = {s.labels["stat"]: s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == "guestagent_icmp_rtt_seconds"}
    assert rtts == {"median": 0.012, "p95": 0.020}
    assert "guestagent_icmp_jitter_seconds" not in families
    assert " 1" in text and "timestamp" not in text  # no timestamps for the Pushgateway


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed")
def test_promtool_accepts_the_exposition():
    proc = subprocess.run(["promtool", "check", "metrics"], input=sample_set().render(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # It parses (exit 1 would say not); HELP is left off the wire on purpose (docs/wire.md), so
    # "no help text" is the one lint finding allowed (exit 3 is promtool's lint status).
    problems = [line for line in proc.stderr.decode().splitlines()
                if line.strip() and not line.endswith(" no help text")]
    assert proc.returncode in (0, 3) and not problems, proc.stderr.decode()


@pytest.mark.parametrize("name", ["loss_ratio", "guestagent_Loss", "guestagent-x"])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError):
        MetricSet().gauge(name, "x", 1)


def test_counter_names_end_in_total():
    with pytest.raises(ValueError):
        MetricSet().counter("guestagent_packets", "x", 1)


def test_values_go_no_finer_than_measured_and_integers_bare():
    from guestagent.metrics import number
    assert number("guestagent_icmp_rtt_seconds", 0.0123456789) == "0.01235"
    assert number("guestagent_icmp_loss_ratio", 1 / 3.0) == "0.3333"
    assert number("guestagent_sla_known_seconds_total", 1234.56789) == "1234.568"
    assert number("guestagent_last_cycle_timestamp_seconds", 1796182920.4141953) == \
        "1796182920.414"
    assert number("guestagent_journal_bytes", 600000.0) == "600000"
    # Coordinates keep every digit they came with.
    assert number("guestagent_location_latitude_degrees", 44.3956632) == "44.3956632"
    assert number("guestagent_icmp_loss_ratio", float("nan")) == "NaN"


def test_import_text_has_no_comments_and_millisecond_timestamps():
    out = sample_set()
    text = out.render_import(timestamp=1796182920.4141953).decode("utf-8")
    assert "#" not in text
    assert all(line.endswith(" 1796182920414") for line in text.splitlines())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["guestagent_icmp_loss_ratio"].samples[0].timestamp == \
        pytest.approx(1796182920.414)


def test_influx_lines_carry_each_label_set_once_with_escaped_tags():
    out = sample_set()
    text = out.render_influx(timestamp=1796182920.4141953).decode("utf-8")
    lines = text.splitlines()
    probe = [l for l in lines if "target=isp-edge" in l and "stat=" not in l]
    assert len(probe) == 1
    assert probe[0].startswith("guestagent,kind=icmp,role=isp-edge,via=guestshell,"
                               "target=isp-edge ")
    assert " icmp_loss_ratio=0.1,sla_packets_sent_total=1200 1796182920414" in probe[0]
    # A space, a quote and a backslash in a tag value; an empty label is left out.
    [agent] = [l for l in lines if "agent_info" in l]
    assert agent == 'guestagent,hostname=ir1101\\ "lab"\\\\1 agent_info=1 1796182920414'
