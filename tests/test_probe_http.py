"""The HTTP prober against servers on loopback: phases, statuses, TLS and failures."""

import shutil
import subprocess

import pytest

from guestagent.deadline import Deadline
from guestagent.probes import http as http_probe
from guestagent.schema import Namespace
from tests.conftest import free_port
from tests.lab import httpserver


@pytest.fixture
def plain():
    server = httpserver.start()
    yield server.server_address[1]
    server.shutdown()


def target(host="127.0.0.1"):
    return Namespace(name="web", host=host, kind="http", role="target", group=None,
                     via="guestshell", vrf=None)


def options(port, **kw):
    values = dict(scheme="http", port=port, path="/", method="GET", count=3, timeout_s=2.0,
                  expect_status=[200], max_bytes=1 << 20, ca_file=None, verify_tls=True,
                  server_name=None)
    values.update(kw)
    return Namespace(values)


def test_phases_status_and_size(plain):
    sample = http_probe.probe(target(), options(plain), Deadline(10))
    assert sample["error"] is None
    assert (sample["requests_sent"], sample["requests_ok"], sample["loss_ratio"]) == (3, 3, 0)
    assert sample["statuses"] == {"200": 3} and sample["bytes"] == len(b"guestagent lab\n")
    phases = sample["phases_ms"]
    assert set(phases) == {"connect", "ttfb", "total"}  # no TLS on plain HTTP
    assert phases["connect"]["median"] <= phases["total"]["median"]


def test_time_to_first_byte_includes_a_known_server_delay(plain):
    sample = http_probe.probe(target(), options(plain, path="/slow?ms=80", count=2),
                              Deadline(10))
    assert 80 <= sample["phases_ms"]["ttfb"]["median"] < 200
    assert sample["phases_ms"]["connect"]["median"] < 50


def test_an_unexpected_status_is_a_failed_request(plain):
    sample = http_probe.probe(target(), options(plain, path="/status/503", count=2),
                              Deadline(10))
    assert sample["statuses"] == {"503": 2} and sample["loss_ratio"] == 1.0
    assert sample["reachable"] is False and "HTTP 503" in sample["failures"]


def test_a_closed_port_is_a_failed_service_not_a_measurement_error():
    sample = http_probe.probe(target(), options(free_port(), count=2), Deadline(10))
    assert sample["error"] is None and sample["loss_ratio"] == 1.0
    assert "ConnectionRefusedError" in sample["failures"][0]


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
def test_https_with_a_private_ca_times_the_handshake(tmp_path):
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server = httpserver.start(cert=cert, key=key)
    port = server.server_address[1]
    try:
        ok = http_probe.probe(target(), options(port, scheme="https", ca_file=cert, count=2),
                              Deadline(10))
        assert ok["requests_ok"] == 2 and ok["phases_ms"]["tls"]["median"] > 0
        refused = http_probe.probe(target(), options(port, scheme="https", count=1),
                                   Deadline(10))
        assert refused["loss_ratio"] == 1.0
        assert "CERTIFICATE_VERIFY_FAILED" in refused["failures"][0]
    finally:
        server.shutdown()


def test_a_missing_ca_file_is_a_measurement_error(tmp_path, plain):
    sample = http_probe.probe(target(), options(plain, scheme="https",
                                                ca_file=str(tmp_path / "no-ca.pem")),
                              Deadline(5))
    assert sample["error"].startswith("cannot load ca_file ") and "requests_sent" not in sample
