"""The ICMP prober: parsing real ping output, the sample rules of docs/metrics.md, and live probes
of loopback and of a test point in a network namespace the test creates."""

import pytest

from guestagent import quality
from guestagent.deadline import Deadline
from guestagent.probes import icmp, icmp_text
from guestagent.schema import Namespace
from tests.conftest import read_fixture


def parsed(name, timeout_s=2.0):
    return icmp_text.parse(read_fixture("linux_ping", name), timeout_s)


def test_per_reply_lines_with_a_duplicate_and_a_gap_busybox():
    sample = parsed("pingparsing__10.txt")
    # seq 7 is missing, seq 0 and 9 answered twice: 10 sent, 9 received, 2 duplicates.
    assert (sample["sent"], sample["received"], sample["duplicates"]) == (10, 9, 2)
    assert sample["loss_ratio"] == pytest.approx(0.1)
    # The duplicates' RTTs (1.003, 1.219) are not samples: the first reply per seq counts.
    rtts = [0.936, 0.802, 0.696, 0.664, 1.194, 0.613, 0.898, 1.066, 1.144]
    assert sample["rtt_ms"]["median"] == pytest.approx(0.898)
    assert sample["rtt_ms"]["min"] == 0.613 and sample["rtt_ms"]["max"] == 1.194
    assert sample["rtt_ms"]["p95"] == 1.194  # nearest rank: ceil(0.95 * 9) = 9th
    assert sample["jitter_ms"] == pytest.approx(
        sum(abs(b - a) for a, b in zip(rtts, rtts[1:])) / 8)


def test_interrupted_run_with_no_answer_yet_lines():
    sample = parsed("pingparsing__6.txt")
    assert (sample["sent"], sample["received"]) == (8, 3)
    assert sample["loss_ratio"] == pytest.approx(5 / 8.0)
    assert sample["rtt_ms"]["median"] == 0.257


def test_fractional_loss_and_sequence_gap_from_a_lab_host():
    sample = parsed("gns3-hsrp-mpls-lab__1.txt")
    assert (sample["sent"], sample["received"]) == (183, 53)
    # min/avg/max/mdev from ping's summary line (`54.300/96.098/144.414/18.850`), whose
    # precision the reply lines (`time=144 ms`) lack; the median from the reply lines.
    assert sample["rtt_ms"]["min"] == 54.3 and sample["rtt_ms"]["max"] == 144.414
    assert sample["rtt_ms"]["avg"] == 96.098 and sample["rtt_ms"]["mdev"] == 18.85
    assert sample["rtt_ms"]["median"] == 94.1


def test_late_replies_are_counted_apart_from_received():
    # The same real output, but with a 0.1 s timeout: the 125 ms .. 144 ms replies come late.
    sample = parsed("gns3-hsrp-mpls-lab__1.txt", timeout_s=0.1)
    assert sample["sent"] == 183
    assert sample["received"] + sample["late"] == 53
    assert sample["late"] == 23  # the replies above 100 ms in the file
    assert sample["rtt_ms"]["max"] <= 100.0


@pytest.mark.parametrize("name", ["pingparsing__5.txt", "pingparsing__8.txt",
                                  "pingparsing__12.txt"])
def test_total_loss_and_unreachable_are_network_loss_not_errors(name):
    sample = parsed(name)
    assert sample["sent"] == 5 and sample["received"] == 0
    assert sample["loss_ratio"] == 1.0 and sample["reachable"] is False
    assert sample["rtt_ms"] is None and sample["jitter_ms"] is None
    assert sample["mos_estimate"] == 1.0


def test_summary_only_output_keeps_summary_figures_without_inventing_a_median():
    sample = parsed("pingparsing__1.txt")
    assert (sample["sent"], sample["received"]) == (60, 60)
    assert sample["rtt_ms"]["avg"] == 99.731 and sample["rtt_ms"]["median"] is None


def test_empty_body_is_not_recognized():
    assert parsed("pingparsing__13.txt")["recognized"] is False


def test_mos_estimate_by_hand():
    # EL = 20 + 2*5 + 10 = 40 -> R = 93.2 - 40/40 = 92.2 -> minus 2.5 * 10 % = 67.2
    r = quality.r_factor(20.0, 5.0, 0.1)
    assert r == pytest.approx(67.2)
    assert quality.mos_from_r(r) == pytest.approx(1 + 0.035 * 67.2 + 7e-6 * 67.2 * 7.2 * 32.8)
    # Long delay branch: EL = 300 + 0 + 10 = 310 -> R = 93.2 - 19 = 74.2
    assert quality.r_factor(300.0, 0.0, 0.0) == pytest.approx(74.2)
    assert quality.mos_from_r(0) == 1.0


def target(host, **kw):
    values = dict(name=host, host=host, kind="icmp", role="target", group=None, via="guestshell",
                  vrf=None)
    values.update(kw)
    return Namespace(values)


def options(**kw):
    values = dict(count=5, interval_s=0.2, timeout_s=1.0, size=56)
    values.update(kw)
    return Namespace(values)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_live_loopback_probe(host):
    sample = icmp.probe(target(host), options(), Deadline(10))
    assert sample["error"] is None
    assert (sample["sent"], sample["received"], sample["loss_ratio"]) == (5, 5, 0.0)
    assert sample["reachable"] and sample["rtt_ms"]["median"] < 50
    assert sample["address"] in ("127.0.0.1", "::1")
    if host == "localhost":
        assert sample["resolve_s"] >= 0


def test_live_probe_of_a_namespace_test_point_v4_and_v6(testpoint_ns):
    for address in (testpoint_ns.v4, testpoint_ns.v6):
        sample = icmp.probe(target(address), options(count=4), Deadline(10))
        assert sample["error"] is None, sample
        assert (sample["sent"], sample["received"]) == (4, 4)


def test_silent_test_point_is_loss(testpoint_ns):
    # Kernel echo replies off in the namespace: requests arrive, nothing answers.
    import subprocess
    subprocess.run(["ip", "netns", "exec", testpoint_ns.name, "sysctl", "-qw",
                    "net.ipv4.icmp_echo_ignore_all=1"], check=True)
    sample = icmp.probe(target(testpoint_ns.v4), options(count=3, timeout_s=0.5), Deadline(10))
    assert sample["error"] is None
    assert (sample["sent"], sample["received"], sample["reachable"]) == (3, 0, False)


def test_missing_ping_program_is_a_measurement_error(monkeypatch):
    monkeypatch.setattr(icmp, "PING", "/nonexistent/ping")
    sample = icmp.probe(target("127.0.0.1"), options(), Deadline(5))
    assert sample["error"].startswith("ping not available")
    assert "sent" not in sample  # no invented loss


def test_deadline_interrupts_ping_and_marks_a_measurement_error():
    sample = icmp.probe(target("127.0.0.1"), options(count=50, interval_s=0.2), Deadline(1.5))
    assert sample["error"].startswith("deadline")
    assert sample["duration_s"] < 3


def test_unresolvable_name_is_a_measurement_error(monkeypatch):
    import socket

    def fail(*args, **kw):  # no resolver is asked: the test sends no traffic
        raise socket.gaierror(-2, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", fail)
    sample = icmp.probe(target("no-such-host.example"), options(), Deadline(5))
    assert sample["error"].startswith("name resolution")
