"""`guestagent report`: the customer's HTML report, its figures against `guestagent sla --json`,
and how headless Chromium renders it (PNG, PDF, layout)."""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest

from guestagent import config as config_module
from guestagent import isolation, sla
from guestagent.commands import report as report_command
from guestagent.commands import sla as sla_command
from guestagent.report import dumps
from guestagent.sinks import journal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START = 1795737600.0  # 2026-11-27T00:00:00Z: the last four days of November
INTERVAL = 600
CYCLES = 4 * 86400 // INTERVAL
EDGE_DOWN = range(100, 106)      # an hour with every echo lost on edge: an outage, access
EDGE_DOWN_AGAIN = (400,)         # and a second, one cycle long
EDGE2_DOWN = range(103, 108)
EDGE_ERROR = 200                 # a measurement error: unknown time, no outage
AGENT = {"hostname": "ir1101-synthetic", "serial": "FCW0000SYNT", "platform": "IR1101-K9",
         "ios_version": "17.9.4a", "version": "test"}
CONFIG = ("agent: {state_dir: %s, interval_s: %d}\njournal: {dir: %s}\n"
          "sla: {baseline_min_samples: 20, groups: {either: {members: [edge, edge2], "
          "mode: any}}}\n")
MONTH = ["--month", "2026-11"]
SAME_WINDOW = ["--from", "2026-11-01", "--to", "2026-12-01"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(Debian package chromium)")


def icmp(name, ts, received, error=None, median=20.0):
    return {"kind": "icmp", "target": name, "host": "192.0.2.1", "role": "isp-edge",
            "group": ["uplink"], "started": ts, "error": error,
            "sent": None if error else 10, "received": None if error else received,
            "loss_ratio": None if error else (10 - received) / 10.0,
            "reachable": None if error else received > 0,
            "rtt_ms": {"median": median} if received and not error else None,
            "jitter_ms": 0.5}


def cycle_report(i):
    ts = START + i * INTERVAL
    day = i * INTERVAL // 86400
    probes = [
        icmp("edge", ts, 0 if i in EDGE_DOWN or i in EDGE_DOWN_AGAIN else 10 - (i % 7 == 0),
             "ping: permission denied" if i == EDGE_ERROR else None, 18.0 + 2 * day + i % 3),
        icmp("edge2", ts, 0 if i in EDGE2_DOWN else 10, median=25.0 + i % 5),
        {"kind": "dns", "target": "resolver", "role": "dns", "group": [], "started": ts,
         "error": None, "queries_sent": 4, "queries_answered": 4, "loss_ratio": 0.0,
         "response_ms": {"median": 30.0 + day, "p95": 31.0}},
    ]
    return {"cycle": {"id": "c%d" % i, "started_ts": ts, "trigger": "timer"}, "agent": AGENT,
            "location": {"source": "gps", "latitude": 48.85 + i * 1e-6, "longitude": 2.35,
                         "fix": "3d"},
            "isolation": isolation.verdict(probes), "probes": probes}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Four days of cycles through the SLA engine (the state) and the journal, as a cycle
    writes them."""
    base = tmp_path_factory.mktemp("site")
    path = base / "config.yaml"
    path.write_text(CONFIG % (base / "state", INTERVAL, base / "journal"))
    config = config_module.load(str(path))
    journal_dir = str(base / "journal")
    for i in range(CYCLES):
        report = cycle_report(i)
        report["sla"] = sla.update(config, report)
        journal.append(journal_dir, dumps(report), 10 ** 7, 5)
    return {"config": str(path), "journal": journal_dir, "base": base}


def run(module, argv, capsys):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    code = module.main(parser.parse_args(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def render(site, tmp_path, capsys, source=(), name="report.html"):
    output = str(tmp_path / name)
    code, out, err = run(report_command, ["-c", site["config"], "-o", output] + MONTH +
                         list(source), capsys)
    assert code == 0, err
    with open(output, encoding="utf-8") as f:
        return output, f.read()


def sla_json(site, capsys, source=()):
    return sla_json_of(["-c", site["config"]] + SAME_WINDOW + list(source), capsys)


def sla_json_of(argv, capsys):
    code, out, _ = run(sla_command, ["--json"] + argv, capsys)
    assert code == 0
    return json.loads(out)


class Figures(HTMLParser):
    """What the page shows: summary rows and each entity's outages (start, duration, verdict),
    the text of their cells, and the charts."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.rows, self.outages, self.charts = {}, {}, {}
        self.entity, self.cell, self.current, self.measure = None, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "section" and "entity" in classes:
            self.entity = attrs["data-entity"]
        elif tag == "tr" and "row" in classes:
            self.current = self.rows[attrs["data-entity"]] = dict(attrs, cells=[])
        elif tag == "tr" and "outage" in classes:
            self.current = dict(attrs, cells=[])
            self.outages.setdefault(self.entity, []).append(self.current)
        elif tag == "td" and self.current is not None:
            self.cell = []
        elif tag == "svg" and self.entity:
            self.charts.setdefault(self.entity, []).append([classes[0], 0])
        elif tag in ("rect", "polyline", "circle") and self.entity and self.charts.get(
                self.entity):
            self.charts[self.entity][-1][1] += 1
        elif tag == "body" and attrs.get("data-measure"):
            self.measure = json.loads(attrs["data-measure"])

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None and self.current is not None:
            self.current["cells"].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr":
            self.current = None
        elif tag == "section":
            self.entity = None


def figures_of(text):
    parser = Figures()
    parser.feed(text)
    return parser


def check_against_sla(page, data):
    """Every availability, outage count, total and outage (start, duration) on the page is the
    one `guestagent sla --json` gives for the same period and source."""
    entities = [(e, "target") for e in data["targets"]] + [(e, "group") for e in data["groups"]]
    assert sorted(page.rows) == sorted(e["name"] for e, _ in entities)
    for entry, kind in entities:
        expected = entry["periods"][0]
        row = page.rows[entry["name"]]
        assert row["data-type"] == kind
        assert float(row["data-availability"]) == expected["availability"]
        assert row["cells"][1] == "{:.3f} %".format(100 * expected["availability"])
        assert int(row["data-outages"]) == expected["outages"]["count"]
        assert row["cells"][4] == str(expected["outages"]["count"])
        assert float(row["data-outage-total-s"]) == expected["outages"]["total_s"]
        shown = [(float(o["data-start-ts"]), float(o["data-duration-s"]))
                 for o in page.outages.get(entry["name"], [])]
        listed = [(o["start_ts"], o.get("duration_s", o.get("duration_so_far_s")))
                  for o in expected["outages"]["list"]]
        if len(listed) > report_command.MAX_OUTAGES_LISTED:  # the longest, in time order
            cut = sorted(listed, key=lambda o: -o[1])[report_command.MAX_OUTAGES_LISTED - 1][1]
            assert len(shown) == report_command.MAX_OUTAGES_LISTED
            assert set(shown) <= set(listed) and min(o[1] for o in shown) >= cut
            assert sorted(shown) == shown
        else:
            assert shown == listed


def test_figures_equal_sla_json_from_the_state_and_the_journal(site, tmp_path, capsys):
    for source in ((), ("--journal", site["journal"])):
        _, text = render(site, tmp_path, capsys, source)
        data = sla_json(site, capsys, source)
        page = figures_of(text)
        check_against_sla(page, data)
        edge = page.rows["edge"]
        # 6 + 1 lost cycles of edge: two outages; the error cycle's 600 s are unknown
        assert edge["data-outages"] == "2" and float(edge["data-outage-total-s"]) == 4200.0
        assert edge["cells"][2] == "missed" and page.rows["resolver"]["cells"][2] == "met"
        # the fault domain the cycles named during edge's outage (journal only)
        verdicts = [o["cells"][3] for o in page.outages["edge"]]
        assert verdicts == ["access (6 of 6 cycles)", "access (1 of 1 cycles)"]
        assert "ir1101-synthetic" in text and "FCW0000SYNT" in text and "48.85" in text
        assert set(c for c, _ in page.charts["edge"]) == {"chart-loss", "chart-delay"}


def test_nothing_is_fetched_when_opened(site, tmp_path, capsys):
    _, text = render(site, tmp_path, capsys, ("--journal", site["journal"]))
    assert "http://" not in text and "https://" not in text
    lowered = text.lower()
    for construct in ("<script", "<link", "<img", "<iframe", "@import", "@font-face", "url(",
                      " src=", " href="):
        assert construct not in lowered, construct
    assert lowered.count("<svg") == 2 * 7  # loss and delay per test point and group


def test_default_period_is_the_last_complete_month():
    assert report_command.last_complete_month(START) == "2026-10"
    assert report_command.last_complete_month(1798761600.0) == "2026-12"  # 2027-01-01
    assert report_command.month_window("2026-12") == (1796083200.0, 1798761600.0)
    for bad in ("2026-13", "2026-1x", "26-11", "2026"):
        with pytest.raises(ValueError):
            report_command.month_window(bad)


def test_bad_period_or_objective_is_a_usage_error(site, tmp_path, capsys):
    for argv in (["--month", "2026-13"], ["--month", "2026-11", "--from", "2026-11-01"],
                 ["--to", "2026-11-02"], ["--from", "2026-11-03", "--to", "2026-11-02"],
                 ["--month", "2026-11", "--objective", "0"]):
        code, _, err = run(report_command, ["-c", site["config"], "-o", str(tmp_path / "x")]
                           + argv, capsys)
        assert code == 2 and err.startswith("guestagent report: "), argv
    assert not os.path.exists(str(tmp_path / "x"))


def test_from_to_and_selection(site, tmp_path, capsys):
    output = str(tmp_path / "day.html")
    code, out, _ = run(report_command, ["-c", site["config"], "-o", output, "--from",
                                        "2026-11-27", "--to", "2026-11-28", "--target", "edge",
                                        "--group", "either"], capsys)
    assert code == 0 and "1 test point(s), 1 group(s)" in out
    with open(output, encoding="utf-8") as f:
        page = figures_of(f.read())
    assert sorted(page.rows) == ["edge", "either"]
    assert page.rows["either"]["data-outages"] == "1"  # 103..105: both down


def test_by_area_goes_to_the_areas_report(site, tmp_path, capsys, monkeypatch):
    from guestagent import areas
    code, _, err = run(report_command, ["-c", site["config"], "--by", "area"], capsys)
    assert code == 2 and "--journal" in err  # no source given
    seen = {}

    def report_rows(args):
        seen.update(journal=args.journal, victoriametrics=args.victoriametrics,
                    format=args.format, top=args.top)
        return 0
    monkeypatch.setattr(areas, "report_rows", report_rows)
    code, _, _ = run(report_command, ["-c", site["config"], "--by", "area", "--journal", "a",
                                      "--journal", "b", "--format", "json", "--top", "3"], capsys)
    assert code == 0
    assert seen == {"journal": ["a", "b"], "victoriametrics": None, "format": "json", "top": 3}
    # Several journals make sense for a fleet's areas only.
    code, _, err = run(report_command, ["-c", site["config"], "--journal", "a", "--journal",
                                        "b"], capsys)
    assert code == 2 and "--by area" in err


def test_report_plugs_into_the_command_line(site, tmp_path, capsys):
    from guestagent import cli
    assert "report" in cli.COMMANDS
    output = str(tmp_path / "cli.html")
    assert cli.main(["report", "-c", site["config"], "-o", output] + MONTH) == 0
    assert os.path.getsize(output) > 1000


# -- headless Chromium ---------------------------------------------------------------------------
# Measures the layout once loaded: what sticks out past the viewport's width, and the charts.
MEASURE = """<script>
(function () {
  var width = document.documentElement.clientWidth, wide = [];
  var all = document.body.getElementsByTagName("*");
  for (var i = 0; i < all.length; i++) {
    var box = all[i].getBoundingClientRect();
    if (box.right > width + 0.5 || box.left < -0.5) {
      wide.push(all[i].tagName + "." + all[i].className + " " + Math.round(box.right));
    }
  }
  document.body.setAttribute("data-measure", JSON.stringify({
    client_width: width, scroll_width: document.documentElement.scrollWidth, wide: wide,
    svg: document.getElementsByTagName("svg").length}));
})();
</script></body>"""


def chromium(tmp_path, *options):
    """One headless Chromium run with its own profile; (stdout, seconds)."""
    profile = tmp_path / "profile"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
               "--user-data-dir=" + str(profile)] + list(options)
    started = time.time()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, time.time() - started


@needs_chromium
def test_chromium_renders_png_pdf_without_overflow(site, tmp_path, capsys, figures):
    source = ("--journal", site["journal"])
    output, text = render(site, tmp_path, capsys, source)
    data = sla_json(site, capsys, source)
    url = "file://" + output

    # The figures as Chromium parsed the page equal `sla --json`; every chart is drawn.
    measured = str(tmp_path / "measured.html")
    with open(measured, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", MEASURE))
    for width in (703, 1200):  # 186 mm: A4 less the print margins; a desktop window
        dom, _ = chromium(tmp_path, "--window-size={},1000".format(width), "--dump-dom",
                          "file://" + measured)
        page = figures_of(dom)
        check_against_sla(page, data)
        assert page.measure["scroll_width"] <= page.measure["client_width"], page.measure
        assert page.measure["wide"] == [], page.measure["wide"]
        assert page.measure["svg"] == 14
        for entity, charts in page.charts.items():
            assert [c for c, _ in charts] == ["chart-loss", "chart-delay"], entity
            assert all(marks > 0 for _, marks in charts), (entity, charts)

    png = str(tmp_path / "report.png")
    _, png_s = chromium(tmp_path, "--window-size=900,1300", "--screenshot=" + png, url)
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"

    pdf = str(tmp_path / "report.pdf")
    _, pdf_s = chromium(tmp_path, "--no-pdf-header-footer", "--print-to-pdf-no-header",
                        "--print-to-pdf=" + pdf, url)
    with open(pdf, "rb") as f:
        body = f.read()
    assert body.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", body))
    # 3 test points and 4 groups, two or three to a page, then the definitions
    assert 3 <= pages <= 8, pages
    boxes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", body))
    assert boxes and all(abs(float(w) - 595.9) < 2 and abs(float(h) - 842.9) < 2
                         for w, h in boxes), boxes  # A4 in points
    figures("report: {} PDF page(s); chromium {:.1f} s to PNG, {:.1f} s to PDF".format(
        pages, png_s, pdf_s))


def test_render_time_of_30_days_of_10_test_points(tmp_path, capsys, figures):
    """A month of 5-minute cycles for 10 test points (bench/bench_sla.py's samples, journaled
    as cycles journal them): the report's time from the journal is printed, not asserted."""
    import importlib.util
    import random
    spec = importlib.util.spec_from_file_location(
        "bench_sla", os.path.join(ROOT, "bench", "bench_sla.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = random.Random(11)
    start = 1790812800.0  # 2026-10-01T00:00:00Z
    journal_dir = tmp_path / "journal"
    journal_dir.mkdir()
    with open(str(journal_dir / journal.CURRENT), "w", encoding="utf-8") as f:
        for n in range(30 * 288):
            ts = start + n * 300
            report = bench.report(ts, 10, rng)
            report["agent"], report["isolation"] = AGENT, isolation.verdict(report["probes"])
            report["location"] = {"source": "gps", "latitude": 48.85, "longitude": 2.35}
            f.write(dumps(report) + "\n")
    path = tmp_path / "config.yaml"
    path.write_text("agent: {state_dir: %s, interval_s: 300}\n" % (tmp_path / "state"))
    output = str(tmp_path / "month.html")
    started, cpu_started = time.time(), time.process_time()
    code, out, err = run(report_command, ["-c", str(path), "--journal", str(journal_dir),
                                          "--month", "2026-10", "-o", output], capsys)
    elapsed, cpu_s = time.time() - started, time.process_time() - cpu_started
    assert code == 0, err
    assert "10 test point(s)" in out
    with open(output, encoding="utf-8") as f:
        page = figures_of(f.read())
    points = [row for row in page.rows.values() if row["data-type"] == "target"]
    assert len(points) == 10 and all(0.9 < float(row["data-availability"]) < 1 for row in points)
    assert sum(int(row["data-outages"]) for row in points) > 10
    # a long outage list is cut to its longest outages, and says how many it leaves out
    uplink = page.rows["uplink"]
    assert int(uplink["data-outages"]) > report_command.MAX_OUTAGES_LISTED
    assert len(page.outages["uplink"]) == report_command.MAX_OUTAGES_LISTED
    with open(output, encoding="utf-8") as f:
        not_listed = [int(n) for n in re.findall(r'data-not-listed="(\d+)"', f.read())]
    assert int(uplink["data-outages"]) - report_command.MAX_OUTAGES_LISTED in not_listed
    figures("report: 30 days x 10 test points (86400 samples) from the journal rendered in "
            "{:.1f} s ({:.1f} s of CPU), {} KiB of HTML".format(
                elapsed, cpu_s, os.path.getsize(output) // 1024))
    if os.environ.get("GUESTAGENT_SAVE_SCREENSHOT") and CHROMIUM:  # how docs/report.png is made
        png = str(tmp_path / "month.png")
        chromium(tmp_path, "--window-size=900,1300", "--screenshot=" + png, "file://" + output)
        shutil.copy(png, os.path.join(ROOT, "docs", "report.png"))
