"""The metrics of one cycle, collected as plain data and rendered for the sinks.

Modules add samples with `gauge()`/`counter()`; `render()` writes the Prometheus text format for
the Pushgateway, `render_import()` the same for VictoriaMetrics' import API with timestamps, and
`render_influx()` InfluxDB line protocol for VictoriaMetrics and vmagent (`/write`): one line per
label set, so a test point's labels go once for all its values. Names follow Prometheus
conventions: `guestagent_` prefix, base units (seconds, ratios 0-1), `_total` for counters; every
name is listed in docs/metric-names.md (a test checks it).

What goes on the wire is kept small (docs/wire.md): no HELP (docs/metric-names.md holds it), a
TYPE line only for counters (the Pushgateway shows the rest as untyped, which Prometheus queries
as gauges), none at all to the import APIs, labels ordered so that the one that varies most
(`target`) comes last, and values no finer than they were measured.
"""

import math

from guestagent import rx

_NAME = rx.compile(r"^guestagent_[a-z0-9_]+$")
_LABEL = rx.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels written last, in this order: what differs from one series to the next sits at the end
# of a line, so the compressor matches the rest against the line before.
_LAST = ("metric", "stat", "target")
# Significant digits kept for measured times and ratios: ping prints 3 decimals of a millisecond,
# and 4 digits hold more than any probe measures (0.05 % of the value).
TIME_DIGITS = 4
PREFIX = "guestagent_"


def _label_order(key):
    return (_LAST.index(key) + 1 if key in _LAST else 0, key)


# Metric and label names found valid, each checked once per process: a cycle adds its ~130
# samples under about 60 names and 10 label names.
_VALID_NAMES = set()
_VALID_LABELS = set()
# The wire order of each set of label names, as the samples name them: sorted once per set.
_ORDERS = {}


def number(name, value):
    """A value as the wire carries it: integers without a decimal point, measured times and
    ratios to TIME_DIGITS significant digits, everything else as Python's shortest repr."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return "%d" % value
    if name.endswith(("_seconds_total", "timestamp_seconds")):
        # Running totals and clock readings of seconds: to the millisecond.
        return ("%.3f" % value).rstrip("0").rstrip(".")
    if (name.endswith(("_seconds", "_ratio")) and "timestamp" not in name) or \
            name.endswith("_estimate"):
        return "%.*g" % (TIME_DIGITS, value)
    return repr(value)


def _escape(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _influx_escape(value):
    # Line protocol escapes commas, equals signs and spaces in tags; a newline cannot be
    # carried at all (label values come from config and router output, which hold none).
    return (value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
            .replace(" ", "\\ ").replace("\n", " ").replace("\r", " "))


class MetricSet(object):
    def __init__(self, common_labels=None, timestamp=None):
        self.common_labels = dict(common_labels or {})
        # Set only for stores that accept timestamps (VictoriaMetrics); never for the Pushgateway.
        self.timestamp = timestamp
        self.families = {}  # name -> [kind, help, {labels tuple (wire order): value}]

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
        if name not in _VALID_NAMES:
            if not isinstance(name, str) or not _NAME.match(name):
                raise ValueError("bad metric name {!r}".format(name))
            _VALID_NAMES.add(name)
        merged = dict(self.common_labels)
        for key, label_value in (labels or {}).items():
            if key not in _VALID_LABELS:
                if not isinstance(key, str) or not _LABEL.match(key):
                    raise ValueError("bad label name {!r}".format(key))
                _VALID_LABELS.add(key)
            merged[key] = "" if label_value is None else str(label_value)
        family = self.families.setdefault(name, [kind, help, {}])
        names = tuple(merged)
        order = _ORDERS.get(names)
        if order is None:
            order = _ORDERS[names] = tuple(sorted(names, key=_label_order))
        key = tuple([(label, merged[label]) for label in order])
        family[2][key] = float(value)

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

    def series(self):
        return sum(len(family[2]) for family in self.families.values())

    def _family_lines(self, name, types, suffix):
        kind, _, samples = self.families[name]
        out = []
        if types and kind == "counter":
            out.append("# TYPE {} counter\n".format(name))
        for key, value in sorted(samples.items()):
            labels = ",".join('{}="{}"'.format(k, _escape(v)) for k, v in key if v != "")
            out.append("{}{} {}{}\n".format(name, "{" + labels + "}" if labels else "",
                                            number(name, value), suffix))
        return "".join(out)

    def _lines(self, types, stamp, names=None):
        suffix = "" if stamp is None else " %d" % stamp
        return "".join(self._family_lines(name, types, suffix)
                       for name in sorted(self.families if names is None else names)
                       ).encode("utf-8")

    def family_texts(self):
        """[(name, its lines as render() writes them)], by name: what a push compares with the
        last one to send only the families that changed."""
        return [(name, self._family_lines(name, True, "").encode("utf-8"))
                for name in sorted(self.families)]

    def render(self):
        """Prometheus text format for the Pushgateway: no timestamps (it rejects them), no HELP,
        TYPE for counters only."""
        return self._lines(True, None)

    def render_import(self, timestamp=None):
        """Prometheus text format for `/api/v1/import/prometheus`: no comments, every sample
        at `timestamp` (unix seconds; default the set's own), in milliseconds."""
        stamp = self.timestamp if timestamp is None else timestamp
        return self._lines(False, None if stamp is None else int(round(stamp * 1000)))

    def render_influx(self, timestamp=None):
        """InfluxDB line protocol (`/write?precision=ms`): `guestagent,<labels> <name>=<value>,...
        <ms>` with one line per label set; the store names each series `guestagent_<field>`,
        the same names as the text format. Values that are not finite are left out (the line
        protocol has no NaN)."""
        stamp = self.timestamp if timestamp is None else timestamp
        suffix = "" if stamp is None else " %d" % int(round(stamp * 1000))
        by_labels = {}
        for name, (_, _, samples) in self.families.items():
            for key, value in samples.items():
                if math.isnan(value) or math.isinf(value):
                    continue
                tags = tuple(item for item in key if item[1] != "")
                by_labels.setdefault(tags, []).append((name, value))
        out = []
        for tags in sorted(by_labels):
            fields = sorted(by_labels[tags])
            out.append("guestagent{}{} {}{}\n".format(
                "," if tags else "",
                ",".join("{}={}".format(k, _influx_escape(v)) for k, v in tags),
                ",".join("{}={}".format(n[len(PREFIX):], number(n, v)) for n, v in fields),
                suffix))
        return "".join(out).encode("utf-8")
