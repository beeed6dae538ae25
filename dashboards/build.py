"""Writes the Grafana dashboards (fleet.json, router.json, sla.json) from one description, so
that every panel shares the same datasource reference, variables and units.

    python3 dashboards/build.py        # rewrites dashboards/*.json

Queries use only the raw metric names of docs/metric-names.md (no recording rules), so a
dashboard works on a bare Prometheus or VictoriaMetrics that holds the agent's series.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}

# Selectors every query starts from: `$instance`/`$target` are multi-value (regex) variables.
I = 'instance=~"$instance"'
IT = 'instance=~"$instance", target=~"$target"'

# A router's state, each excluding the worse ones (silent > outage > degraded > healthy).
# last_over_time: a store fed by the import sink holds no recent sample of a silent router, and
# a Pushgateway keeps the last one; either way the last known cycle is what counts.
SILENT = ('(time() - last_over_time(guestagent_last_cycle_timestamp_seconds{%s}[1d])'
          ' > $silent_after_s)' % I)
OUTAGE = '(max by (instance) (guestagent_sla_in_outage{%s}) == 1)' % I
DEGRADED = ('(min by (instance) (guestagent_sla_available{%s}) == 0'
            ' or max by (instance) (guestagent_isolation_verdict{%s, verdict!="healthy"}) == 1)'
            % (I, I))


def availability(by, selector, window="$__range"):
    """available / known seconds over a window, from the `_total` counters (exact across push
    gaps: the counters are running totals kept on the router)."""
    return ('sum by (%s) (increase(guestagent_sla_available_seconds_total{%s}[%s]))'
            ' / sum by (%s) (increase(guestagent_sla_known_seconds_total{%s}[%s]))'
            % (by, selector, window, by, selector, window))


def by_area(counter, selector):
    """sum by (area) of a counter's increase over the range, each router's increase counted in
    the area of its guestagent_location_info now: rules/areas.yml's join (one location series
    per router, as a router that just moved has two on VictoriaMetrics for a few minutes),
    without its 5-minute slices, so that it needs no recording rule."""
    return ('sum by (area) (sum by (job, instance) (increase(%s{%s}[$__range]))'
            ' * on (job, instance) group_left (area) topk by (job, instance) '
            '(1, guestagent_location_info{%s, site=~"$site"}))' % (counter, selector, selector))


def area_availability(selector):
    return '%s / (%s > 0)' % (by_area("guestagent_sla_available_seconds_total", selector),
                              by_area("guestagent_sla_known_seconds_total", selector))


def area_loss(selector):
    return '1 - %s / (%s > 0)' % (by_area("guestagent_sla_packets_received_total", selector),
                                  by_area("guestagent_sla_packets_sent_total", selector))


def target(expr, legend="", ref="A", instant=False, fmt="time_series", interval=""):
    out = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}
    if instant:
        out.update({"instant": True, "range": False})
    else:
        out.update({"instant": False, "range": True})
    if fmt != "time_series":
        out["format"] = fmt
    if interval:
        out["interval"] = interval
    return out


class Layout(object):
    """Panels left to right, 24 columns wide, each with a unique id."""

    def __init__(self):
        self.panels = []
        self.x = 0
        self.y = 0
        self.row_h = 0

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        panel.setdefault("datasource", DS)
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)
        return panel

    def row(self, title):
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel = {"type": "row", "title": title, "collapsed": False, "panels": []}
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"x": 0, "y": self.y, "w": 24, "h": 1}
        self.panels.append(panel)
        self.y += 1


def field(unit, minimum=None, maximum=None, thresholds=None, decimals=None):
    defaults = {"unit": unit}
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if decimals is not None:
        defaults["decimals"] = decimals
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": [
            {"color": color, "value": value} for value, color in thresholds]}
        defaults["color"] = {"mode": "thresholds"}
    return {"defaults": defaults, "overrides": []}


AVAILABILITY_STEPS = [(None, "red"), (0.99, "orange"), (0.999, "green")]



def geomap_options(layer):
    """A geomap fitted to its points, on the default basemap, with one markers layer."""
    return {"view": {"id": "fit", "lat": 0, "lon": 0, "zoom": 2},
            "controls": {"showZoom": True, "mouseWheelZoom": True},
            "basemap": {"type": "default", "name": "Basemap"},
            "layers": [layer]}

def timeseries(title, targets, unit, description="", overrides=(), **kw):
    cfg = field(unit, **kw)
    cfg["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0,
                                 "showPoints": "auto", "spanNulls": False}
    cfg["overrides"] = list(overrides)
    return {"type": "timeseries", "title": title, "description": description,
            "targets": targets, "fieldConfig": cfg,
            "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                   "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "none"}}}


def stat(title, expr, unit, description="", thresholds=None, **kw):
    return {"type": "stat", "title": title, "description": description,
            "targets": [target(expr, instant=True)],
            "fieldConfig": field(unit, thresholds=thresholds, **kw),
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "value"}}


def table(title, targets, unit, description="", transformations=(), overrides=(), **kw):
    cfg = field(unit, **kw)
    cfg["overrides"] = list(overrides)
    return {"type": "table", "title": title, "description": description, "targets": targets,
            "fieldConfig": cfg, "transformations": list(transformations),
            "options": {"showHeader": True, "cellHeight": "sm"}}


def unit_override(name, unit, thresholds=None):
    props = [{"id": "unit", "value": unit}]
    if thresholds:
        props.append({"id": "thresholds", "value": {"mode": "absolute", "steps": [
            {"color": c, "value": v} for v, c in thresholds]}})
        props.append({"id": "custom.cellOptions", "value": {"type": "color-background"}})
    return {"matcher": {"id": "byName", "options": name}, "properties": props}


def band(lower_legend, upper_legend):
    """Fill between the lower and upper edge of a baseline: B - S .. B + S."""
    return [
        {"matcher": {"id": "byName", "options": upper_legend},
         "properties": [{"id": "custom.fillBelowTo", "value": lower_legend},
                        {"id": "custom.lineWidth", "value": 0},
                        {"id": "custom.fillOpacity", "value": 15},
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "green"}}]},
        {"matcher": {"id": "byName", "options": lower_legend},
         "properties": [{"id": "custom.lineWidth", "value": 0},
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "green"}}]}]


# ---------------------------------------------------------------- variables

def datasource_var():
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1,
            "regex": "", "options": []}


def query_var(name, label, query, multi=True, include_all=True, description=""):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "definition": query, "query": {"query": query, "refId": name},
            "refresh": 2, "sort": 1, "multi": multi, "includeAll": include_all,
            "allValue": ".*" if include_all else None, "current": {}, "options": [],
            "regex": "", "hide": 0, "description": description}


def custom_var(name, label, value, description=""):
    return {"name": name, "label": label, "type": "custom", "query": value,
            "current": {"text": value, "value": value}, "hide": 0,
            "options": [{"text": value, "value": value, "selected": True}],
            "description": description}


INSTANCE = query_var("instance", "Router",
                     "label_values(guestagent_last_cycle_timestamp_seconds, instance)",
                     description="The Pushgateway's instance label: the router's hostname "
                                 "unless agent.instance says otherwise.")
SITE = query_var("site", "Site",
                 'label_values(guestagent_location_info{instance=~"$instance"}, site)',
                 description="router.location.name; only routers whose location is known "
                             "carry it (guestagent_location_info).")
TARGET = query_var("target", "Test point",
                   'label_values(guestagent_probe_success{instance=~"$instance"}, target)')
SILENT_AFTER = custom_var("silent_after_s", "Silent after (s)", "900",
                          "A router is silent when its last cycle started longer ago than "
                          "this: 3 intervals of 300 s by default.")
SLA_TARGET = custom_var("sla_target", "SLA target", "0.999",
                        "The availability objective, as a ratio.")


def dashboard(uid, title, description, panels, variables, annotations=(), tags=()):
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["guestagent"] + list(tags), "timezone": "utc", "editable": True,
        "schemaVersion": 39, "version": 1, "refresh": "1m", "graphTooltip": 1,
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": [datasource_var()] + list(variables)},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}] + list(annotations)},
        "links": [{"title": "guestagent", "type": "dashboards", "tags": ["guestagent"],
                   "asDropdown": True, "includeVars": True, "keepTime": True}],
        "panels": panels,
    }


# ---------------------------------------------------------------- fleet overview

def fleet():
    L = Layout()
    L.row("Routers by state")
    L.add(stat("Healthy", 'count(guestagent_last_cycle_timestamp_seconds{%s} unless on (instance)'
               ' (%s or %s or %s)) or vector(0)' % (I, SILENT, OUTAGE, DEGRADED), "none",
               "Routers that cycle, with every test point available and the fault domain "
               "healthy.", thresholds=[(None, "green")]), 6, 4)
    L.add(stat("Degraded", 'count(%s unless on (instance) (%s or %s)) or vector(0)'
               % (DEGRADED, OUTAGE, SILENT), "none",
               "A test point unavailable in the last cycle or a fault-domain verdict other "
               "than healthy, but no outage.", thresholds=[(None, "green"), (1, "orange")]),
          6, 4)
    L.add(stat("Outage", 'count(%s unless on (instance) %s) or vector(0)' % (OUTAGE, SILENT),
               "none", "A test point in an open outage (guestagent_sla_in_outage).",
               thresholds=[(None, "green"), (1, "red")]), 6, 4)
    L.add(stat("Silent", 'count(%s) or vector(0)' % SILENT, "none",
               "No cycle started for $silent_after_s s (guestagent_last_cycle_timestamp_"
               "seconds): the router, its uplink or the push path is down.",
               thresholds=[(None, "green"), (1, "purple")]), 6, 4)

    L.row("Where")
    geomap = {
        "type": "geomap", "title": "Routers by availability",
        "description": "Position from guestagent_location_latitude/longitude_degrees; colour "
                       "is availability over the time range, from the _total counters.",
        "targets": [
            target('max by (instance) (guestagent_location_latitude_degrees{%s})'
                   ' * on (instance) group_left (site) max by (instance, site) '
                   '(guestagent_location_info{%s, site=~"$site"})' % (I, I),
                   ref="latitude", instant=True, fmt="table"),
            target('max by (instance) (guestagent_location_longitude_degrees{%s})' % I,
                   ref="longitude", instant=True, fmt="table"),
            target(availability("instance", I), ref="availability", instant=True,
                   fmt="table"),
        ],
        "transformations": [
            {"id": "joinByField", "options": {"byField": "instance", "mode": "inner"}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "Time 1": True, "Time 2": True,
                                  "Time 3": True},
                "renameByName": {"Value #latitude": "latitude",
                                 "Value #longitude": "longitude",
                                 "Value #availability": "availability"}}},
        ],
        "fieldConfig": field("percentunit", 0, 1, AVAILABILITY_STEPS),
        "options": geomap_options({
            "type": "markers", "name": "Routers", "tooltip": True,
            "location": {"mode": "coords", "latitude": "latitude",
                         "longitude": "longitude"},
            "config": {"showLegend": True, "style": {
                "size": {"fixed": 8},
                "color": {"field": "availability", "fixed": "dark-green"},
                "text": {"field": "instance", "mode": "field"},
                "textConfig": {"fontSize": 10, "offsetY": -12}}}}),
    }
    L.add(geomap, 14, 12)
    L.add(table("Fault-domain verdicts now",
                [target('count by (verdict) (guestagent_isolation_verdict{%s} == 1)' % I,
                        ref="A", instant=True, fmt="table")],
                "none", "Routers by this cycle's verdict: the first bad segment walking out "
                        "from the router (local, access, beyond-isp), or DNS alone.",
                transformations=[{"id": "organize", "options": {
                    "excludeByName": {"Time": True},
                    "renameByName": {"Value": "routers"}}}]), 10, 12)

    L.row("Worst")
    L.add(table("Worst routers",
                [target('bottomk(10, %s)' % availability("instance", I), instant=True,
                        fmt="table")],
                "percentunit", "Availability over the time range (available / known "
                               "seconds, all test points).",
                transformations=[{"id": "organize", "options": {
                    "excludeByName": {"Time": True}, "renameByName": {"Value": "availability"}}}],
                overrides=[unit_override("availability", "percentunit", AVAILABILITY_STEPS)]),
          12, 9)
    L.add(table("Worst test points",
                [target('bottomk(10, %s)' % availability("instance, target", I),
                        instant=True, fmt="table")],
                "percentunit", "Availability of each test point over the time range.",
                transformations=[{"id": "organize", "options": {
                    "excludeByName": {"Time": True}, "renameByName": {"Value": "availability"}}}],
                overrides=[unit_override("availability", "percentunit", AVAILABILITY_STEPS)]),
          12, 9)
    L.add(timeseries("Fault-domain verdicts over the fleet",
                     [target('count by (verdict) (guestagent_isolation_verdict{%s} == 1)' % I,
                             "{{verdict}}")],
                     "none", "Routers per verdict, cycle by cycle.", minimum=0), 24, 8)
    L.panels[-1]["fieldConfig"]["defaults"]["custom"].update(
        {"drawStyle": "bars", "stacking": {"mode": "normal"}, "fillOpacity": 80})

    L.row("Areas")
    area_note = ("Each router's seconds and packets over the time range count in the area "
                 "(geohash, docs/areas.md) of its guestagent_location_info now; "
                 "rules/areas.yml slices them by 5 minutes for routers that move.")
    area_map = {
        "type": "geomap", "title": "Areas by availability",
        "description": "Availability (available / known seconds) of every router in each "
                       "area. " + area_note,
        "targets": [target(area_availability(I), ref="availability", instant=True,
                           fmt="table")],
        "transformations": [{"id": "organize", "options": {
            "excludeByName": {"Time": True}, "renameByName": {"Value": "availability"}}}],
        "fieldConfig": field("percentunit", 0, 1, AVAILABILITY_STEPS),
        "options": geomap_options({
            "type": "markers", "name": "Areas", "tooltip": True,
            "location": {"mode": "geohash", "geohash": "area"},
            "config": {"showLegend": True, "style": {
                "size": {"fixed": 12},
                "color": {"field": "availability", "fixed": "dark-green"},
                "symbol": {"fixed": "img/icons/marker/square.svg", "mode": "fixed"},
                "text": {"field": "area", "mode": "field"},
                "textConfig": {"fontSize": 10, "offsetY": -14}}}}),
    }
    L.add(area_map, 14, 12)
    L.add(table("Worst areas", [
        target("bottomk(10, %s)" % area_availability(I), ref="availability", instant=True,
               fmt="table"),
        target(area_loss(I), ref="loss", instant=True, fmt="table"),
    ], "percentunit", "The 10 areas of lowest availability, worst first, with the ICMP "
                      "loss (requests lost / sent) there. " + area_note,
        transformations=[
            {"id": "joinByField", "options": {"byField": "area", "mode": "inner"}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "Time 1": True, "Time 2": True},
                "renameByName": {"Value #availability": "availability",
                                 "Value #loss": "loss"}}},
            {"id": "sortBy", "options": {"fields": {},
                                         "sort": [{"field": "availability", "desc": False}]}}],
        overrides=[unit_override("availability", "percentunit", AVAILABILITY_STEPS),
                   unit_override("loss", "percentunit")]), 10, 12)
    return dashboard("guestagent-fleet", "guestagent / Fleet overview",
                     "Every router: state, place, availability, worst test points, "
                     "fault domains and areas.", L.panels, [INSTANCE, SITE, SILENT_AFTER],
                     tags=["fleet"])


# ---------------------------------------------------------------- router detail

def router():
    L = Layout()
    L.row("Test points")
    rtt = 'guestagent_icmp_rtt_seconds{%s, stat="%s"}'
    L.add(timeseries("RTT median and p95", [
        target(rtt % (IT, "median"), "{{target}} median", "A"),
        target(rtt % (IT, "p95"), "{{target}} p95", "B"),
    ], "s", "Round-trip time of the cycle's echo replies (stat=median is the sample's delay).",
        minimum=0), 12, 8)
    L.add(timeseries("Jitter", [
        target('guestagent_icmp_jitter_seconds{%s}' % IT, "{{target}}"),
    ], "s", "Mean absolute difference of consecutive RTTs (IPDV).", minimum=0), 12, 8)
    L.add(timeseries("Loss", [
        target('guestagent_icmp_loss_ratio{%s}' % IT, "{{target}}"),
    ], "percentunit", "(sent - received) / sent in each cycle's sample.", minimum=0,
        maximum=1), 12, 8)
    L.add(timeseries("MOS", [
        target('guestagent_icmp_mos_estimate{%s}' % IT, "{{target}}"),
    ], "none", "Voice quality estimated by the simplified E-model (1-5).", minimum=1,
        maximum=5, thresholds=[(None, "red"), (3.6, "orange"), (4.0, "green")]), 12, 8)
    # A row per test point (repeated over $target): a band is filled between two named
    # series, B - S and B + S, which only a single test point's panels can name.
    L.row("Baselines: $target")
    L.panels[-1]["repeat"] = "target"
    for metric, title in (("rtt", "RTT"), ("jitter", "Jitter")):
        value = ('guestagent_icmp_rtt_seconds{%s, stat="median"}' % IT if metric == "rtt"
                 else 'guestagent_icmp_jitter_seconds{%s}' % IT)
        base = 'guestagent_sla_baseline_seconds{%s, metric="%s"}' % (IT, metric)
        spread = 'guestagent_sla_baseline_spread_seconds{%s, metric="%s"}' % (IT, metric)
        L.add(timeseries("%s against its baseline ($target)" % title, [
            target(value, metric, "A"),
            target("%s - %s" % (base, spread), "B-S", "B"),
            target("%s + %s" % (base, spread), "B+S", "C"),
        ], "s", "The band is the baseline B (median of the trailing window) plus and minus "
                "its spread S (IQR, floored).", overrides=band("B-S", "B+S"), minimum=0),
            8, 8)
    L.add(timeseries("Loss against its baseline ($target)", [
        target('guestagent_icmp_loss_ratio{%s}' % IT, "loss", "A"),
        target('guestagent_sla_baseline_ratio{%s, metric="loss"}'
               ' - guestagent_sla_baseline_spread_ratio{%s, metric="loss"}' % (IT, IT),
               "B-S", "B"),
        target('guestagent_sla_baseline_ratio{%s, metric="loss"}'
               ' + guestagent_sla_baseline_spread_ratio{%s, metric="loss"}' % (IT, IT),
               "B+S", "C"),
    ], "percentunit", "The band is the baseline B of the loss ratio plus and minus its "
                      "spread S.", overrides=band("B-S", "B+S"), minimum=0), 8, 8)
    L.row("SLA state")
    L.add(timeseries("Within baseline (Fa) today", [
        target('guestagent_sla_within_baseline_today_ratio{%s}' % IT,
               "{{target}} {{metric}}"),
    ], "percentunit", "Fa = Nb / N since 00:00 UTC, per metric.", minimum=0, maximum=1),
        12, 7)
    L.add(timeseries("Available and in outage", [
        target('guestagent_sla_available{%s}' % IT, "{{target}} available", "A"),
        target('guestagent_sla_outage_duration_seconds{%s}' % IT,
               "{{target}} outage so far", "B"),
    ], "none", "1 when the last sample met loss_max and rtt_max_ms; the open outage's "
               "duration on the right axis.", minimum=0,
        overrides=[{"matcher": {"id": "byRegexp", "options": "/outage so far$/"},
                    "properties": [{"id": "unit", "value": "s"},
                                   {"id": "custom.axisPlacement", "value": "right"}]}]),
        12, 7)

    L.row("IP SLA operations")
    ipsla = 'instance=~"$instance"'
    L.add(table("IP SLA operations (latest run)", [
        target('guestagent_ipsla_ok{%s}' % ipsla, ref="ok", instant=True, fmt="table"),
        target('guestagent_ipsla_rtt_seconds{%s}' % ipsla, ref="rtt", instant=True,
               fmt="table"),
        target('guestagent_ipsla_failures{%s}' % ipsla, ref="failures", instant=True,
               fmt="table"),
    ], "none", "Each operation's latest return code, RTT (OK runs only) and IOS's count of "
               "failed runs.",
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "__name__": True, "job": True},
                "renameByName": {"Value #ok": "ok", "Value #rtt": "rtt",
                                 "Value #failures": "failures"}}}],
        overrides=[unit_override("rtt", "s"),
                   unit_override("ok", "none", [(None, "red"), (1, "green")])]), 12, 8)
    L.add(timeseries("IP SLA RTT and jitter", [
        target('guestagent_ipsla_rtt_seconds{%s}' % ipsla, "{{operation}} {{type}} rtt", "A"),
        target('guestagent_ipsla_jitter_seconds{%s, sign="any", stat="avg"}' % ipsla,
               "{{operation}} jitter {{direction}}", "B"),
    ], "s", "Latest RTT of each operation and the average jitter of jitter operations.",
        minimum=0), 12, 8)
    L.add(timeseries("IP SLA MOS", [
        target('guestagent_ipsla_mos{%s}' % ipsla, "{{operation}} {{target}}"),
    ], "none", "MOS IOS computed for the configured codec.", minimum=1, maximum=5), 12, 6)
    L.add(timeseries("IP SLA packets lost", [
        target('guestagent_ipsla_packets_lost{%s}' % ipsla, "{{operation}} {{direction}}"),
    ], "none", "Packets lost in the latest jitter run.", minimum=0), 12, 6)

    L.row("LTE radio and GPS")
    L.add(timeseries("LTE RSRP and RSSI", [
        target('guestagent_cellular_rsrp_dbm{%s}' % I, "RSRP slot {{slot}}", "A"),
        target('guestagent_cellular_rssi_dbm{%s}' % I, "RSSI slot {{slot}}", "B"),
    ], "dBm", "Reference signal received power and received signal strength.",
        thresholds=[(None, "red"), (-110, "orange"), (-100, "green")]), 8, 8)
    L.add(timeseries("LTE RSRQ, SNR and SINR", [
        target('guestagent_cellular_rsrq_db{%s}' % I, "RSRQ slot {{slot}}", "A"),
        target('guestagent_cellular_snr_db{%s}' % I, "SNR slot {{slot}}", "B"),
        target('guestagent_cellular_sinr_db{%s}' % I, "SINR slot {{slot}}", "C"),
    ], "dB", "Signal quality; SINR where IOS prints it."), 8, 8)
    L.add(table("Modem", [
        target('guestagent_cellular_registered{%s}' % I, ref="registered", instant=True,
               fmt="table"),
        target('guestagent_cellular_info{%s}' % I, ref="info", instant=True, fmt="table"),
    ], "none", "Registration, technology, band, operator and cell.",
        transformations=[{"id": "merge", "options": {}}, {"id": "organize", "options": {
            "excludeByName": {"Time": True, "__name__": True, "job": True,
                              "Value #info": True},
            "renameByName": {"Value #registered": "registered"}}}]), 8, 8)
    L.add(timeseries("GPS fix and satellites", [
        target('guestagent_gps_fix_dimensions{%s}' % I, "fix (D) slot {{slot}}", "A"),
        target('guestagent_gps_satellites{%s}' % I, "satellites slot {{slot}}", "B"),
        target('guestagent_gps_hdop{%s}' % I, "HDOP slot {{slot}}", "C"),
    ], "none", "The modem's fix (0 none, 2 or 3 dimensions), satellites listed and HDOP.",
        minimum=0), 12, 7)
    L.add(timeseries("Location age", [
        target('guestagent_location_age_seconds{%s}' % I, "{{source}}"),
    ], "s", "Age of the GPS fix by its GPS timestamp.", minimum=0), 12, 7)

    L.row("Interfaces and cycles")
    L.add(timeseries("Interface utilization", [
        target('guestagent_interface_utilization_ratio{%s}' % I,
               "{{interface}} {{direction}}"),
    ], "percentunit", "Bits carried since the last cycle / (elapsed x bandwidth).",
        minimum=0), 12, 8)
    L.add(timeseries("Interface rate", [
        target('guestagent_interface_rate_bits_per_second{%s}' % I,
               "{{interface}} {{direction}}"),
    ], "bps", "The same as a rate.", minimum=0), 12, 8)
    L.add(timeseries("Cycle duration against the deadline", [
        target('guestagent_cycle_duration_seconds{%s}' % I, "{{instance}} duration", "A"),
        target('guestagent_cycle_deadline_seconds{%s}' % I, "{{instance}} deadline", "B"),
    ], "s", "Wall time of each cycle and its time budget (agent.deadline_s).", minimum=0,
        overrides=[{"matcher": {"id": "byRegexp", "options": "/deadline$/"},
                    "properties": [{"id": "custom.lineStyle",
                                    "value": {"fill": "dash", "dash": [10, 10]}},
                                   {"id": "color", "value": {"mode": "fixed",
                                                             "fixedColor": "red"}}]}]),
        12, 8)
    L.add(timeseries("Cycle errors", [
        target('guestagent_cycle_errors{%s}' % I, "{{instance}}"),
    ], "none", "Errors recorded in each cycle's report (errors[]).", minimum=0), 12, 8)
    outages = {
        "name": "Outages", "enable": True, "iconColor": "red", "datasource": DS,
        "expr": 'guestagent_sla_in_outage{%s} == 1' % IT, "step": "60s",
        "titleFormat": "Outage: {{target}}", "textFormat": "{{instance}} {{role}}",
        "tagKeys": "instance,target", "useValueForTime": False,
    }
    return dashboard("guestagent-router", "guestagent / Router detail",
                     "One router: its test points, IP SLA, LTE and GPS, interfaces and "
                     "cycles.", L.panels, [INSTANCE, SITE, TARGET],
                     annotations=[outages], tags=["router"])


# ---------------------------------------------------------------- SLA

def sla():
    L = Layout()
    L.row("Availability against the target")
    L.add(stat("Availability over the range", availability("instance", IT), "percentunit",
               "Available / known seconds of the selected test points over the time range.",
               thresholds=[(None, "red"), (0.999, "green")], decimals=3), 8, 5)
    L.add(stat("Error budget left", '1 - (1 - (%s)) / (1 - $sla_target)'
               % availability("instance", IT), "percentunit",
               "The share of the allowed unavailability ($sla_target) not yet spent over the "
               "time range.", thresholds=[(None, "red"), (0, "orange"), (0.5, "green")]), 8, 5)
    L.add(stat("Outages started", 'sum(increase(guestagent_sla_outages_total{%s}[$__range]))'
               % IT, "none", "Outages that started over the time range.",
               thresholds=[(None, "green"), (1, "red")]), 8, 5)
    L.add(table("Availability by test point", [
        target(availability("instance, target", IT), ref="availability", instant=True,
               fmt="table"),
        target(availability("instance, target", IT, "1d"), ref="day", instant=True,
               fmt="table"),
        target(availability("instance, target", IT, "30d"), ref="month", instant=True,
               fmt="table"),
    ], "percentunit", "Over the time range, the last day and the last 30 days, against "
                      "the target $sla_target.",
        transformations=[{"id": "merge", "options": {}}, {"id": "organize", "options": {
            "excludeByName": {"Time": True},
            "renameByName": {"Value #availability": "time range",
                             "Value #day": "last 1 d", "Value #month": "last 30 d"}}}],
        thresholds=AVAILABILITY_STEPS), 24, 8)
    L.add(timeseries("Availability per day against the target", [
        target(availability("instance, target", IT, "1d"), "{{instance}} {{target}}", "A",
               interval="1d"),
        target('vector($sla_target)', "SLA target", "B"),
    ], "percentunit", "Each point is the availability of the day before it (1 d windows).",
        maximum=1, overrides=[{"matcher": {"id": "byName", "options": "SLA target"},
                               "properties": [{"id": "custom.lineStyle",
                                               "value": {"fill": "dash", "dash": [10, 10]}},
                                              {"id": "color", "value": {
                                                  "mode": "fixed", "fixedColor": "red"}}]}]),
        12, 8)
    L.add(timeseries("Groups (uplinks) today", [
        target('guestagent_sla_group_availability_today_ratio{%s}' % I,
               "{{instance}} {{group}}"),
    ], "percentunit", "Each group's available time / known time since 00:00 UTC.",
        maximum=1), 12, 8)

    L.row("Outages")
    L.add(table("Outages over the range", [
        target('increase(guestagent_sla_outages_total{%s}[$__range]) > 0' % IT,
               ref="started", instant=True, fmt="table"),
        target('increase(guestagent_sla_outage_seconds_total{%s}[$__range]) > 0' % IT,
               ref="seconds", instant=True, fmt="table"),
        target('guestagent_sla_outage_duration_seconds{%s} > 0' % IT, ref="open",
               instant=True, fmt="table"),
    ], "none", "Per test point: outages started, seconds in outage over the range, and the "
               "duration so far of an outage still open. Each outage's start and end is "
               "on the timeline below and in `guestagent sla` / `guestagent report`.",
        transformations=[{"id": "merge", "options": {}}, {"id": "organize", "options": {
            "excludeByName": {"Time": True, "job": True},
            "renameByName": {"Value #started": "outages", "Value #seconds": "in outage",
                             "Value #open": "open for"}}}],
        overrides=[unit_override("in outage", "s"), unit_override("open for", "s")]), 24, 8)
    timeline = {
        "type": "state-timeline", "title": "Outage timeline",
        "description": "Each red band is an outage of a test point (guestagent_sla_in_outage).",
        "targets": [target('guestagent_sla_in_outage{%s}' % IT, "{{instance}} {{target}}")],
        "fieldConfig": {"defaults": {"unit": "none", "color": {"mode": "thresholds"},
                                     "thresholds": {"mode": "absolute", "steps": [
                                         {"color": "green", "value": None},
                                         {"color": "red", "value": 1}]},
                                     "mappings": [{"type": "value", "options": {
                                         "0": {"text": "up"}, "1": {"text": "outage"}}}]},
                        "overrides": []},
        "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
    }
    L.add(timeline, 24, 8)
    return dashboard("guestagent-sla", "guestagent / SLA",
                     "Availability by period against the target, and the outages.",
                     L.panels, [INSTANCE, SITE, TARGET, SLA_TARGET], tags=["sla"])


DASHBOARDS = {"fleet.json": fleet, "router.json": router, "sla.json": sla}


def main():
    for name, build in sorted(DASHBOARDS.items()):
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(build(), f, indent=2, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
