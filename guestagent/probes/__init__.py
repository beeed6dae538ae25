"""Probers, one module per kind, in the manner of blackbox_exporter's `prober/`.

Each module declares
- `OPTIONS`: a `schema.Section` of its options (validated at config load, defaults under
  `probes.<kind>`, overridable per target);
- `probe(target, options, deadline) -> dict`: one sample of one test point, never raising for
  network trouble; a sample the agent itself could not take has `error` set (a measurement error,
  excluded from availability), the network's failures show in the sample's values;
- `metrics(sample, out)`: the sample as metrics (`out` is a `metrics.MetricSet`).
Modules import their heavy libraries inside `probe()`, so loading the config stays cheap.
"""

import importlib

PROBERS = {
    "icmp": "guestagent.probes.icmp",
    "traceroute": "guestagent.probes.traceroute",
    "dns": "guestagent.probes.dns",
    "http": "guestagent.probes.http",
    "throughput": "guestagent.probes.throughput",
}


def module(kind):
    return importlib.import_module(PROBERS[kind])


def options(kind):
    return module(kind).OPTIONS
