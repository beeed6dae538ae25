"""The `sla` section as metrics: gauges of the moment and the cumulative counters of the state.

Base units: times in seconds (the section keeps milliseconds, as the samples do), ratios 0-1.
The counters are running totals kept in the state, so Prometheus `increase()` counts what
happened while pushes failed.
"""

COUNTER_HELP = (
    ("packets_sent", "guestagent_sla_packets_sent_total", "Echo requests sent to the test point."),
    ("packets_received", "guestagent_sla_packets_received_total",
     "Echo replies received in time from the test point."),
    ("dns_queries_sent", "guestagent_sla_dns_queries_sent_total", "DNS queries sent."),
    ("dns_queries_answered", "guestagent_sla_dns_queries_answered_total",
     "DNS queries answered in time (any rcode)."),
    ("known_seconds", "guestagent_sla_known_seconds_total",
     "Seconds for which the test point's state is known (availability denominator)."),
    ("available_seconds", "guestagent_sla_available_seconds_total",
     "Seconds the test point was available (availability numerator)."),
    ("outage_seconds", "guestagent_sla_outage_seconds_total", "Seconds in outage."),
    ("outages", "guestagent_sla_outages_total", "Outages started."),
)


def _metric_label(name):
    for suffix in ("_ms", "_ratio"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def _flag(value):
    return None if value is None else (1 if value else 0)


def add(section, out):
    out.gauge("guestagent_sla_state_ok",
              "1 when the SLA state was updated this cycle; 0: see the report's sla.error.",
              0 if section.get("error") else 1)
    for name, entry in sorted((section.get("targets") or {}).items()):
        labels = {"target": name, "role": entry.get("role")}
        out.gauge("guestagent_sla_available",
                  "1 when the last sample met the availability thresholds (absent: measurement "
                  "error).", _flag(entry.get("available")), labels)
        if "in_outage" in entry:
            out.gauge("guestagent_sla_in_outage", "1 while an outage of the test point is open.",
                      _flag(entry["in_outage"]), labels)
            out.gauge("guestagent_sla_outage_duration_seconds",
                      "Duration so far of the open outage (0 when none).",
                      entry.get("outage_duration_so_far_s") or 0, labels)
        today = entry.get("today") or {}
        out.gauge("guestagent_sla_availability_today_ratio",
                  "Available time / known time since 00:00 UTC.", today.get("availability"),
                  labels)
        for metric, fa in sorted((today.get("fa") or {}).items()):
            out.gauge("guestagent_sla_within_baseline_today_ratio",
                      "Fa = Nb / N since 00:00 UTC: samples within baseline over samples judged.",
                      fa, dict(labels, metric=_metric_label(metric)))
        for metric, base in sorted((entry.get("baseline") or {}).items()):
            metric_labels = dict(labels, metric=_metric_label(metric))
            ratio = metric.endswith("_ratio")
            scale = 1.0 if ratio else 0.001
            unit = "ratio" if ratio else "seconds"
            if base.get("B") is not None:
                out.gauge("guestagent_sla_baseline_" + unit,
                          "Baseline B: median of the trailing window's valid values.",
                          base["B"] * scale, metric_labels)
                out.gauge("guestagent_sla_baseline_spread_" + unit,
                          "Baseline spread S: interquartile range, floored.",
                          base["S"] * scale, metric_labels)
            if base.get("learning"):  # present only while learning: within_baseline follows
                out.gauge("guestagent_sla_baseline_learning",
                          "1 while the baseline window holds fewer than baseline_min_samples.",
                          1, metric_labels)
            out.gauge("guestagent_sla_within_baseline",
                      "1 when the last sample was within baseline (|V-B|/S <= T); absent while "
                      "learning.", _flag(base.get("within")), metric_labels)
        counters = entry.get("counters") or {}
        kind = entry.get("kind")
        for key, metric_name, help_text in COUNTER_HELP:
            if key not in counters:
                continue
            if key.startswith("packets_") and kind == "dns":
                continue
            if key.startswith("dns_") and kind != "dns":
                continue
            out.counter(metric_name, help_text, counters[key], labels)
    for name, group in sorted((section.get("groups") or {}).items()):
        labels = {"group": name}
        out.gauge("guestagent_sla_group_available",
                  "1 when the group is available now (all members, or any with mode any).",
                  _flag(group.get("available")), labels)
        out.gauge("guestagent_sla_group_availability_today_ratio",
                  "Group available time / known time since 00:00 UTC.",
                  (group.get("today") or {}).get("availability"), labels)
    out.gauge("guestagent_sla_outages_closed",
              "Outages that ended and are reported in this cycle's report (each once).",
              len(section.get("outages_closed") or []))
