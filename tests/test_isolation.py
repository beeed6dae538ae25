"""The fault-domain verdict, on hand-made samples (the lab test shows it on real traffic)."""

import pytest

from guestagent import isolation
from guestagent.metrics import MetricSet


def icmp(name, role, loss=0.0, median=10.0, error=None):
    return {"kind": "icmp", "target": name, "role": role, "loss_ratio": loss,
            "reachable": loss < 1.0, "rtt_ms": {"median": median} if loss < 1.0 else None,
            "error": error}


def dns(name, loss=0.0, median=20.0):
    return {"kind": "dns", "target": name, "role": "dns", "loss_ratio": loss,
            "reachable": loss < 1.0, "response_ms": {"median": median}, "error": None}


HEALTHY = [icmp("gw", "first-hop"), icmp("pe", "isp-edge"), icmp("web", "target"),
           dns("resolver")]


@pytest.mark.parametrize("broken,expected", [
    ({}, "healthy"),
    ({"gw": 1.0}, "local"),
    ({"gw": 0.5, "pe": 1.0, "web": 1.0}, "local"),  # the nearest bad segment is named
    ({"pe": 0.3}, "access"),
    ({"pe": 1.0, "web": 1.0}, "access"),
    ({"web": 0.25}, "beyond-isp"),
    ({"resolver": 1.0}, "dns-only"),
])
def test_the_first_bad_segment_outward_names_the_domain(broken, expected):
    samples = []
    for s in HEALTHY:
        if s["target"] in broken:
            s = dict(s, loss_ratio=broken[s["target"]], reachable=broken[s["target"]] < 1.0)
        samples.append(s)
    result = isolation.verdict(samples)
    assert result["verdict"] == expected
    if expected != "healthy":
        assert result["roles"][result["segment"]]["bad"]


def test_delay_over_the_limit_is_bad_and_loss_at_the_limit_is_not():
    assert isolation.verdict([icmp("gw", "first-hop", median=600)])["verdict"] == "local"
    assert isolation.verdict([icmp("gw", "first-hop", loss=0.2)])["verdict"] == "healthy"
    assert isolation.verdict([icmp("gw", "first-hop", median=300)], rtt_max_ms=250)[
        "verdict"] == "local"


def test_measurement_errors_say_nothing():
    samples = [icmp("gw", "first-hop", error="ping not available"),
               icmp("pe", "isp-edge", loss=1.0)]
    result = isolation.verdict(samples)
    assert result["verdict"] == "access" and "first-hop" not in result["roles"]
    assert isolation.verdict([icmp("gw", "first-hop", error="deadline")])["verdict"] == "unknown"


def test_one_gauge_per_verdict():
    out = MetricSet()
    isolation.metrics({"verdict": "access"}, out)
    assert out.value("guestagent_isolation_verdict", verdict="access") == 1
    assert out.value("guestagent_isolation_verdict", verdict="healthy") == 0
