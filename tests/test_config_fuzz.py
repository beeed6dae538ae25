"""Config-value fuzz: every key of the schema (walked from the schema itself, every prober's options
included) gets wrong values of every type, and a duplicate of itself. Each config either loads
cleanly, and then holds only values that are safe to use (finite numbers, IOS commands that build,
no secret shown), or is refused with `FILE:LINE: key.path: ...` messages. Never a traceback.

The figures (tried / refused / loaded / tracebacks) are printed; a few cases also run through the
`check-config` command in a subprocess.
"""

import copy
import json
import math
import os
import re
import subprocess
import sys

import yaml

from guestagent import config, probes
from guestagent.probes import ios_ping, ios_traceroute
from guestagent.schema import ListOf, Section
from guestagent.sla.config import MapOf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "MARK-s3cr3t"
SOURCE = "site.yaml"
LOCATED = re.compile(r"^site\.yaml:\d+: \S")

# Documentation addresses only (never contacted: configs are parsed, not run).
BASE = {
    "agent": {"job": "guestagent", "instance": "r1", "interval_s": 300, "deadline_s": 14,
              "state_dir": "/nonexistent-fuzz/state"},
    "device": {"kind": "simulated", "command_timeout_s": 8},
    "journal": {"dir": "/nonexistent-fuzz/journal", "max_bytes": 1048576, "keep_files": 5},
    "path_discovery": {"enabled": True, "toward": "192.0.2.1", "first_hop": True, "via": "ios",
                       "vrf": "MGMT"},
    "probes": {"concurrency": 8},
    "targets": [
        {"name": "t-icmp", "host": "192.0.2.1", "kind": "icmp", "role": "isp-edge",
         "group": ["g1"], "via": "ios", "vrf": "MGMT"},
        {"name": "t-dns", "host": "192.0.2.53", "kind": "dns", "role": "dns"},
        {"name": "t-http", "host": "portal.example.net", "kind": "http"},
        {"name": "t-throughput", "host": "speed.example.net", "kind": "throughput"},
        {"name": "t-traceroute", "host": "2001:db8::1", "kind": "traceroute"},
    ],
    "sinks": {
        "pushgateway": {"url": "https://pgw.example.net:9091", "username": "fleet",
                        "password": SECRET},
        "victoriametrics": {"url": "https://vm.example.net:8428", "bearer_token": SECRET},
    },
    "sla": {"targets": {"t-icmp": {"rtt_max_ms": 150}},
            "groups": {"g1": {"members": ["t-icmp"], "mode": "any"}}},
    "router": {"ipsla": {"operations": [10]}, "cellular": {"slots": ["0/1/0"]},
               "gps": {"slot": "0/1/0"}, "interfaces": {"names": ["Cellular0/1/0"]},
               "location": {"latitude": 44.4, "longitude": 8.9}},
    "eem": {"prefix": "QOE"},
}

WRONG = [
    None, "", " ", "x", True, False, 0, -1, -0.5, 1.5, 7, 65536,
    float("nan"), float("inf"), float("-inf"), 1e300, -1e300, 10 ** 400, 2 ** 63,
    [], ["x"], [None], [[1]], {}, {"a": 1}, {"host": "192.0.2.9"},
    "a" * 5000, "\u00e9\u2713", "x\x00y", "a\nb", "a\tb", "a b",
    "X | redirect bootflash:x", "$(reboot)", "-x", "--help", "`id`", "a;b", "fe80::1%x y",
    "fe80::1%eth0", "010.1.1.1", "1.2.3.4 source Gi0/0/0 repeat 100000", "../../etc/passwd",
    "http://u:p@host/", "https://pgw.example.net", "GigabitEthernet0/0/0", "0/1/0",
    "%s%s%n", "{bytes}", "\ufeff", "\u202e", ".nan", "1e300",
]


def walk(field, path):
    """(path, field) for every field reachable in a document, containers included."""
    yield path, field
    if isinstance(field, Section):
        for key in sorted(field.fields):
            for item in walk(field.fields[key], path + (key,)):
                yield item
    elif isinstance(field, ListOf):
        for item in walk(field.item, path + (0,)):
            yield item
    elif isinstance(field, MapOf):
        name = {"targets": "t-icmp", "groups": "g1"}.get(path[-1], "k")
        for item in walk(field.item, path + (name,)):
            yield item


def key_paths():
    """Every key path of the schema, and of each target with each prober's options."""
    paths = []
    for path, _ in walk(config.schema(), ()):
        if path[:1] != ("targets",) or len(path) < 2:
            paths.append(path)
    for index, target in enumerate(BASE["targets"]):
        fields = set(config._target_section().fields) | set(
            probes.options(target["kind"]).fields)
        for key in sorted(fields):
            paths.append(("targets", index, key))
    return [p for p in paths if p]


def base_for(path):
    """The part of BASE that a key needs: its own top-level section, and the test points that
    names refer to (a smaller document keeps the fuzz fast)."""
    return copy.deepcopy(dict((key, BASE[key]) for key in (path[0], "targets") if key in BASE))


def with_value(path, value):
    doc = base_for(path)
    node = doc
    for key in path[:-1]:
        if isinstance(node, dict):
            if not isinstance(node.get(key), (dict, list)):
                node[key] = {}
            node = node[key]
        else:
            node = node[key]
    node[path[-1]] = value
    return doc


def dump(doc):
    return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                     default_flow_style=False, allow_unicode=True)


def duplicated(path):
    """The base document with the key at `path` written twice in its mapping."""
    doc = base_for(path)
    node = doc
    for key in path[:-1]:
        if isinstance(node, dict) and not isinstance(node.get(key), (dict, list)):
            node[key] = {}
        node = node[key]
    key = path[-1]
    node["DUPLICATE-" + str(key)] = node.get(key, 1) if isinstance(node, dict) else 1
    node.setdefault(key, 1)
    return dump(doc).replace("DUPLICATE-" + str(key) + ":", str(key) + ":")


def numbers_of(value):
    if isinstance(value, dict):
        for v in value.values():
            for n in numbers_of(v):
                yield n
    elif isinstance(value, list):
        for v in value:
            for n in numbers_of(v):
                yield n
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


# Every IOS command a loaded config can produce: words of IOS's token characters, one space apart,
# none starting with `-` (an option) and no `|` (a pipe to `redirect`, `tee`, ...).
IOS_COMMAND = re.compile(r"[A-Za-z0-9_.:/][A-Za-z0-9_.:/-]*( [A-Za-z0-9_.:/][A-Za-z0-9_.:/-]*)*\Z")


class RecordingRouter(object):
    """Takes commands as the router's cli would and answers nothing (IOS's empty output)."""

    def __init__(self):
        self.commands = []

    def execute(self, command, timeout_s=None):
        self.commands.append(command)
        return ""


def ios_commands(cfg):
    """The commands the config's IOS probes and router collectors build."""
    from guestagent.collectors import cellular, ipsla
    from guestagent.deadline import Deadline
    commands = []
    for target in cfg.targets:
        if target.via == "ios":
            commands.append(ios_ping.command(target.host, config.target_options(cfg, target),
                                             target.vrf))
    discovery = cfg.path_discovery
    toward = discovery.toward or (cfg.targets[0].host if cfg.targets else None)
    if discovery.enabled and discovery.via == "ios" and toward:
        commands.append(ios_traceroute.command(toward, cfg.probes.traceroute, discovery.vrf))
    router = RecordingRouter()
    cellular.collect(router, cfg, Deadline(5))
    ipsla.collect(router, cfg, Deadline(5))
    # location.py and doctor ask `show cellular <router.gps.slot> gps`.
    router.commands.append("show cellular {} gps".format(cfg.router.gps.slot))
    return commands + router.commands


def check_loaded(cfg):
    """What a config that loaded must hold; raises AssertionError or any error as a failure."""
    for number in numbers_of(cfg):
        assert math.isfinite(number) and abs(number) <= 1e12, number
    shown = json.dumps(config.redacted(cfg), sort_keys=True, default=str)
    assert SECRET not in shown
    for command in ios_commands(cfg):
        assert IOS_COMMAND.match(command), command
    for message in config.check_files(cfg):
        assert LOCATED.match(message), message


def attempt(text, figures, failures):
    figures["tried"] += 1
    try:
        cfg = config.parse(text, SOURCE)
    except config.ConfigError as exc:
        figures["exit-2"] += 1
        bad = [m for m in exc.problems if not LOCATED.match(m) or SECRET in m]
        if bad or not exc.problems:
            figures["unlocated"] += 1
            failures.append((text[:300], bad or ["(no message)"]))
        return
    except Exception as exc:  # the fuzz's whole point: count, do not stop
        figures["tracebacks"] += 1
        failures.append((text[:300], ["{}: {}".format(type(exc).__name__, exc)]))
        return
    try:
        check_loaded(cfg)
    except Exception as exc:
        figures["tracebacks"] += 1
        failures.append((text[:300], ["after load: {}: {!r}".format(type(exc).__name__, exc)]))
        return
    figures["loaded"] += 1


def test_every_key_with_wrong_values_is_refused_with_a_line_or_loads_safely(capsys):
    assert config.parse(dump(BASE), SOURCE)  # the base itself is valid
    figures = dict.fromkeys(("tried", "exit-2", "loaded", "tracebacks", "unlocated"), 0)
    failures = []
    paths = key_paths()
    duplicates_refused = 0
    keys = [p for p in paths if isinstance(p[-1], str)]
    for path in paths:
        for value in WRONG:
            attempt(dump(with_value(path, value)), figures, failures)
    for path in keys:
        before = figures["exit-2"]
        attempt(duplicated(path), figures, failures)
        duplicates_refused += figures["exit-2"] - before
    with capsys.disabled():
        sys.stdout.write("\nconfig fuzz: {} keys; tried {} / exit-2 {} / loaded {} / tracebacks "
                         "{} / unlocated {}; duplicate keys refused {} of {}\n".format(
                             len(paths), figures["tried"], figures["exit-2"], figures["loaded"],
                             figures["tracebacks"], figures["unlocated"], duplicates_refused,
                             len(keys)))
    assert len(paths) > 150
    assert not failures, "\n".join("{!r}\n  -> {}".format(t, m) for t, m in failures[:10])
    assert figures["tracebacks"] == 0 and duplicates_refused == len(keys)


def run_check_config(tmp_path, name, text, *args):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # like `env -i`: C locale
    return subprocess.run(
        [sys.executable, "-m", "guestagent", "check-config", "--config", str(path)] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
        cwd=ROOT)


def test_check_config_refuses_bad_values_with_exit_2_and_no_traceback(tmp_path):
    cases = {
        "nan.yaml": "sla:\n  loss_max: .nan\n",
        "keep.yaml": "journal:\n  keep_files: 1e21\n",
        "dup.yaml": "sinks:\n  pushgateway: {url: 'http://127.0.0.1:9091'}\nsinks: {}\n",
        "kind.yaml": "targets:\n  - {host: 127.0.0.1, kind: [icmp], count: 3}\n",
        "vrf.yaml": "targets:\n  - {host: 127.0.0.1, via: ios, vrf: 'MGMT | redirect x'}\n",
        "creds.yaml": "sinks:\n  pushgateway: {url: 'http://u:%s@127.0.0.1:9091'}\n" % SECRET,
        "latin1.yaml": "targets:\n  - {host: 127.0.0.1, name: caf\xe9}\n".encode("latin-1"),
    }
    for name, text in sorted(cases.items()):
        proc = run_check_config(tmp_path, name, text)
        assert proc.returncode == 2, (name, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and SECRET not in proc.stderr + proc.stdout, name
        assert re.search(r"^  {}:\d+: ".format(re.escape(str(tmp_path / name))), proc.stderr,
                         re.M), (name, proc.stderr)
