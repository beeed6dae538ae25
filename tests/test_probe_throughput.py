"""The throughput prober on loopback: bytes, caps, schedule and the daily byte budget. (Its rate
against a known `tc tbf` limit is measured in the lab: tests/test_lab.py.)"""

import json

import pytest

from guestagent.deadline import Deadline
from guestagent.probes import throughput
from guestagent.schema import Namespace
from tests.lab import httpserver


@pytest.fixture
def server():
    s = httpserver.start()
    yield s.server_address[1]
    s.shutdown()


def target():
    return Namespace(name="speed", host="127.0.0.1", kind="throughput", role="target",
                     group=None, via="guestshell", vrf=None)


def options(port, **kw):
    values = throughput.OPTIONS.defaults()
    values.update(port=port, download_bytes=3000000, upload_bytes=1000000, max_seconds=5.0)
    values.update(kw)
    return values


def context(tmp_path, trigger="cron"):
    return Namespace(state_dir=str(tmp_path), trigger=trigger)


def test_download_upload_and_latency(server, tmp_path):
    sample = throughput.probe(target(), options(server), Deadline(20), context(tmp_path))
    assert sample["error"] is None and "skipped" not in sample, sample
    assert sample["download"]["bytes"] == 3000000 and sample["upload"]["bytes"] == 1000000
    assert sample["download"]["stopped_by"] == sample["upload"]["stopped_by"] == "end"
    assert sample["download"]["bits_per_second"] > 1e6
    assert sample["latency_ms"] is not None and sample["latency_ms"] < 50
    assert sample["budget"]["used_bytes"] == 4000000
    with open(str(tmp_path / "throughput.json")) as f:
        assert json.load(f)["bytes"] == 4000000


def test_byte_cap_stops_the_transfer(server, tmp_path):
    sample = throughput.probe(target(), options(server, max_bytes=500000), Deadline(20),
                              context(tmp_path))
    assert 500000 <= sample["download"]["bytes"] < 500000 + 65536
    assert sample["upload"]["bytes"] == 500000
    assert sample["download"]["stopped_by"] == sample["upload"]["stopped_by"] == "max_bytes"


def test_the_daily_budget_is_honoured(server, tmp_path):
    opts = options(server, daily_budget_bytes=6000000)
    first = throughput.probe(target(), opts, Deadline(20), context(tmp_path))
    assert first["budget"]["used_bytes"] == 4000000
    second = throughput.probe(target(), opts, Deadline(20), context(tmp_path))
    assert second["skipped"].startswith("daily budget: 4000000 of 6000000 bytes used today")
    assert "download" not in second


def test_timer_cycles_run_it_every_nth_time(server, tmp_path):
    opts = options(server, every_n_cycles=3, download_bytes=1000, upload_bytes=1000)
    ran = []
    for _ in range(6):
        sample = throughput.probe(target(), opts, Deadline(20), context(tmp_path, "timer"))
        ran.append("skipped" not in sample)
    assert ran == [True, False, False, True, False, False]


def test_an_unreachable_server_is_recorded_not_raised(tmp_path):
    from tests.conftest import free_port
    sample = throughput.probe(target(), options(free_port()), Deadline(20), context(tmp_path))
    assert sample["reachable"] is False and len(sample["errors"]) == 2


def test_a_missing_ca_file_is_a_measurement_error(tmp_path):
    sample = throughput.probe(target(), options(443, scheme="https",
                                                ca_file=str(tmp_path / "no-ca.pem")),
                              Deadline(5), context(tmp_path))
    assert sample["error"].startswith("cannot load ca_file ")
    assert "download" not in sample
