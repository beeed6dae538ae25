import json
import os
import pathlib
import re

import pytest

from guestagent import config, runtimefiles
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
    assert ("site.yaml:2: agent.deadline_s: expected a number > 0 and <= 3600, got a number "
            "(0)") in text
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


def test_a_character_yaml_refuses_names_its_line():
    problems = problems_of("agent:\n  job: a\x00b\n")
    assert problems == ["site.yaml:2: not valid YAML: character U+0000 is not allowed"]


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


# --- Values of the examples: each a FILE:LINE problem, never a traceback. ---

def only(problems, *fragments):
    """The one problem; it holds every fragment."""
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems
    return problems[0]


def test_a_null_section_or_list_is_its_default_and_a_targetless_config_warns():
    cfg = config.parse("targets:\n  # - {host: 192.0.2.1}\nsinks:\njournal:\n", "site.yaml")
    assert cfg.targets == [] and cfg.sinks.pushgateway is None
    assert cfg.journal.keep_files == 1000 and cfg.journal.budget_bytes == 32 << 20
    assert cfg.warnings == ["site.yaml: targets: no test points configured; a cycle measures "
                            "nothing but the router"]
    assert config.parse("", "empty.yaml").warnings[0].startswith("empty.yaml: targets: no test")
    assert config.parse("targets: [{host: 192.0.2.1}]\n").warnings == []
    warnings = config.parse("targets:\n  - {host: 192.0.2.1, vrf: MGMT}\n", "site.yaml").warnings
    assert warnings == [
        "site.yaml:2: targets[0].vrf: used only via ios (Guest Shell's own probes take no "
        "VRF)"]


def test_a_bad_kind_is_the_only_problem_of_its_target():
    only(problems_of("targets:\n  - {host: 192.0.2.1, kind: [icmp], count: 3}\n"),
         "site.yaml:2: targets[0].kind: expected one of", "got a list")
    only(problems_of("targets:\n  - host: 192.0.2.1\n    kind: smoke\n    count: 3\n"),
         "site.yaml:3: targets[0].kind")


def test_an_empty_or_blank_path_is_refused():
    only(problems_of("agent:\n  state_dir: ''\n"),
         "site.yaml:2: agent.state_dir: expected a non-empty file system path")
    only(problems_of("journal:\n  dir: '  '\n"),
         "site.yaml:2: journal.dir: expected a non-empty")


@pytest.mark.parametrize("key,value", [
    ("sla:\n  loss_max", ".nan"), ("sla:\n  rtt_max_ms", ".inf"),
    ("agent:\n  deadline_s", "1.0e+300"), ("journal:\n  keep_files", "1.0e+21"),
    ("journal:\n  keep_files", "1e21"), ("journal:\n  max_bytes", "-.inf"),
    ("probes:\n  icmp:\n    timeout_s", ".nan"),
    ("probes:\n  throughput:\n    max_bytes", "1.0e+300"),
    ("router:\n  location:\n    altitude_m", ".nan"), ("agent:\n  interval_s", "1" + "0" * 400),
])
def test_numbers_are_finite_and_bounded(key, value):
    problem = only(problems_of("{}: {}\n".format(key, value)))
    expected = r"site\.yaml:\d+: [a-z_.]+: expected a (finite )?(whole )?number"
    assert re.match(expected, problem), problem


def test_a_number_key_without_its_own_maximum_has_the_fallback_one():
    assert config.parse("probes: {throughput: {daily_budget_bytes: 100000000000}}\n")
    only(problems_of("probes: {throughput: {daily_budget_bytes: 1.0e+13}}\n"),
         "probes.throughput.daily_budget_bytes", "within 1e+12 either way")
    only(problems_of("probes: {http: {timeout_s: 1.0e+10}}\n"), "within 1e+09 either way")


def test_duplicate_keys_are_refused_with_both_lines():
    problems = problems_of(
        "sinks:\n  pushgateway: {url: 'https://pgw.example.net'}\n"
        "targets:\n  - {host: 192.0.2.1, count: 3, count: 4}\n"
        "sinks:\n  victoriametrics: {url: 'https://vm.example.net'}\n")
    assert problems == [
        "site.yaml:4: targets[0].count: expected each key once, got it again (first at line 4; "
        "YAML keeps only the last)",
        "site.yaml:5: sinks: expected each key once, got it again (first at line 1; YAML keeps "
        "only the last)"]


def test_aliases_do_not_blow_up_the_line_index():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x]"]
    lines += ["a{}: &a{} [{}]".format(i, i, ", ".join(["*a{}".format(i - 1)] * 8))
              for i in range(1, 12)]
    text = "x-anchors:\n" + "".join("  " + line + "\n" for line in lines)
    only(problems_of(text), "site.yaml:1: x-anchors: unknown key")


def test_names_in_sla_must_be_test_points_or_their_groups():
    base = ("targets:\n  - {name: edge, host: 192.0.2.1, group: [uplink]}\n"
            "  - {name: dc, host: 192.0.2.2, role: target}\n")
    assert config.parse(base + "sla:\n  targets: {edge: {rtt_max_ms: 50}, first-hop: {}}\n"
                        "  groups:\n    uplink: {mode: any}\n    target: {}\n"
                        "    both: {members: [edge, dc]}\n")
    problems = problems_of(base + "sla:\n  targets:\n    egde: {rtt_max_ms: 50}\n"
                           "  groups:\n    g: {members: [edge, dcc]}\n    upl1nk: {}\n")
    text = "\n".join(problems)
    assert len(problems) == 3, text
    assert ("site.yaml:6: sla.targets.egde: expected the name of a test point ('dc', 'edge', "
            "'first-hop'), got 'egde'") in text
    assert "site.yaml:8: sla.groups.g.members[1]: expected the name of a test point" in text
    assert "site.yaml:9: sla.groups.upl1nk: expected members, or a group or role" in text
    # A config without test points (reading a state's history) only warns.
    cfg = config.parse("sla: {groups: {either: {members: [edge, edge2]}}}\n", "site.yaml")
    assert cfg.warnings[1:] == [
        "site.yaml:1: sla.groups.either.members[0]: expected the name of a test point "
        "('first-hop'), got 'edge'", "site.yaml:1: sla.groups.either.members[1]: expected the "
        "name of a test point ('first-hop'), got 'edge2'"]
    # Without path discovery's first hop, `first-hop` names nothing.
    only(problems_of(base + "path_discovery: {first_hop: false}\n"
                     "sla: {targets: {first-hop: {}}}\n"), "sla.targets.first-hop")


def test_path_discovery_toward_is_a_host_or_a_test_point_name():
    cfg = config.parse("targets:\n  - {name: anchor dns, host: 192.0.2.53}\n"
                       "path_discovery: {toward: anchor dns}\n")
    assert cfg.path_discovery.toward == "192.0.2.53"
    only(problems_of("path_discovery: {toward: 'anchor | x'}\n"),
         "site.yaml:1: path_discovery.toward: expected an IP address, a host name or a test "
         "point's name")


@pytest.mark.parametrize("vrf", [
    "MGMT | redirect bootflash:x", "X source Gi0/0/0 repeat 100000", "-x", "$(reboot)", "a;b",
    "", "x" * 33, "MGMT\n", u"caf\u00e9",
])
def test_a_vrf_is_one_ios_word(vrf):
    for text in ("targets:\n  - {host: 192.0.2.1, via: ios, vrf: %r}\n",
                 "path_discovery: {via: ios, vrf: %r}\n"):
        only(problems_of(text.replace("%r", json.dumps(vrf))), "vrf: expected a VRF name")


@pytest.mark.parametrize("vrf", ["MGMT", "Mgmt-intf", "cust_1.a:b", "65000:1", "x" * 32])
def test_ios_vrf_names_load(vrf):
    cfg = config.parse("targets:\n  - {host: 192.0.2.1, via: ios, vrf: %s}\n" % json.dumps(vrf))
    assert cfg.targets[0].vrf == vrf


def test_interface_names_and_slots_follow_ios():
    cfg = config.parse("router:\n  interfaces: {names: [GigabitEthernet0/0/0, Cellular0/1/0, "
                       "Vlan1, Virtual-Template1, GigabitEthernet0/0/0.100, Serial0/1/0:0]}\n"
                       "  cellular: {slots: [0/1/0, 0/3/0]}\n")
    assert cfg.router.interfaces.names[0] == "GigabitEthernet0/0/0"
    for bad in ("Gi0/0/0 | include x", "Cellular 0/1/0", "-Vlan1", "0/1/0", "Vlan"):
        only(problems_of("router: {interfaces: {names: [%s]}}\n" % json.dumps(bad)),
             "router.interfaces.names[0]: expected an IOS interface name")
    for bad in ("0/1/0 radio | x", "0/1/0\n", "0/1", "a/b/c"):
        only(problems_of("router: {gps: {slot: %s}}\n" % json.dumps(bad)), "router.gps.slot")
        only(problems_of("router: {cellular: {slots: [%s]}}\n" % json.dumps(bad)),
             "router.cellular.slots[0]")


@pytest.mark.parametrize("host", ["192.0.2.1 | x", "$(reboot)", "-c1", "a b", "192.0.2.1\nx",
                                  "fe80::1%Gi0/0/0", "fe80::1%x y"])
def test_a_host_that_reaches_ios_is_an_address_or_a_name(host):
    problems = problems_of("targets:\n  - {host: %s, via: ios}\n" % json.dumps(host))
    assert problems[0].startswith("site.yaml:2: targets[0].host: expected an IP address")


def test_spaces_around_a_host_are_dropped():
    cfg = config.parse("targets:\n  - {host: \"192.0.2.1\\n\", via: ios}\n")
    assert cfg.targets[0].host == "192.0.2.1"


def test_a_scope_id_is_for_guest_shell_probes_only():
    cfg = config.parse("targets:\n  - {host: 'fe80::1%eth0'}\n")
    assert cfg.targets[0].host == "fe80::1%eth0"
    only(problems_of("targets:\n  - {host: 'fe80::1%eth0', via: ios}\n"),
         "site.yaml:2: targets[0].host: expected an IP address or a host name without a "
         "scope id")


# The same answer on Python 3.6 and on current Python (the suite runs on both): before 3.9.5
# `ipaddress` took leading zeros, from 3.9 on it takes any text after `%`.
@pytest.mark.parametrize("host,ok", [
    ("010.1.1.1", False), ("1.2.3.04", False), ("0.0.0.0", True), ("::ffff:010.1.1.1", False),
    ("::ffff:10.1.1.1", True), ("fe80::1%eth0", True), ("fe80::1%25", True),
    ("fe80::1%", False), ("fe80::1%eth0 x", False), ("fe80::1%a|b", False),
    ("fe80::1%" + "x" * 16, False), ("fe80::1%$(id)", False), ("1:2:3:4:5:6:7::", True),
    ("1:2:3:4:5:6:7:8:9", False), ("::", True), ("1.2.3", False), ("1.2.3.4.5", False),
    ("\u0661.2.3.4", False), ("exa\u0301mple.net", False), ("example.net.", True),
    ("xn--bcher-kva.example", True), ("a..b", False), ("1e300", True), ("-1", False),
])
def test_hosts_parse_alike_on_every_python(host, ok):
    assert is_host(host) is ok


def test_ios_builders_refuse_unchecked_values():
    from guestagent import iostokens
    from guestagent.probes import ios_ping, ios_traceroute
    icmp = config.Namespace(count=5, timeout_s=2.0)
    trace = config.Namespace(max_hops=8, wait_s=1.0, queries=1)
    assert ios_ping.command("192.0.2.1", icmp, "MGMT") == \
        "ping vrf MGMT 192.0.2.1 repeat 5 timeout 2"
    assert ios_traceroute.command("192.0.2.1", trace) == \
        "traceroute 192.0.2.1 numeric timeout 1 probe 1 ttl 1 8"
    for host, vrf in (("192.0.2.1 | redirect x", None), ("192.0.2.1", "X source Gi0/0/0"),
                      ("fe80::1%eth0", None), ("-h", None), ("192.0.2.1", "-x")):
        with pytest.raises(iostokens.TokenError):
            ios_ping.command(host, icmp, vrf)
        with pytest.raises(iostokens.TokenError):
            ios_traceroute.command(host, trace, vrf)
    with pytest.raises(iostokens.TokenError):
        ios_ping.command("192.0.2.1", config.Namespace(count="5 | x", timeout_s=2.0))


def test_a_probe_result_that_is_no_host_is_a_measurement_error_never_sent():
    # The first hop comes from traceroute's output: the builder checks it too.
    from guestagent.deadline import Deadline
    from guestagent.probes import ios_ping
    sent = []

    class Device(object):
        def execute(self, command, timeout_s=None):
            sent.append(command)
            return ""

    target = config.Namespace(name="first-hop", host="10.0.0.1 | redirect bootflash:x",
                              kind="icmp", role="first-hop", group=None, via="ios", vrf=None)
    sample = ios_ping.probe(target, config.Namespace(count=5, timeout_s=2.0), Deadline(10),
                            config.Namespace(device=Device()), {})
    assert sent == [] and sample["error"].startswith("ios ping: not sent: not an IP address")


# --- Secrets and the files a config names. ---

def test_url_credentials_are_refused_for_both_sinks_without_showing_them():
    for sink in ("pushgateway", "victoriametrics"):
        problem = only(problems_of("sinks:\n  %s:\n    url: 'https://fleet:hunter2@pgw.example"
                                   ".net:9091/'\n" % sink))
        assert problem.startswith("site.yaml:3: sinks.%s.url: expected a URL without "
                                  "credentials (give them as username and password or "
                                  "password_file" % sink)
        assert "hunter2" not in problem and "fleet" not in problem


def test_a_wrong_secret_value_is_not_echoed():
    problem = only(problems_of("sinks:\n  pushgateway:\n    url: https://pgw.example.net\n"
                               "    username: u\n    password: {hunter2: 1}\n"))
    assert "hunter2" not in problem
    assert "ftp" in only(problems_of("sinks: {pushgateway: {url: 'ftp://pgw.example.net'}}\n"))


def test_redacted_hides_passwords_and_tokens():
    cfg = config.parse("sinks:\n  pushgateway: {url: 'https://pgw.example.net', username: u, "
                       "password: hunter2}\n  victoriametrics: {url: 'https://vm.example.net', "
                       "bearer_token: tok3n}\n")
    shown = json.dumps(config.redacted(cfg))
    assert "hunter2" not in shown and "tok3n" not in shown
    assert config.redacted(cfg)["sinks"]["pushgateway"]["password"] == "<redacted>"
    assert cfg.sinks.pushgateway.password == "hunter2"  # the config itself is unchanged


def write(path, data, mode=0o600):
    path.write_bytes(data)
    os.chmod(str(path), mode)
    return str(path)


def ca_bundle():
    import ssl
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and os.path.isfile(candidate):
            return candidate
    pytest.skip("no CA bundle on this machine")


def sink_config(tmp_path, **keys):
    lines = ["agent: {state_dir: '%s'}" % (tmp_path / "state"),
             "sinks:", "  pushgateway:", "    url: https://pgw.example.net"]
    lines += ["    {}: '{}'".format(k, v) for k, v in sorted(keys.items())]
    path = tmp_path / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_check_files_catches_secret_and_ca_files_that_would_fail_later(tmp_path):
    good = sink_config(tmp_path, username="u", ca_file=ca_bundle(),
                       password_file=write(tmp_path / "pw", b"hunter2\n"))
    assert config.check_files(config.load(good)) == []
    path = sink_config(tmp_path, username="u", password_file=str(tmp_path / "absent"),
                       ca_file=write(tmp_path / "ca.pem", b"not a certificate\n"))
    problems = config.check_files(config.load(path))
    assert len(problems) == 2, problems
    assert problems[0].startswith(path + ":6: sinks.pushgateway.password_file: expected a "
                                  "readable file, got")
    assert "No such file" in problems[0]
    assert problems[1].startswith(path + ":5: sinks.pushgateway.ca_file: expected a CA bundle")
    path = sink_config(tmp_path, bearer_token_file=write(tmp_path / "tok", b"  \n"))
    only(config.check_files(config.load(path)), "bearer_token_file: expected a file holding the "
         "secret", ": empty")
    with pytest.raises(config.ConfigError):
        config.load(path, files=True)
    # Messages name the file, never its content.
    assert "hunter2" not in " ".join(config.check_files(config.load(good)))


def as_guest_user(call, uid=1000):
    """call()'s result as computed by an unprivileged user (Guest Shell's runs as uid 1000):
    root reads and writes whatever the mode says. A forked child drops to `uid` and sends the
    result back as JSON; everything it needs is imported before the fork (the interpreter's own
    files may not be readable by that user)."""
    import json
    if os.geteuid() != 0:
        return call()
    call()  # as root first: lazy imports happen here, not in the child
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with os.fdopen(write_end, "w") as f:
                json.dump(call(), f)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and data, "the child as uid {} failed".format(uid)
    return json.loads(data)


@pytest.fixture
def guest_dir():
    """A directory the unprivileged user can reach (pytest's own tmp dirs are root's, 0700)."""
    import shutil
    import tempfile
    path = tempfile.mkdtemp(prefix="guestagent-guest-")
    os.chmod(path, 0o755)
    if os.geteuid() == 0:
        os.chown(path, 1000, 1000)
    try:
        yield pathlib.Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_check_files_catches_unreadable_secrets_and_unwritable_directories(guest_dir):
    # The files belong to the user that runs the agent, as on the router.
    tmp_path = guest_dir
    locked = tmp_path / "locked"
    locked.mkdir()
    path = sink_config(tmp_path, username="u", password_file=write(tmp_path / "pw", b"x", 0))
    text = open(path).read().replace(str(tmp_path / "state"), str(locked / "state"))
    open(path, "w").write(text)
    for item in (locked, tmp_path / "pw", tmp_path / "site.yaml"):
        if os.geteuid() == 0:
            os.chown(str(item), 1000, 1000)
    os.chmod(str(locked), 0o500)
    loaded = config.load(path)
    # Control: the same user reads its own readable secret and creates its state directory.
    good = sink_config(tmp_path, username="u", password_file=write(tmp_path / "pw2", b"x"))
    if os.geteuid() == 0:
        os.chown(str(tmp_path / "pw2"), 1000, 1000)
    loaded_good = config.load(good)
    assert as_guest_user(lambda: config.check_files(loaded_good)) == []
    try:
        problems = as_guest_user(lambda: config.check_files(loaded))
    finally:
        os.chmod(str(locked), 0o700)
    assert any("password_file: expected a readable file" in p for p in problems), problems
    assert any("agent.state_dir: expected a directory that can be created" in p
               for p in problems), problems


def test_check_files_catches_a_state_dir_below_a_file(tmp_path):
    (tmp_path / "flash").write_text("")
    path = tmp_path / "site.yaml"
    path.write_text("agent:\n  state_dir: '%s'\n" % (tmp_path / "flash" / "state"))
    problems = config.check_files(config.load(str(path)))
    assert len(problems) == 2, problems  # the state directory, and the journal below it
    assert problems[0].startswith(str(path) + ":2: agent.state_dir: expected a directory that "
                                  "exists or can be created")
    assert not (tmp_path / "flash" / "state").exists()


# --- Encoding: UTF-8 whatever the locale. ---

def test_config_is_read_as_utf8_and_non_utf8_is_refused_with_its_line(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_bytes(b"\xef\xbb\xbftargets:\n  - {host: 192.0.2.1, name: caf\xc3\xa9}\n")
    assert config.load(str(path)).targets[0].name == u"caf\u00e9"
    path.write_bytes(b"agent:\n  job: x\n  instance: caf\xe9\n")
    with pytest.raises(config.ConfigError) as info:
        config.load(str(path))
    assert info.value.problems == [
        "{}:3: not UTF-8: byte 0xe9 at column 16; save the file as UTF-8".format(path)]


def test_check_config_under_env_i_reads_utf8_and_refuses_latin1(tmp_path):
    # `env -i`: no LANG/LC_ALL, the C locale, as IOS starts the agent.
    import subprocess
    import sys
    env = {"PATH": "/usr/bin:/bin"}
    good = tmp_path / "good.yaml"
    good.write_bytes((u"agent: {state_dir: '%s'}\ntargets:\n  - {host: 127.0.0.1, name: "
                      u"caf\u00e9}\n" % (tmp_path / "state")).encode("utf-8"))
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"targets:\n  - {host: 127.0.0.1, name: caf\xe9}\n")

    def check(path, *args):
        return subprocess.run([sys.executable, "-m", "guestagent", "check-config", "-c",
                               str(path)] + list(args), env=env, cwd="/",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, errors="replace")

    proc = check(good)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    shown = json.loads(check(good, "--show").stdout)
    assert shown["targets"][0]["name"] == u"caf\u00e9"
    proc = check(bad)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "{}:2: not UTF-8: byte 0xe9".format(bad) in proc.stderr


def test_check_config_show_redacts_and_warns_without_targets(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "site.yaml"
    path.write_text("agent: {state_dir: '%s'}\nsinks:\n  pushgateway: {url: "
                    "'https://pgw.example.net', username: u, password: hunter2}\n"
                    % (tmp_path / "state"))
    proc = subprocess.run([sys.executable, "-m", "guestagent", "check-config", "-c", str(path),
                           "--show"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    assert "hunter2" not in proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["sinks"]["pushgateway"]["password"] == "<redacted>"
    assert proc.stderr == ("guestagent: warning: {}: targets: no test points configured; a "
                           "cycle measures nothing but the router\n".format(path))
    path.write_text("sinks:\n  pushgateway: {url: 'https://pgw.example.net', username: u, "
                    "password_file: '%s'}\n" % (tmp_path / "absent"))
    proc = subprocess.run([sys.executable, "-m", "guestagent", "check-config", "-c", str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == 2
    assert "{}:2: sinks.pushgateway.password_file: expected a readable file".format(path) \
        in proc.stderr


def host_corpus():
    import random
    rng = random.Random(12)
    alphabet = "0123456789abcdefABCDEF:.%xyz-_ |$"
    corpus = ["::ffff:1.2.3.4", "::1.2.3.4", "1::1.2.3.4", "fe80::1%1", "::ffff:01.2.3.4",
              "0.0.0.0", "00.0.0.0", "255.255.255.255", "256.1.1.1", "1:2:3:4:5:6:7:8",
              "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::2::3", ":1::", "1:2:3:4:5:6:1.2.3.4"]
    for _ in range(3000):
        corpus.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))))
    for _ in range(1000):
        parts = [rng.choice(["", "0", "00", "1", "01", "255", "256", "ffff", "fFfF", "12345"])
                 for _ in range(rng.randint(2, 9))]
        corpus.append(rng.choice([":", ".", "::"]).join(parts))
    return corpus


def test_hosts_parse_alike_on_the_other_python():
    # The suite runs on 3.6 and on current Python; compare this one's answers with the other's.
    import subprocess
    import sys
    other = ".venv" if sys.version_info[:2] == (3, 6) else ".venv36"
    python = os.path.join(ROOT, other, "bin", "python")
    if not os.path.exists(python):
        pytest.skip("no {} in the project".format(other))
    corpus = host_corpus()
    code = ("import json, sys\nfrom guestagent import iostokens\ncorpus = json.load(sys.stdin)\n"
            "print(json.dumps([[iostokens.is_host(h), iostokens.is_host(h, scope_ok=False), "
            "iostokens.ip_version(h, scope_ok=True)] for h in corpus]))\n")
    proc = subprocess.run([python, "-c", code], input=json.dumps(corpus), cwd=ROOT,
                          stdout=subprocess.PIPE, universal_newlines=True)
    from guestagent import iostokens
    ours = [[iostokens.is_host(h), iostokens.is_host(h, scope_ok=False),
             iostokens.ip_version(h, scope_ok=True)] for h in corpus]
    theirs = json.loads(proc.stdout)
    differ = [(h, a, b) for h, a, b in zip(corpus, ours, theirs) if a != b]
    assert differ == []
    assert sum(1 for a in ours if a[2]) > 50  # the corpus holds addresses, not only junk


# -- the parsed document kept between cycles ---------------------------------------------------

_LOAD = """
import json, sys
from guestagent import config
try:
    cfg = config.load(sys.argv[1])
    out = {"targets": [t.name for t in cfg.targets], "lines": cfg.lines}
except config.ConfigError as exc:
    out = {"problems": exc.problems}
out["yaml_imported"] = "yaml" in sys.modules
print(json.dumps(out))
"""


def load_in_process(path, runtime):
    """config.load(path) in a fresh process (as each cycle is), the cache in `runtime`."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", _LOAD, str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT, XDG_RUNTIME_DIR=str(runtime)))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_an_unchanged_config_is_checked_again_without_yaml(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("targets:\n  - {name: a, host: 127.0.0.1}\n  - {name: b, host: 127.0.0.2}\n")
    first = load_in_process(path, tmp_path)
    assert first["yaml_imported"] and first["targets"] == ["a", "b"]
    cached = config.document_cache_path(str(path)).replace(
        os.path.dirname(config.document_cache_path(str(path))), str(tmp_path))
    assert os.stat(cached).st_mode & 0o777 == 0o600
    again = load_in_process(path, tmp_path)
    assert not again["yaml_imported"]
    assert again["targets"] == first["targets"] and again["lines"] == first["lines"]
    # The schema still runs on the kept document: a changed file is read and checked anew, with
    # its own line numbers.
    path.write_text("targets:\n  - {name: a, host: 127.0.0.1}\n\n  - {name: b, host: 127.0.0.1,"
                    " count: 0}\n")
    changed = load_in_process(path, tmp_path)
    assert changed["yaml_imported"]
    assert changed["problems"] == ["{}:4: targets[1].count: expected a whole number >= 1 and "
                                   "<= 1000, got a number (0)".format(path)]
    assert not load_in_process(path, tmp_path)["yaml_imported"]  # its YAML was fine
    # A document YAML refuses, or with a key given twice, is never kept: read and refused again.
    path.write_text("targets: []\ntargets: []\n")
    for _ in range(2):
        twice = load_in_process(path, tmp_path)
        assert twice["yaml_imported"] and twice["problems"] == [
            "{}:2: targets: expected each key once, got it again (first at line 1; YAML keeps "
            "only the last)".format(path)]


def test_a_kept_document_that_does_not_match_is_not_used(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("targets: [{name: a, host: 127.0.0.1}]\n")
    load_in_process(path, tmp_path)
    cached = os.path.join(str(tmp_path), os.path.basename(config.document_cache_path(str(path))))
    with open(cached) as f:
        kept = json.load(f)
    # What is used is the kept checked config while its key holds; without one, the kept
    # document (checked again); neither when the file is not for this text and this agent.
    planted = json.loads(json.dumps(kept))
    planted["checked"]["config"]["targets"][0]["name"] = "planted"
    document_only = dict(kept)
    del document_only["checked"]
    document_only["data"] = json.loads(json.dumps(kept["data"]))
    document_only["data"]["targets"][0]["name"] = "document"
    stale = json.loads(json.dumps(planted))
    stale["checked"]["key"][2][0][1] += 1  # a schema source changed since
    for body, expected in ((planted, "planted"), (document_only, "document"), (stale, "a"),
                           ("not json", "a"), (dict(planted, text="targets: []\n"), "a"),
                           (dict(planted, key=[config.DOCUMENT_CACHE_FORMAT, "0.0.0"]), "a")):
        with open(cached, "w") as f:
            f.write(body if isinstance(body, str) else json.dumps(body))
        os.chmod(cached, 0o600)
        assert load_in_process(path, tmp_path)["targets"] == [expected]
    # Another user may not plant one: a kept document writable by others is ignored.
    with open(cached, "w") as f:
        f.write(json.dumps(planted))
    os.chmod(cached, 0o666)
    assert load_in_process(path, tmp_path)["targets"] == ["a"]


_LOAD_ALL = """
import json, sys
from guestagent import config
cfg = config.load(sys.argv[1])
print(json.dumps({"config": cfg, "keys": [list(cfg)] + [list(v) for v in cfg.values()
                                                         if isinstance(v, dict)],
                  "warnings": cfg.warnings, "lines": cfg.lines,
                  "schema_built": "guestagent.probes.icmp" in sys.modules}))
"""


def load_all_in_process(path, runtime, **env):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", _LOAD_ALL, str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT, XDG_RUNTIME_DIR=str(runtime),
                                   **env))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_an_unchanged_config_is_not_checked_again_and_reads_back_the_same(tmp_path):
    path = tmp_path / "site.yaml"
    with open(os.path.join(ROOT, "examples", "router.yaml")) as f:
        text = f.read()
    # With a warning (a VRF that Guest Shell's probes do not use) and the defaults of sections
    # not given, in their order.
    path.write_text(text + "\npath_discovery: {vrf: blue}\n" if "path_discovery:" not in text
                    else text.replace("path_discovery:", "path_discovery:\n  vrf: blue", 1))
    first = load_all_in_process(path, tmp_path)
    assert first["schema_built"] and first["warnings"]
    again = load_all_in_process(path, tmp_path)
    assert not again["schema_built"]
    for key in ("config", "keys", "warnings", "lines"):
        assert again[key] == first[key], key
    # The same as a check without any cache.
    fresh = config.parse(path.read_text(), str(path))
    assert again["config"] == json.loads(json.dumps(fresh))
    assert again["warnings"] == fresh.warnings


def test_a_kept_config_follows_the_environment_its_paths_expand(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("agent: {state_dir: $AGENT_TOP/state}\ntargets: [{host: 127.0.0.1}]\n")
    for top in ("/var/a", "/var/b", "/var/a"):
        out = load_all_in_process(path, tmp_path, AGENT_TOP=top)
        assert out["config"]["agent"]["state_dir"] == top + "/state"
        assert out["config"]["journal"]["dir"] == top + "/state/journal"
    # The environment unchanged: the kept config serves.
    assert not load_all_in_process(path, tmp_path, AGENT_TOP="/var/a")["schema_built"]


def test_schema_sources_name_every_module_that_shapes_the_checked_config():
    package = os.path.join(ROOT, "guestagent")
    users = set()
    for directory, _dirs, names in os.walk(package):
        for name in names:
            if name.endswith(".py"):
                with open(os.path.join(directory, name)) as f:
                    if "guestagent.schema import" in f.read():
                        users.add(os.path.relpath(os.path.join(directory, name), package))
    users.discard("cycle.py")  # takes Namespace only
    assert users <= set(config.SCHEMA_SOURCES)
    for name in config.SCHEMA_SOURCES:
        assert os.path.exists(os.path.join(package, name)), name


def test_a_document_json_cannot_hold_is_not_kept(tmp_path):
    # YAML makes a date of 2026-01-01 and an int of a bare key 1: JSON would give them back as
    # strings, so such a document is parsed every time.
    path = tmp_path / "site.yaml"
    path.write_text("targets: [{name: a, host: 127.0.0.1}]\nsla: {objectives: {1: 2026-01-01}}\n")
    first = load_in_process(path, tmp_path)
    assert load_in_process(path, tmp_path) == first and first["yaml_imported"]


def test_path_digest_is_sha1_so_runtime_file_names_stay_the_same():
    import hashlib
    for path in ("/bootflash/guest-share/guestagent/config.yaml", "/tmp/\u00e9t\u00e9.yaml", ""):
        assert runtimefiles.path_digest(path) == hashlib.sha1(path.encode("utf-8")).hexdigest()
    assert os.path.basename(config.document_cache_path("/etc/x.yaml")) == \
        "guestagent-{}.config.json".format(hashlib.sha1(b"/etc/x.yaml").hexdigest()[:16])
