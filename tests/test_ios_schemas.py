"""Every IOS parser's result on every fixture of its command conforms to the parser's SCHEMA, and
every real fixture of a supported command is recognized.

SCHEMA notation: a type; a tuple of types (None allowed as a member); a dict of keys (a single
`<name>` key means a mapping of any keys to that schema); a one-item list for a list of items.
"""

import glob
import os

import pytest

from guestagent import ios
from tests.conftest import FIXTURES, ROOT

# Fixture directory -> parser kind.
SUPPORTED = {
    "show_ip_sla_statistics": "show-ip-sla-statistics",
    "show_ip_sla_statistics_details": "show-ip-sla-statistics-details",
    "show_ip_sla_summary": "show-ip-sla-summary",
    "show_ip_sla_configuration": "show-ip-sla-configuration",
    "show_track": "show-track",
    "show_cellular_gps": "show-cellular-gps",
    "show_cellular_radio": "show-cellular-radio",
    "show_cellular_hardware": "show-cellular-hardware",
    "ios_ping": "ios-ping",
    "ios_ping_mpls": "ios-ping",
    "ios_traceroute": "ios-traceroute",
    "ios_traceroute_mpls": "ios-traceroute",
    "show_version": "show-version",
    "show_interfaces": "show-interfaces",
    "show_cellular_network": "show-cellular-network",
}

EMBEDDED = {
    "show_version": "show-version",
    "show_interfaces": "show-interfaces",
    "show_ip_sla_statistics": "show-ip-sla-statistics",
    "show_ip_sla_statistics_details": "show-ip-sla-statistics-details",
    "show_ip_sla_configuration": "show-ip-sla-configuration",
    "show_ip_sla_summary": "show-ip-sla-summary",
    "show_track": "show-track",
    "show_cellular_0-1-0_gps": "show-cellular-gps",
    "show_cellular_0-1-0_radio": "show-cellular-radio",
    "show_cellular_0-1-0_network": "show-cellular-network",
    "show_cellular_0-1-0_hardware": "show-cellular-hardware",
}


def fixture_files():
    out = []
    for directory, kind in sorted(SUPPORTED.items()):
        for path in sorted(glob.glob(os.path.join(FIXTURES, directory, "*.txt"))):
            out.append((kind, path))
    return out


def embedded_files():
    from guestagent.device import EMBEDDED_FIXTURES
    out = []
    for path in sorted(glob.glob(os.path.join(EMBEDDED_FIXTURES, "*.txt"))):
        stem = os.path.basename(path).split("__")[0]
        out.append((EMBEDDED[stem], path))
    return out


def conforms(value, schema, where="result"):
    """A list of problems (empty when the value fits the schema)."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return ["{}: expected a mapping, got {!r}".format(where, value)]
        problems = []
        wildcard = [k for k in schema if k.startswith("<")]
        for key, item in value.items():
            if key in schema:
                problems += conforms(item, schema[key], "{}.{}".format(where, key))
            elif len(schema) == 1 and wildcard:
                problems += conforms(item, schema[wildcard[0]], "{}[{}]".format(where, key))
            else:
                problems.append("{}.{}: not in SCHEMA".format(where, key))
        return problems
    if isinstance(schema, list):
        if not isinstance(value, list):
            return ["{}: expected a list, got {!r}".format(where, value)]
        problems = []
        for i, item in enumerate(value):
            problems += conforms(item, schema[0], "{}[{}]".format(where, i))
        return problems
    types = schema if isinstance(schema, tuple) else (schema,)
    if value is None:
        return [] if None in types else ["{}: None not allowed".format(where)]
    real = tuple(t for t in types if t is not None)
    if isinstance(value, bool) and bool not in real:
        return ["{}: a bool, expected {}".format(where, real)]
    if not isinstance(value, real):
        return ["{}: {!r} is not {}".format(where, value, real)]
    return []


def test_every_supported_real_directory_was_copied():
    real = os.path.join(ROOT, "..", "shared", "fixtures-real")
    if not os.path.isdir(real):
        pytest.skip("the shared collection of real output is not on this machine")
    for directory in SUPPORTED:
        wanted = set(os.listdir(os.path.join(real, directory)))
        assert wanted <= set(os.listdir(os.path.join(FIXTURES, directory))), directory


@pytest.mark.parametrize("kind,path", fixture_files() + embedded_files(),
                         ids=lambda v: os.path.basename(v) if "/" in str(v) else v)
def test_result_is_recognized_and_conforms_to_schema(kind, path):
    import importlib
    module = importlib.import_module(ios.PARSERS[kind])
    with open(path) as f:
        result = module.parse(f.read())
    assert result["recognized"] is True
    assert conforms(result, module.SCHEMA) == []


@pytest.mark.parametrize("kind", sorted(k for k in ios.PARSERS if not k.startswith("linux-")))
def test_every_ios_parser_declares_command_and_schema_and_rejects_foreign_text(kind):
    import importlib
    module = importlib.import_module(ios.PARSERS[kind])
    assert module.COMMAND and isinstance(module.SCHEMA, dict)
    assert module.SCHEMA["recognized"] is bool
    for text in ("", None, "% Invalid input detected at '^' marker.", "router#", 42, b"\xff\xfe"):
        result = module.parse(text)
        assert result["recognized"] is False, (kind, text)


def test_docs_list_every_parser_kind():
    with open(os.path.join(os.path.dirname(FIXTURES), "docs", "parsers.md")) as f:
        text = f.read()
    for kind in ios.PARSERS:
        if not kind.startswith("linux-"):
            assert "## `{}`".format(kind) in text, kind
