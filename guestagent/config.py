"""Configuration: YAML read with `yaml.safe_load`, checked once at load against a typed schema.

Every problem is reported as `FILE:LINE: KEY.PATH: what was expected, what was found`, all at once.
Where no --config is given, the router's file under guest-share is used when present, else the
embedded default (simulated router, loopback targets, a local Pushgateway).
"""

import importlib
import os

from guestagent.schema import (Bool, Field, Host, Int, ListOf, Namespace, Num, Problems, Section,
                               Str, Url, join)

ROUTER_CONFIG = "/bootflash/guest-share/guestagent/config.yaml"
EMBEDDED_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "default.yaml")

# Sections that later parts of the agent own; each module exposes SCHEMA (a Section).
# Imported at load so that their keys are validated like the rest.
EXTENSION_SECTIONS = {}
EXTENSION_SECTIONS["sla"] = "guestagent.sla.config"
EXTENSION_SECTIONS["router"] = "guestagent.collectors.config"
EXTENSION_SECTIONS["eem"] = "guestagent.eem"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one message per problem."""

    def __init__(self, source, problems):
        self.source = source
        self.problems = list(problems)
        Exception.__init__(self, "\n".join(self.problems))


class Path(Str):
    doc = "a file system path"

    def convert(self, value, path, problems):
        value = Str.convert(self, value, path, problems)
        if value is None:
            return None
        return os.path.expandvars(os.path.expanduser(value))


def _prober_options(kind_key="kind", default_kind="icmp"):
    """For a target: the options its prober declares (`count`, `timeout_s`, ...), all optional."""

    def extra(value, path, problems):
        from guestagent import probes
        kind = value.get(kind_key, default_kind)
        if kind not in probes.PROBERS:
            return {}
        options = probes.options(kind)
        # On a target every option is optional: absent ones come from `probes.<kind>`.
        return dict((k, _optional(f)) for k, f in options.fields.items())

    return extra


def _optional(field):
    import copy
    f = copy.copy(field)
    f.default = None
    f.nullable = True
    return f


def _probe_defaults_section():
    from guestagent import probes
    import copy
    fields = {}
    for kind in sorted(probes.PROBERS):
        fields[kind] = copy.copy(probes.options(kind))
        fields[kind].default = {}
    fields["concurrency"] = Int(64, "test points probed at once", minimum=1, maximum=256)
    return Section(fields, default={})


def _target_section():
    from guestagent import probes
    return Section({
        "name": Str(None, "test point name (a label on every metric); default: the host"),
        "host": Host(help="IP address or host name to probe"),
        "kind": Str("icmp", "prober", choices=sorted(probes.PROBERS)),
        "role": Str("target", "first-hop, isp-edge, target, dns, ... (a label)",
                    pattern=r"^[a-z][a-z0-9_-]*$"),
        "group": ListOf(Str(), None, "named groups this test point belongs to", single_ok=True),
        "via": Str("guestshell", "where the probe runs: Guest Shell itself, or IOS through the cli",
                   choices=("guestshell", "ios")),
        "vrf": Str(None, "VRF for probes run via IOS"),
    }, extra=_prober_options())


def _http_sink_fields(url_help):
    return {
        "url": Url(help=url_help),
        "job": Str(None, "default: agent.job"),
        "username": Str(None, "basic auth user"),
        "password": Str(None, "basic auth password"),
        "password_file": Path(None, "file holding the basic auth password"),
        "bearer_token": Str(None, ""),
        "bearer_token_file": Path(None, ""),
        "ca_file": Path(None, "CA bundle for a private PKI"),
        "verify_tls": Bool(True, ""),
        "timeout_s": Num(5, "per request", above=0),
    }


def schema():
    fields = {
        "agent": Section({
            "job": Str("guestagent", "Pushgateway job name"),
            "instance": Str(None, "instance label; default: the router's hostname"),
            "interval_s": Num(300, "seconds between timer cycles (the EEM timer)", above=0),
            "deadline_s": Num(14, "a cycle's time budget; ~70% of the EEM maxrun", above=0),
            "state_dir": Path("~/.local/state/guestagent", "state, lock and journal directory"),
        }, default={}),
        "device": Section({
            "kind": Str("auto", "onbox: the Guest Shell cli module; simulated: fixture files; "
                        "auto: onbox when `cli` imports, never simulated in Guest Shell",
                        choices=("auto", "onbox", "simulated")),
            "fixtures": Path(None, "directory of the simulated router's outputs; "
                             "default: the embedded IR1101"),
            "command_timeout_s": Num(8, "time allowed to one show command", above=0),
        }, default={}),
        "journal": Section({
            "dir": Path(None, "default: <state_dir>/journal"),
            "max_bytes": Int(1048576, "size at which the journal file is rotated", minimum=4096),
            "keep_files": Int(5, "rotated files kept", minimum=1),
        }, default={}),
        "path_discovery": Section({
            "enabled": Bool(True, "run traceroute every cycle"),
            "toward": Host(None, "the anchor traced toward; default: the first target's host; "
                           "options from probes.traceroute"),
            "first_hop": Bool(True, "probe the first responding hop as test point `first-hop`"),
            "via": Str("guestshell", "", choices=("guestshell", "ios")),
            "vrf": Str(None, "VRF for the IOS traceroute"),
        }, default={}),
        "probes": _probe_defaults_section(),
        "targets": ListOf(_target_section(), [], "test points"),
        "sinks": Section({
            "pushgateway": Section(_http_sink_fields("Pushgateway base URL"), default=None),
            "victoriametrics": Section(dict(
                _http_sink_fields("VictoriaMetrics base URL (its import API takes timestamps)"),
                max_reports=Int(500, "reports sent in one cycle at most (a backlog drains over "
                                "several cycles)", minimum=1),
                batch_reports=Int(50, "reports per HTTP request", minimum=1)), default=None),
        }, default={}),
    }
    for key, module in EXTENSION_SECTIONS.items():
        fields[key] = importlib.import_module(module).SCHEMA
    return Section(fields)


def _line_index(text):
    """Map key paths to 1-based line numbers, from the YAML node tree."""
    import yaml
    lines = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                sub = join(path, key_node.value)
                lines[sub] = key_node.start_mark.line + 1
                walk(value_node, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = join(path, i)
                lines[sub] = item.start_mark.line + 1
                walk(item, sub)

    try:
        walk(yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), "")
    except yaml.YAMLError:
        pass
    return lines


def _line_for(lines, path):
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def parse(text, source="<config>"):
    """Check a YAML document; return the config Namespace or raise ConfigError."""
    import yaml
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = "{}:{}".format(source, mark.line + 1) if mark else source
        raise ConfigError(source, ["{}: not valid YAML: {}".format(
            where, getattr(exc, "problem", None) or exc)])
    if data is None:
        data = {}
    problems = Problems()
    config = schema().check(data, "", problems)
    if config is not None:
        _check_together(config, problems)
    if problems:
        lines = _line_index(text)
        messages = []
        for path, message in problems.items:
            line = _line_for(lines, path)
            where = "{}:{}".format(source, line) if line else source
            messages.append("{}: {}: {}".format(where, path or "(top)", message))
        raise ConfigError(source, messages)
    config.source = source
    return config


def _check_together(config, problems):
    """Rules that span keys."""
    names = {}
    for i, target in enumerate(config.targets):
        if not target.name:
            target.name = target.get("host") or "targets[{}]".format(i)
        if target.name in names:
            problems.add(join(join("targets", i), "name"),
                         "duplicate test point name {!r} (also targets[{}])".format(
                             target.name, names[target.name]))
        names[target.name] = i
        if target.via == "ios" and target.kind not in ("icmp",):
            problems.add(join(join("targets", i), "via"),
                         "expected guestshell: only icmp test points run via IOS")
    for name in ("pushgateway", "victoriametrics"):
        sink = config.sinks[name]
        if not sink:
            continue
        if sink.password and sink.password_file:
            problems.add("sinks.{}.password_file".format(name),
                         "give password or password_file, not both")
        if (sink.password or sink.password_file) and not sink.username:
            problems.add("sinks.{}.username".format(name), "missing; a password needs a username")
    if config.journal.dir is None:
        config.journal.dir = os.path.join(config.agent.state_dir, "journal")


def default_path():
    """The config used when none is named: $GUESTAGENT_CONFIG, the router's, or the embedded."""
    env = os.environ.get("GUESTAGENT_CONFIG")
    if env:
        return env
    if os.path.exists(ROUTER_CONFIG):
        return ROUTER_CONFIG
    return EMBEDDED_DEFAULT


def load(path=None):
    path = path or default_path()
    try:
        with open(path) as f:
            text = f.read()
    except (IOError, OSError) as exc:
        raise ConfigError(path, ["{}: cannot read: {}".format(path, exc.strerror or exc)])
    return parse(text, path)


def target_options(config, target):
    """A target's prober options: its own values over `probes.<kind>` defaults."""
    merged = dict(config.probes[target.kind])
    for key in merged:
        if target.get(key) is not None:
            merged[key] = target[key]
    return Namespace(merged)
