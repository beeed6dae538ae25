"""Configuration: YAML read with `yaml.safe_load`, checked once at load against a typed schema.

Every problem is reported as `FILE:LINE: KEY.PATH: what was expected, what was found`, all at once.
Where no --config is given, the router's file under guest-share is used when present, else the
embedded default (simulated router, loopback targets, a local Pushgateway).
"""

import importlib
import os

from guestagent.schema import (LABEL, REDACTED, Bool, Field, Host, Int, ListOf, Namespace, Num,
                               Problems, Section, Str, Url, join, redact_url)

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


# Keys whose values are secrets: never shown (`check-config --show`, messages).
SECRET_KEYS = ("password", "bearer_token")
# The test point that path discovery adds (cycle.FIRST_HOP); SLA names may refer to it.
FIRST_HOP = "first-hop"

VRF_DOC = "a VRF name (one word of A-Z a-z 0-9 _ . : -, not starting with -, at most 32)"


class Path(Str):
    doc = "a file system path"

    def __init__(self, default=None, help="", nullable=False):
        Str.__init__(self, default, help, nullable, max_length=4096)

    def convert(self, value, path, problems):
        if isinstance(value, str) and not value.strip():
            return self.bad(value, path, problems, "a non-empty file system path")
        value = Str.convert(self, value, path, problems)
        if value is None:
            return None
        return os.path.expandvars(os.path.expanduser(value))


def Vrf(help=""):
    from guestagent import iostokens  # here, as in _check_together: a kept config needs none
    return Str(None, help, valid=(iostokens.is_vrf, VRF_DOC))


def _prober_options(kind_key="kind", default_kind="icmp"):
    """For a target: the options its prober declares (`count`, `timeout_s`, ...), all optional."""

    def extra(value, path, problems):
        from guestagent import probes
        kind = value.get(kind_key, default_kind)
        if not isinstance(kind, str) or kind not in probes.PROBERS:
            # The kind's own error says what is wrong; its options are not "unknown keys" too.
            return dict((k, Field(None)) for k in value)
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
        "name": Str(None, "test point name (a label on every metric); default: the host",
                    valid=LABEL),
        "host": Host(help="IP address or host name to probe"),
        "kind": Str("icmp", "prober", choices=sorted(probes.PROBERS)),
        "role": Str("target", "first-hop, isp-edge, target, dns, ... (a label)",
                    pattern=r"^[a-z][a-z0-9_-]*$"),
        "group": ListOf(Str(valid=LABEL), None, "named groups this test point belongs to",
                        single_ok=True),
        "via": Str("guestshell", "where the probe runs: Guest Shell itself, or IOS through the cli",
                   choices=("guestshell", "ios")),
        "vrf": Vrf("VRF for probes run via IOS"),
    }, extra=_prober_options())


def _http_sink_fields(url_help):
    return {
        "url": Url(help=url_help),
        "job": Str(None, "default: agent.job", valid=LABEL),
        "username": Str(None, "basic auth user", valid=(
            lambda text: LABEL[0](text) and ":" not in text,
            "a user name without `:` or spaces around it")),
        "password": Str(None, "basic auth password", secret=True),
        "password_file": Path(None, "file holding the basic auth password"),
        "bearer_token": Str(None, "", secret=True),
        "bearer_token_file": Path(None, ""),
        "ca_file": Path(None, "CA bundle for a private PKI"),
        "verify_tls": Bool(True, ""),
        "timeout_s": Num(5, "per request", above=0, maximum=300),
        "compress": Bool(True, "gzip request bodies (Content-Encoding: gzip)"),
    }


def schema():
    fields = {
        "agent": Section({
            "job": Str("guestagent", "Pushgateway job name", valid=LABEL),
            "instance": Str(None, "instance label; default: the router's hostname", valid=LABEL),
            "interval_s": Num(300, "seconds between timer cycles (the EEM timer)", above=0,
                              maximum=86400),
            "deadline_s": Num(14, "a cycle's time budget; ~70% of the EEM maxrun", above=0,
                              maximum=3600),
            "state_dir": Path("~/.local/state/guestagent", "state, lock and journal directory"),
        }, default={}),
        "device": Section({
            "kind": Str("auto", "onbox: the Guest Shell cli module; simulated: fixture files; "
                        "auto: onbox when `cli` imports, never simulated in Guest Shell",
                        choices=("auto", "onbox", "simulated")),
            "fixtures": Path(None, "directory of the simulated router's outputs; "
                             "default: the embedded IR1101"),
            "command_timeout_s": Num(8, "time allowed to one show command", above=0,
                                     maximum=600),
        }, default={}),
        "journal": Section({
            "dir": Path(None, "default: <state_dir>/journal"),
            "max_bytes": Int(1048576, "size at which the journal file is rotated", minimum=4096,
                             maximum=1 << 30),
            "keep_files": Int(1000, "rotated files kept at most (budget_bytes bounds them first)",
                              minimum=1, maximum=1000),
            "budget_bytes": Int(33554432, "bytes all journal files may take together; the "
                                "oldest go first", minimum=8192, maximum=1 << 34),
        }, default={}),
        "path_discovery": Section({
            "enabled": Bool(True, "run traceroute every cycle"),
            "toward": Str(None, "the anchor traced toward: a host, or a test point's name (its "
                          "host); default: the first target's host; options from "
                          "probes.traceroute"),
            "first_hop": Bool(True, "probe the first responding hop as test point `first-hop`"),
            "via": Str("guestshell", "", choices=("guestshell", "ios")),
            "vrf": Vrf("VRF for the IOS traceroute"),
        }, default={}),
        "probes": _probe_defaults_section(),
        "targets": ListOf(_target_section(), [], "test points"),
        "sinks": Section({
            "pushgateway": Section(dict(
                _http_sink_fields("Pushgateway base URL"),
                full_push_s=Num(3600, "a full PUT at least this often; between, only the "
                                "metric families that changed since the last accepted push are "
                                "POSTed (0: always PUT everything)", minimum=0, maximum=86400)),
                default=None),
            "victoriametrics": Section(dict(
                _http_sink_fields("VictoriaMetrics base URL (its import API takes timestamps)"),
                max_reports=Int(500, "reports sent in one cycle at most (a backlog drains over "
                                "several cycles)", minimum=1, maximum=100000),
                batch_reports=Int(50, "reports per HTTP request", minimum=1, maximum=10000),
                max_bytes=Int(65536, "request body bytes (as sent, compressed) in one cycle at "
                              "most: a fleet back from an outage does not flood the collector; "
                              "one report always goes", minimum=1024, maximum=1 << 30),
                format=Str("influx", "influx: line protocol to /write (one line per label "
                           "set, the smallest); prometheus: text format to "
                           "/api/v1/import/prometheus", choices=("influx", "prometheus"))),
                default=None),
        }, default={}),
    }
    for key, module in EXTENSION_SECTIONS.items():
        fields[key] = importlib.import_module(module).SCHEMA
    return Section(fields)


def _loader():
    import yaml
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line_index(root):
    """Map key paths to 1-based line numbers, from the YAML node tree; and the duplicate keys as
    (path, first line, second line)."""
    import yaml
    lines, duplicates, seen = {}, [], set()

    def walk(node, path):
        if id(node) in seen:  # an alias: walked once (`*a` repeated cannot blow up the walk)
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                sub = join(path, key_node.value)
                line = key_node.start_mark.line + 1
                if key_node.value in first and key_node.value != "<<":
                    duplicates.append((sub, first[key_node.value], line))
                else:
                    first[key_node.value] = line
                    lines[sub] = line
                walk(value_node, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = join(path, i)
                lines[sub] = item.start_mark.line + 1
                walk(item, sub)

    walk(root, "")
    return lines, duplicates


def _line_for(lines, path):
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def _yaml_problem(source, exc, text):
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = getattr(exc, "problem", None) or exc
    if mark is None and isinstance(getattr(exc, "position", None), int):
        # A character YAML does not allow (a NUL, a control character): the reader's position.
        line = text[:exc.position].count("\n") + 1
        character = getattr(exc, "character", None)  # an int (libyaml) or a str
        if isinstance(character, str) and character:
            character = ord(character[0])
        problem = "character {} is not allowed".format(
            "U+{:04X}".format(character) if isinstance(character, int) else "?")
    where = "{}:{}".format(source, line) if line else source
    return "{}: not valid YAML: {}".format(where, problem)


def parse(text, source="<config>", cache_path=None):
    """Check a YAML document; return the config Namespace or raise ConfigError.

    The returned config carries `warnings` (messages that do not stop a cycle) and `lines` (key
    path -> line) as attributes outside its keys. With `cache_path`, the document's data and
    lines, and once it passed the checks the checked config and its warnings, are kept there
    (`remembered_document`): while the text, the agent and what the checks read stay the same,
    neither YAML nor the schema runs again."""
    kept = remembered_document(cache_path, text) if cache_path else None
    if kept is None:
        data, lines = _yaml_document(text, source)
    else:
        data, lines = kept["data"], kept["lines"]
    key = _checked_key(source, data) if cache_path else None
    if kept is not None:
        config = _remembered_config(kept, key, lines)
        if config is not None:
            return config
    try:
        config = _checked(data, source, lines)
    except ConfigError:
        if cache_path and kept is None:  # the document is kept: its YAML was fine
            remember_document(cache_path, text, data, lines)
        raise
    if cache_path:
        checked = _storable(config)
        if kept is None or checked is not None:
            remember_document(cache_path, text, data, lines, checked and dict(
                key=key, config=checked, warnings=config.warnings))
    return config


def _checked(data, source, lines):
    problems, notes = Problems(), Problems()
    config = schema().check({} if data is None else data, "", problems)
    if config is not None:
        _check_together(config, problems, notes)
    if problems:
        raise ConfigError(source, _located(problems, lines, source))
    config.source = source
    object.__setattr__(config, "lines", lines)
    object.__setattr__(config, "warnings",
                       _warnings(config, source) + _located(notes, lines, source))
    return config


def _yaml_document(text, source):
    """(data, lines) of a YAML text; ConfigError for bad YAML and for a key given twice."""
    import yaml
    loader = _loader()(text)
    try:
        # One parse: the node tree gives the lines and the duplicate keys, then the data.
        root = loader.get_single_node()
        lines, duplicates = _line_index(root)
        if duplicates:
            raise ConfigError(source, [
                "{}:{}: {}: expected each key once, got it again (first at line {}; YAML keeps "
                "only the last)".format(source, second, path, first)
                for path, first, second in duplicates])
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [_yaml_problem(source, exc, text)])
    except RecursionError:
        raise ConfigError(source, ["{}: not valid YAML: nested too deeply".format(source)])
    finally:
        loader.dispose()
    return data, lines


# The parsed document of a config file, and the config checked from it, kept between cycles:
# importing PyYAML and parsing cost a cycle more than the rest of its start-up on the router's
# Python 3.6, and building the schema (which imports every prober) and checking a tenth of it.
# The file is written only when the text (or what the checks read) changed.
DOCUMENT_CACHE_FORMAT = 2
# The modules whose code makes the checked config from a document (a schema or a check); their
# size and time of change are part of the key of a kept checked config, so that an edited source
# tree (same version) checks again.
SCHEMA_SOURCES = ("config.py", "schema.py", "iostokens.py", "eem.py", "collectors/config.py",
                  "sla/config.py", "probes/__init__.py", "probes/icmp.py",
                  "probes/traceroute.py", "probes/dns.py", "probes/http.py",
                  "probes/throughput.py")


def document_cache_path(config_path):
    """Where the parsed document of `config_path` is kept: the runtime directory (as the early
    lock), one file per config path, readable by this user only."""
    from guestagent import runtimefiles
    digest = runtimefiles.path_digest(os.path.abspath(config_path))
    return runtimefiles.path("guestagent-{}.config.json".format(digest[:16]))


def _document_key():
    from guestagent import __version__
    return [DOCUMENT_CACHE_FORMAT, __version__]


def _checked_key(source, data):
    """What the checked config depends on besides the document: the source named in messages,
    the interpreter, the schema's code (SCHEMA_SOURCES) and, for every string that `~` or `$`
    would expand (Path), what it expands to here now (HOME, the user database, the
    environment)."""
    import sys
    package = os.path.dirname(os.path.abspath(__file__))
    stamps = []
    for name in SCHEMA_SOURCES:
        try:
            info = os.stat(os.path.join(package, name))
            stamps.append([name, info.st_mtime_ns, info.st_size])
        except OSError:
            stamps.append([name, None, None])
    expanded = []

    def walk(value):
        if isinstance(value, str):
            if "~" in value or "$" in value:
                expanded.append([value, os.path.expandvars(os.path.expanduser(value))])
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(data)
    return [source, sys.version, stamps, expanded]


def remembered_document(cache_path, text):
    """What is kept for exactly this text ({data, lines, checked?}), or None. A file that is not
    ours (another user's, writable by others, a link) or does not match is ignored."""
    from guestagent import jsontext, runtimefiles
    body = runtimefiles.read_private(cache_path, 4 * 1048576)
    if body is None:
        return None
    try:
        kept = jsontext.loads(body.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(kept, dict) or kept.get("key") != _document_key() or \
            kept.get("text") != text or not isinstance(kept.get("lines"), dict):
        return None
    return kept


def _remembered_config(kept, key, lines):
    """The checked config kept for this document when its key still holds, else None."""
    checked = kept.get("checked")
    if not isinstance(checked, dict) or checked.get("key") != key or \
            not isinstance(checked.get("config"), dict) or \
            not isinstance(checked.get("warnings"), list):
        return None
    config = _namespaces(checked["config"])
    object.__setattr__(config, "lines", lines)
    object.__setattr__(config, "warnings", checked["warnings"])
    return config


def _namespaces(value):
    if isinstance(value, dict):
        return Namespace((k, _namespaces(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_namespaces(item) for item in value]
    return value


def _storable(config):
    """The checked config when JSON gives it back as it is (every mapping a Namespace, which
    _namespaces makes again, or an empty default `{}`), else None: then only the document is
    kept."""
    def plain(value):
        if value is None or isinstance(value, (str, bool, int, float)):
            return True
        if isinstance(value, list):
            return all(plain(item) for item in value)
        if type(value) is Namespace or (type(value) is dict and not value):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return False
    return config if plain(config) else None


def _plain(value):
    """Whether JSON gives `value` back as it is (YAML also makes dates, bytes, sets, int keys)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


def remember_document(cache_path, text, data, lines, checked=None):
    """Keep (data, lines) for this text, and the checked config ({key, config, warnings}) when
    given; best effort (a cache that cannot be written is no cache)."""
    from guestagent import jsontext
    if not _plain(data):
        return
    kept = {"key": _document_key(), "text": text, "data": data, "lines": lines}
    if checked is not None:
        kept["checked"] = checked
    try:
        # Keys in their order: a config's mappings read back as they were checked.
        body = jsontext.dumps(kept).encode("utf-8")
    except (TypeError, ValueError):
        return
    from guestagent import runtimefiles
    runtimefiles.write_private(cache_path, body)


def _located(problems, lines, source):
    messages = []
    for path, message in problems.items:
        line = _line_for(lines, path)
        where = "{}:{}".format(source, line) if line else source
        messages.append("{}: {}: {}".format(where, path or "(top)", message))
    return messages


def _check_together(config, problems, notes=None):
    """Rules that span keys. Parts that failed their own check are None and skipped here;
    `notes` collects what only warrants a warning."""
    from guestagent import iostokens
    names = {}
    targets = config.targets or []
    for i, target in enumerate(targets):
        if target is None:
            continue
        where = join("targets", i)
        if not target.get("name"):
            target.name = target.get("host") or "targets[{}]".format(i)
        if target.name in names:
            problems.add(join(where, "name"),
                         "duplicate test point name {!r} (also targets[{}])".format(
                             target.name, names[target.name]))
        names[target.name] = i
        if target.get("via") == "ios":
            if target.get("kind") not in ("icmp",):
                problems.add(join(where, "via"),
                             "expected guestshell: only icmp test points run via IOS")
            host = target.get("host")
            if host and not iostokens.is_host(host, scope_ok=False):
                problems.add(join(where, "host"), "expected an IP address or a host name "
                             "without a scope id (IOS takes none), got {!r}".format(host))
    discovery = config.path_discovery
    if discovery is not None and discovery.toward is not None:
        by_name = dict((t.name, t) for t in targets if t is not None)
        if discovery.toward in by_name:
            discovery.toward = by_name[discovery.toward].host
        elif not iostokens.is_host(discovery.toward.strip(),
                                   scope_ok=discovery.via != "ios"):
            problems.add("path_discovery.toward", "expected an IP address, a host name or a "
                         "test point's name, got {!r}".format(discovery.toward[:60]))
        else:
            discovery.toward = discovery.toward.strip()
    sinks = config.sinks or {}
    for name in ("pushgateway", "victoriametrics"):
        sink = sinks.get(name)
        if not sink:
            continue
        if sink.password and sink.password_file:
            problems.add("sinks.{}.password_file".format(name),
                         "give password or password_file, not both")
        if (sink.password or sink.password_file) and not sink.username:
            problems.add("sinks.{}.username".format(name), "missing; a password needs a username")
        if sink.bearer_token and sink.bearer_token_file:
            problems.add("sinks.{}.bearer_token_file".format(name),
                         "give bearer_token or bearer_token_file, not both")
    # Without test points (a config that only reads a state's history, `sla report`), names
    # cannot be checked against anything: a warning then.
    _check_sla_names(config, set(names), problems if names or notes is None else notes)
    if (config.journal is not None and config.journal.dir is None and config.agent is not None
            and config.agent.state_dir is not None):
        config.journal.dir = os.path.join(config.agent.state_dir, "journal")


def _check_sla_names(config, names, problems):
    """`sla.targets` and `sla.groups.*.members` name test points that exist; a group without
    members is some test point's group or role."""
    sla = config.get("sla")
    if not sla or config.targets is None:
        return
    discovery = config.path_discovery
    if discovery is None or (discovery.enabled and discovery.first_hop):
        names = names | {FIRST_HOP}
    known = ", ".join(repr(n) for n in sorted(names)) or "none"
    for name in sorted(sla.get("targets") or {}):
        if name not in names:
            problems.add(join("sla.targets", name),
                         "expected the name of a test point ({}), got {!r}".format(known, name))
    labels = set()
    for target in config.targets:
        if target is not None:
            labels.update(target.get("group") or [])
            labels.add(target.get("role"))
    if discovery is None or (discovery.enabled and discovery.first_hop):
        labels.add(FIRST_HOP)
    for group_name, group in sorted((sla.get("groups") or {}).items()):
        if group is None:
            continue
        where = join("sla.groups", group_name)
        members = group.get("members")
        for i, member in enumerate(members or []):
            if member not in names:
                problems.add(join(join(where, "members"), i),
                             "expected the name of a test point ({}), got {!r}".format(
                                 known, member))
        if not members and group_name not in labels:
            problems.add(where, "expected members, or a group or role that some test point "
                         "has, got a group {!r} of no test point".format(group_name))


def _warnings(config, source):
    lines = getattr(config, "lines", {})
    out = []
    if not config.targets:
        out.append("{}: targets: no test points configured; a cycle measures nothing but the "
                   "router".format(source))
    unused = [join(join("targets", i), "vrf") for i, t in enumerate(config.targets)
              if t.get("vrf") and t.get("via") != "ios"]
    if config.path_discovery.vrf and config.path_discovery.via != "ios":
        unused.append("path_discovery.vrf")
    for path in unused:
        out.append("{}:{}: {}: used only via ios (Guest Shell's own probes take no "
                   "VRF)".format(source, _line_for(lines, path), path))
    return out


def check_files(config):
    """What the config names on disk and would fail later: secret and CA files that cannot be
    read or loaded, state and journal directories that cannot be created or written.
    Returns `FILE:LINE: key.path: ...` messages (empty: all fine). Nothing is created."""
    problems = Problems()
    sinks = config.sinks or {}
    for name in ("pushgateway", "victoriametrics"):
        sink = sinks.get(name)
        if not sink:
            continue
        for key in ("password_file", "bearer_token_file"):
            if sink.get(key):
                _check_secret_file(sink[key], "sinks.{}.{}".format(name, key), problems)
        if sink.get("ca_file"):
            _check_ca_file(sink.ca_file, "sinks.{}.ca_file".format(name), problems)
    for i, target in enumerate(config.targets or []):
        if target.get("ca_file"):
            _check_ca_file(target.ca_file, join(join("targets", i), "ca_file"), problems)
    for kind in ("http", "throughput"):
        section = (config.probes or {}).get(kind) or {}
        if section.get("ca_file"):
            _check_ca_file(section["ca_file"], "probes.{}.ca_file".format(kind), problems)
    _check_directory(config.agent.state_dir, "agent.state_dir", problems)
    _check_directory(config.journal.dir, "journal.dir" if "journal.dir" in config.lines
                     else "agent.state_dir", problems)
    fixtures = (config.device or {}).get("fixtures")
    if fixtures and not os.path.isdir(fixtures):
        problems.add("device.fixtures", "expected a directory, got {!r} (not one)".format(
            fixtures))
    return _located(problems, config.lines, config.source)


def _check_secret_file(path, key, problems):
    try:
        with open(path, "rb") as f:
            content = f.read(65537)
    except (IOError, OSError) as exc:
        problems.add(key, "expected a readable file, got {!r}: {}".format(
            path, exc.strerror or exc))
        return
    if not content.strip():
        problems.add(key, "expected a file holding the secret, got {!r}: empty".format(path))
    elif len(content) > 65536:
        problems.add(key, "expected a file holding the secret, got {!r}: larger than 64 KiB"
                     .format(path))


def _check_ca_file(path, key, problems):
    import ssl
    try:
        ssl.create_default_context(cafile=path)
    except (IOError, OSError, ssl.SSLError, ValueError) as exc:
        problems.add(key, "expected a CA bundle in PEM, got {!r}: {}".format(
            path, getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc))


def _check_directory(path, key, problems):
    """The directory exists and is writable, or can be created (its nearest existing parent
    is a writable directory)."""
    probe = os.path.abspath(path)
    while not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        problems.add(key, "expected a directory that exists or can be created, got {!r}: {} "
                     "is not a directory".format(path, probe))
    elif not os.access(probe, os.W_OK | os.X_OK):
        problems.add(key, "expected a directory that can be {}, got {!r}: {} is not "
                     "writable".format("written" if probe == os.path.abspath(path)
                                       else "created", path, probe))


def redacted(config):
    """A copy of the config for display: secrets replaced by <redacted>, URL credentials too."""
    def walk(value, key=None):
        if isinstance(value, dict):
            return dict((k, walk(v, k)) for k, v in value.items())
        if isinstance(value, list):
            return [walk(v) for v in value]
        if key in SECRET_KEYS and value is not None:
            return REDACTED
        if key == "url":
            return redact_url(value)
        return value
    return walk(config)


def default_path():
    """The config used when none is named: $GUESTAGENT_CONFIG, the router's, or the embedded."""
    env = os.environ.get("GUESTAGENT_CONFIG")
    if env:
        return env
    if os.path.exists(ROUTER_CONFIG):
        return ROUTER_CONFIG
    return EMBEDDED_DEFAULT


def read_text(path):
    """The file's text, decoded as UTF-8 whatever the locale (a BOM is allowed); ConfigError
    `FILE:LINE: not UTF-8 ...` or `FILE: cannot read ...`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (IOError, OSError) as exc:
        raise ConfigError(path, ["{}: cannot read: {}".format(path, exc.strerror or exc)])
    if data.startswith(b"\xef\xbb\xbf"):  # the BOM; not "utf-8-sig": its codec is 1 ms to load
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(path, ["{}:{}: not UTF-8: byte 0x{:02x} at column {}; save the file "
                                 "as UTF-8".format(path, line, data[exc.start], column)])


def load(path=None, files=False):
    """The checked config of `path` (default: default_path()); with `files`, also what it names on
    disk (check_files) as errors."""
    path = path or default_path()
    config = parse(read_text(path), path, cache_path=document_cache_path(path))
    if files:
        problems = check_files(config)
        if problems:
            raise ConfigError(path, problems)
    return config


def target_options(config, target):
    """A target's prober options: its own values over `probes.<kind>` defaults."""
    merged = dict(config.probes[target.kind])
    for key in merged:
        if target.get(key) is not None:
            merged[key] = target[key]
    return Namespace(merged)
