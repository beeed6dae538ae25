"""The DNS prober against a DNS server on loopback whose losses and delays are known."""

import pytest

from guestagent.deadline import Deadline
from guestagent.probes import dns as dns_probe
from guestagent.schema import Namespace
from tests.lab.dnsserver import DnsServer


@pytest.fixture
def server():
    servers = []

    def make(**kw):
        s = DnsServer("127.0.0.1", 0, **kw).start()
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


def target(host="127.0.0.1"):
    return Namespace(name="resolver", host=host, kind="dns", role="dns", group=None,
                     via="guestshell", vrf=None)


def options(port, **kw):
    values = dict(query_name="qoe.lab", query_type="A", count=6, interval_s=0.0, timeout_s=0.5,
                  port=port, protocol="udp")
    values.update(kw)
    return Namespace(values)


def test_every_query_answered(server):
    s = server()
    sample = dns_probe.probe(target(), options(s.port), Deadline(10))
    assert sample["error"] is None
    assert (sample["queries_sent"], sample["queries_answered"], sample["loss_ratio"]) == (6, 6, 0)
    assert sample["rcodes"] == {"NOERROR": 6} and sample["reachable"]
    assert 0 < sample["response_ms"]["median"] < 100


def test_known_query_loss_is_counted_per_query(server):
    s = server(drop_every=3)  # queries 3 and 6 are ignored
    sample = dns_probe.probe(target(), options(s.port), Deadline(10))
    assert (sample["queries_sent"], sample["queries_answered"]) == (6, 4)
    assert sample["loss_ratio"] == pytest.approx(2 / 6.0)
    assert s.dropped == 2


def test_nxdomain_is_answered_not_lost(server):
    s = server()
    sample = dns_probe.probe(target(), options(s.port, query_name="missing.lab", count=3),
                             Deadline(10))
    assert sample["loss_ratio"] == 0 and sample["rcodes"] == {"NXDOMAIN": 3}


def test_response_time_follows_a_known_server_delay(server):
    s = server(delay_ms=40)
    sample = dns_probe.probe(target(), options(s.port, count=4), Deadline(10))
    assert 40 <= sample["response_ms"]["median"] < 80


def test_a_silent_resolver_is_total_loss(server):
    s = server(drop_every=1)
    sample = dns_probe.probe(target(), options(s.port, count=2, timeout_s=0.3), Deadline(10))
    assert sample["error"] is None
    assert sample["loss_ratio"] == 1.0 and sample["reachable"] is False
    assert sample["response_ms"] is None


def test_system_resolver_is_read_from_resolv_conf(tmp_path, monkeypatch):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch lab\nnameserver 127.0.0.1\nnameserver 127.0.0.2\n")
    assert dns_probe.system_resolver(str(conf)) == "127.0.0.1"
    conf.write_text("search lab\n")
    monkeypatch.setattr(dns_probe, "RESOLV_CONF", str(conf))
    sample = dns_probe.probe(target("system"), options(53), Deadline(5))
    assert sample["error"].startswith("no nameserver")
