import os

import pytest

from guestagent import config
from guestagent.schema import is_host

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def problems_of(text):
    with pytest.raises(config.ConfigError) as info:
        config.parse(text, "site.yaml")
    return info.value.problems


def test_embedded_default_loads_with_simulated_device_and_loopback_targets():
    cfg = config.load(config.EMBEDDED_DEFAULT)
    assert cfg.device.kind == "simulated"
    assert [t.host for t in cfg.targets] == ["127.0.0.1", "::1", "localhost"]
    assert cfg.sinks.pushgateway.url.startswith("http://127.0.0.1:")
    # Defaults reach the targets' probe options.
    assert config.target_options(cfg, cfg.targets[0]).count == 10


@pytest.mark.parametrize("name", ["router.yaml", "lab.yaml"])
def test_example_configs_are_valid(name):
    cfg = config.load(os.path.join(ROOT, "examples", name))
    assert cfg.targets


def test_router_example_keeps_state_on_guest_share_and_pushes_with_basic_auth():
    cfg = config.load(os.path.join(ROOT, "examples", "router.yaml"))
    assert cfg.agent.state_dir.startswith("/bootflash/guest-share/guestagent/")
    assert cfg.sinks.pushgateway.username
    assert cfg.path_discovery.first_hop
    roles = set(t.role for t in cfg.targets)
    assert {"isp-edge", "target"} <= roles


def test_every_problem_is_reported_with_file_line_key_and_expectation():
    problems = problems_of(
        "agent:\n"
        "  deadline_s: 0\n"
        "  colour: blue\n"
        "targets:\n"
        "  - host: 'not a host'\n"
        "  - host: 192.0.2.7\n"
        "    count: many\n"
        "path_discovery:\n"
        "  enabled: yes please\n"
        "sinks:\n"
        "  pushgateway:\n"
        "    url: pushgw.example.net:9091\n")
    text = "\n".join(problems)
    assert len(problems) == 6, text
    assert "site.yaml:2: agent.deadline_s: expected a number > 0 and <= 3600, got a number (0)" in text
    assert "site.yaml:3: agent.colour: unknown key; expected one of:" in text
    assert "site.yaml:5: targets[0].host: expected an IP address or a host name" in text
    assert "site.yaml:7: targets[1].count: expected a whole number >= 1" in text
    assert "site.yaml:9: path_discovery.enabled: expected true or false" in text
    assert ("site.yaml:12: sinks.pushgateway.url: expected a URL starting with http:// or "
            "https://") in text


def test_interval_must_be_positive_and_targets_need_a_host():
    problems = problems_of("agent: {interval_s: -5}\ntargets:\n  - {role: target}\n")
    assert any("agent.interval_s: expected a number > 0" in p for p in problems)
    assert any("targets[0].host: missing; expected an IP address or a host name" in p
               for p in problems)


def test_duplicate_names_and_password_without_user_are_rejected():
    problems = problems_of(
        "targets:\n  - {host: 192.0.2.1, name: a}\n  - {host: 192.0.2.2, name: a}\n"
        "sinks:\n  pushgateway: {url: 'https://pgw.example.net', password: s3cret}\n")
    assert any("duplicate test point name 'a'" in p for p in problems)
    assert any("sinks.pushgateway.username: missing" in p for p in problems)


def test_unknown_prober_kind_names_the_choices():
    problems = problems_of("targets:\n  - {host: 192.0.2.1, kind: smoke-signal}\n")
    assert "expected one of 'dns', 'http', 'icmp', 'throughput', 'traceroute'" in problems[0]


def test_broken_yaml_names_the_line():
    problems = problems_of("agent:\n  job: [unclosed\n")
    assert problems[0].startswith("site.yaml:")
    assert "not valid YAML" in problems[0]


def test_per_target_options_override_kind_defaults():
    cfg = config.parse("probes: {icmp: {count: 4, timeout_s: 1.5}}\n"
                       "targets:\n  - {host: 192.0.2.1, count: 20}\n  - {host: 192.0.2.2}\n")
    first = config.target_options(cfg, cfg.targets[0])
    second = config.target_options(cfg, cfg.targets[1])
    assert (first.count, first.timeout_s) == (20, 1.5)
    assert (second.count, second.timeout_s) == (4, 1.5)
    assert cfg.targets[0].name == "192.0.2.1"  # name defaults to the host


def test_state_dir_expands_home_and_journal_defaults_under_it(monkeypatch):
    monkeypatch.setenv("HOME", "/home/tech")
    cfg = config.parse("agent: {state_dir: ~/qoe}\n")
    assert cfg.agent.state_dir == "/home/tech/qoe"
    assert cfg.journal.dir == "/home/tech/qoe/journal"


def test_default_path_prefers_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GUESTAGENT_CONFIG", str(tmp_path / "x.yaml"))
    assert config.default_path() == str(tmp_path / "x.yaml")


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(config.ConfigError) as info:
        config.load(str(tmp_path / "absent.yaml"))
    assert "cannot read" in info.value.problems[0]


@pytest.mark.parametrize("host,ok", [
    ("192.0.2.1", True), ("2001:db8::1", True), ("router-1.example.net", True),
    ("localhost", True), ("a_b.example", True), ("-bad.example", False), ("a b", False),
    ("300.1.1.1", False), ("", False), ("x" * 64 + ".example", False),
])
def test_host_names_and_addresses(host, ok):
    assert is_host(host) is ok
