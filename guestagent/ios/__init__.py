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
}


def kinds():
    return sorted(PARSERS)


def parser(kind):
    """The parse function for a kind; KeyError for an unknown kind."""
    return importlib.import_module(PARSERS[kind]).parse


def describe(kind):
    module = importlib.import_module(PARSERS[kind])
    return getattr(module, "COMMAND", None) or (module.__doc__ or "").strip().splitlines()[0]
