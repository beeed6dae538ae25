"""The metrics of one cycle, collected as plain data and rendered by prometheus_client.

Modules add samples with `gauge()`/`counter()`; `render()` hands them to prometheus_client's
exposition (imported only then, to keep start-up light). Names follow Prometheus conventions:
`guestagent_` prefix, base units (seconds, ratios 0-1), `_total` for counters; every name is
listed in docs/metric-names.md (a test checks it).
"""

import re

_NAME = re.compile(r"^guestagent_[a-z0-9_]+$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricSet(object):
    def __init__(self, common_labels=None, timestamp=None):
        self.common_labels = dict(common_labels or {})
        # Set only for stores that accept timestamps (VictoriaMetrics); never for the Pushgateway.
        self.timestamp = timestamp
        self.families = {}  # name -> [kind, help, {labels tuple: value}]

    def gauge(self, name, help, value, labels=None):
        self._add(name, "gauge", help, value, labels)

    def counter(self, name, help, value, labels=None):
        """A cumulative total; `name` ends in `_total` (the running total kept in the state)."""
        if not name.endswith("_total"):
            raise ValueError("counter {} must end in _total".format(name))
        self._add(name, "counter", help, value, labels)

    def info(self, name, help, labels):
        """A constant-1 gauge carrying descriptive labels (`..._info`)."""
        self._add(name, "gauge", help, 1, labels)

    def _add(self, name, kind, help, value, labels):
        if value is None:
            return
        if not _NAME.match(name):
            raise ValueError("bad metric name {!r}".format(name))
        merged = dict(self.common_labels)
        for key, label_value in (labels or {}).items():
            if not _LABEL.match(key):
                raise ValueError("bad label name {!r}".format(key))
            merged[key] = "" if label_value is None else str(label_value)
        family = self.families.setdefault(name, [kind, help, {}])
        family[2][tuple(sorted(merged.items()))] = float(value)

    def probe_labels(self, sample):
        """The labels every probe metric carries: test point, role and how it was measured."""
        return {"target": sample["target"], "role": sample["role"], "kind": sample["kind"],
                "via": sample.get("via") or "guestshell"}

    def names(self):
        return sorted(self.families)

    def value(self, name, **labels):
        """A sample's value, for tests and `status`; None when absent."""
        family = self.families.get(name)
        if not family:
            return None
        for key, value in family[2].items():
            if all(dict(key).get(k) == str(v) for k, v in labels.items()):
                return value
        return None

    def registry(self):
        """A prometheus_client registry holding these metrics."""
        from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily

        families = self.families
        timestamp = self.timestamp

        class _Collector(object):
            def collect(self):
                for name in sorted(families):
                    kind, help, samples = families[name]
                    label_names = sorted(set(k for key in samples for k, _ in key))
                    if kind == "counter":
                        family = CounterMetricFamily(name[:-len("_total")], help,
                                                     labels=label_names)
                    else:
                        family = GaugeMetricFamily(name, help, labels=label_names)
                    for key, value in sorted(samples.items()):
                        values = dict(key)
                        family.add_metric([values.get(n, "") for n in label_names], value,
                                          timestamp=timestamp)
                    yield family

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector())
        return registry

    def render(self):
        """Prometheus text exposition format (no timestamps: the Pushgateway rejects them)."""
        from prometheus_client.exposition import generate_latest
        return generate_latest(self.registry())
