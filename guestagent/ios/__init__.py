"""Parsers of IOS show commands: pure functions `text -> dict`, one module per command.

In the manner of genieparser: each module has `COMMAND` (the show command, with `{slot}`-style
placeholders where it takes arguments), `SCHEMA` (a description of the result's keys) and
`parse(text) -> dict`. A parser never raises on odd text: unknown lines are skipped, missing fields
are absent, and the result's `recognized` is False when the text did not look like the command.

`PARSERS` maps a kind (as in `guestagent parse KIND`) to its module; modules load on demand.
"""

import importlib

PARSERS = {
    # Linux tools the probes run (their parsers live with the probes).
    "linux-ping": "guestagent.probes.icmp_text",
    "linux-traceroute": "guestagent.probes.traceroute",
    # IOS show commands and IOS's own ping/traceroute.
    "show-ip-sla-statistics": "guestagent.ios.ip_sla_statistics",
    "show-ip-sla-statistics-details": "guestagent.ios.ip_sla_statistics_details",
    "show-ip-sla-summary": "guestagent.ios.ip_sla_summary",
    "show-ip-sla-configuration": "guestagent.ios.ip_sla_configuration",
    "show-track": "guestagent.ios.track",
    "show-cellular-gps": "guestagent.ios.cellular_gps",
    "show-cellular-radio": "guestagent.ios.cellular_radio",
    "show-cellular-network": "guestagent.ios.cellular_network",
    "show-cellular-hardware": "guestagent.ios.cellular_hardware",
    "show-version": "guestagent.ios.version",
    "show-interfaces": "guestagent.ios.interfaces",
    "ios-ping": "guestagent.ios.ping",
    "ios-traceroute": "guestagent.ios.traceroute",
    "nmea": "guestagent.ios.nmea",
}


def kinds():
    return sorted(PARSERS)


def parser(kind):
    """The parse function for a kind; KeyError for an unknown kind."""
    return importlib.import_module(PARSERS[kind]).parse


def describe(kind):
    module = importlib.import_module(PARSERS[kind])
    return getattr(module, "COMMAND", None) or (module.__doc__ or "").strip().splitlines()[0]
