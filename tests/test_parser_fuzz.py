"""Mutation fuzz with size growth: every parser of `ios.PARSERS` is fed real fixtures mutated
(lines repeated, long runs of digits/spaces/separators inserted into real lines, truncation,
random bytes decoded) and must never raise; and its time per MB must not grow with the input's
size (a super-linear pattern shows as a per-MB time that grows with the size).

This is a complexity check, not a speed goal: the bound is a ratio between sizes of the same input
shape, with a generous factor. Run with `-s` to see the figures.
"""

import gc
import glob
import os
import random
import re
import time

from guestagent import ios
from tests.conftest import FIXTURES

SEED = 12
# Fixture directories read by each parser (its own command, and outputs holding its sections).
SOURCES = {
    "linux-ping": ["linux_ping"],
    "linux-traceroute": ["linux_traceroute"],
    "show-ip-sla-statistics": ["show_ip_sla_statistics"],
    "show-ip-sla-statistics-details": ["show_ip_sla_statistics_details", "show_ip_sla_statistics"],
    "show-ip-sla-summary": ["show_ip_sla_summary"],
    "show-ip-sla-configuration": ["show_ip_sla_configuration"],
    "show-track": ["show_track"],
    "show-cellular-gps": ["show_cellular_gps", "show_controllers_cellular"],
    "show-cellular-radio": ["show_cellular_radio", "show_cellular_all"],
    "show-cellular-network": ["show_cellular_network", "show_cellular_all"],
    "show-cellular-hardware": ["show_cellular_hardware", "show_cellular_all"],
    "show-version": ["show_version"],
    "show-interfaces": ["show_interfaces"],
    "ios-ping": ["ios_ping", "ios_ping_mpls"],
    "ios-traceroute": ["ios_traceroute", "ios_traceroute_mpls"],
    "nmea": ["nmea"],
}
SCREEN_BYTES = 2 * 1024
MAX_SHAPES = 1500  # per parser, sampled with a fixed seed: the whole test stays near a minute
CONTEXT_LINES = 40
SIZES = (16 * 1024, 64 * 1024, 256 * 1024)
GROWTH_LIMIT = 4.0  # per-MB time at 256 KB over per-MB time at 16 KB
ABORT_S = 2.0  # one parse this long while growing: super-linear, stop there
WORST_PER_KIND = 3  # screened shapes measured again at every size
# What a long run inside a line is made of: digits, blanks, separators, letters and their mixes.
FILLERS = ["9", " ", "\t", "9 ", "9.", ":", "9/", "-", "=", "9,", "a", "a ", "*", "(", "9 ms ",
           "mixed"]
MIX = "9 .:/-=,a\t*!(["


def texts(kind):
    out = []
    for directory in SOURCES[kind]:
        for path in sorted(glob.glob(os.path.join(FIXTURES, directory, "*.txt"))):
            with open(path, encoding="utf-8") as f:
                out.append(f.read())
    return out


def lines_of(kind):
    """(line, the fixture text it is in, its index): one line of each shape (digits and words
    alike), so that a long run can be put into a real line in its real context."""
    seen, shapes_seen = [], set()
    for text in texts(kind):
        lines = text.splitlines()
        for index, line in enumerate(lines):
            shape = re.sub(r"[A-Za-z]+", "a", re.sub(r"\d+", "9", line.strip()))
            if shape and shape not in shapes_seen:
                shapes_seen.add(shape)
                seen.append((line, lines, index))
    return seen


def run_filler(filler, size):
    if filler == "mixed":
        rnd = random.Random(SEED)
        return "".join(rnd.choice(MIX) for _ in range(size))
    return (filler * (size // len(filler) + 1))[:size]


def insertion_points(line):
    points = {len(line), len(line) // 2}
    for sep in (":", "=", " "):
        if sep in line:
            points.add(line.index(sep) + 1)
    return sorted(points)


def shapes(kind):
    """(name, make(size) -> text) for every mutation of the kind's fixtures."""
    out = []
    whole = "\n".join(texts(kind)) + "\n"

    def repeat(size, whole=whole):
        return (whole * (size // len(whole) + 1))[:size]
    out.append(("repeated fixtures", repeat))

    def truncated(size, whole=whole):
        text = repeat(size + len(whole))
        cut = random.Random(size).randrange(len(whole))
        return text[cut:cut + size]  # starts and ends mid-line
    out.append(("repeated, cut mid-line", truncated))

    def random_bytes(size):
        rnd = random.Random(SEED + size)
        return bytes(rnd.randrange(256) for _ in range(size)).decode("utf-8", "replace")
    out.append(("random bytes as utf-8", random_bytes))

    def random_lines(size, lines=[line for line, _, _ in lines_of(kind)]):
        rnd = random.Random(SEED + size)
        parts, total = [], 0
        while total < size:
            line = rnd.choice(lines)
            if rnd.random() < 0.3:
                line = line[:rnd.randrange(len(line) + 1)]
            parts.append(line)
            total += len(line) + 1
        return "\n".join(parts)[:size]
    out.append(("real lines shuffled and cut", random_lines))

    for line, lines, index in lines_of(kind):
        # The lines around it: a parser reads most lines only inside a block that began above.
        before = "\n".join(lines[max(0, index - CONTEXT_LINES):index])
        after = "\n".join(lines[index + 1:index + 4])

        def itself(size, line=line, before=before, after=after):
            return "\n".join((before, (line + " ") * (size // (len(line) + 1) + 1), after))
        out.append(("line repeated on one line: {!r}".format(line[:40]), itself))
        for point in insertion_points(line):
            for filler in FILLERS:
                def long_line(size, line=line, point=point, filler=filler, before=before,
                              after=after):
                    long = line[:point] + run_filler(filler, size) + line[point:]
                    return "\n".join((before, long, after))
                out.append(("{!r} run in {!r} at {}".format(filler, line[:40], point), long_line))
    if len(out) > MAX_SHAPES:
        out = out[:4] + random.Random(SEED).sample(out[4:], MAX_SHAPES - 4)
    return out


def timed(parse, text, tries=1, collect=True):
    best = None
    for _ in range(tries):
        # The collector's passes cost with the whole heap, not with this input: keep them out.
        if collect:
            gc.collect()
        gc.disable()
        try:
            # CPU time of this process: what other processes on a shared machine do is not in it.
            started = time.process_time()
            result = parse(text)
            seconds = time.process_time() - started
        finally:
            gc.enable()
        best = seconds if best is None else min(best, seconds)
    assert isinstance(result, dict) and isinstance(result["recognized"], bool)
    return best


def test_every_parser_has_fixtures_to_mutate():
    assert sorted(SOURCES) == ios.kinds()
    for kind in SOURCES:
        assert texts(kind), kind


def test_parsers_never_raise_and_stay_linear_on_mutated_fixtures(figures):
    tried, raises, failures = 0, [], []
    worst_ratio = (0.0, None)
    started = time.monotonic()
    for kind in ios.kinds():
        parse = ios.parser(kind)
        screened = []
        for name, make in shapes(kind):
            tried += 1
            text = make(SCREEN_BYTES)
            try:
                seconds = timed(parse, text, collect=False)
            except Exception as exc:  # noqa: BLE001 - the figure we count
                raises.append("{}: {}: {!r}".format(kind, name, exc))
                continue
            screened.append((seconds / len(text), name, make))
        screened.sort(key=lambda item: -item[0])
        always = [s for s in screened if not s[1].startswith(("'", "line"))]
        for screen_per_byte, name, make in screened[:WORST_PER_KIND] + always:
            per_mb = []
            for size in SIZES:
                text = make(size)
                tried += 1
                try:
                    seconds = timed(parse, text, tries=2 if size < SIZES[-1] else 1)
                except Exception as exc:  # noqa: BLE001
                    raises.append("{}: {} at {} B: {!r}".format(kind, name, size, exc))
                    break
                per_mb.append(seconds / len(text) * 1e6)
                if seconds > ABORT_S and per_mb[-1] / (screen_per_byte * 1e6) >= GROWTH_LIMIT:
                    # Growing already, and the next size would take minutes.
                    failures.append("{}: {}: {:.1f} s at {} B, s/MB {:.3f} at {} B".format(
                        kind, name, seconds, size, screen_per_byte * 1e6, SCREEN_BYTES))
                    break
            else:
                ratio = per_mb[-1] / per_mb[0]
                for _ in range(3):
                    if ratio < GROWTH_LIMIT:
                        break
                    # Measure again before calling it super-linear: caches and clocks vary.
                    ratio = min(ratio, timed(parse, make(SIZES[-1]), tries=2) / SIZES[-1]
                                / (timed(parse, make(SIZES[0]), tries=3) / SIZES[0]))
                if ratio >= GROWTH_LIMIT:
                    failures.append("{}: {}: s/MB {} (x{:.1f})".format(
                        kind, name, " ".join("{:.3f}".format(v) for v in per_mb), ratio))
                if ratio > worst_ratio[0]:
                    worst_ratio = (ratio, "{}: {}".format(kind, name))
    figures("\nparser fuzz: {} inputs tried, {} raised, worst per-MB ratio 256 KB/16 KB {:.2f} "
            "({}), {:.1f} s".format(tried, len(raises), worst_ratio[0], worst_ratio[1],
                                    time.monotonic() - started))
    for line in (raises + failures)[:40]:
        figures("  " + line)
    assert raises == []
    assert failures == []


# The defects the fuzz found, each as a plain case.

def test_numbers_too_long_for_a_float_or_a_counter_are_absent_not_raised():
    from guestagent.ios import common
    assert common.number("9" * 400) is None  # float() gives inf beyond 309 digits
    assert common.number("9" * 400 + ".5") is None
    assert common.integer("9" * 21) is None and common.integer("9" * 20) == int("9" * 20)
    assert common.number("1" * 300 + ".5") == float("1" * 300 + ".5")
    text = "IPSLA operation id: 1\n\tNumber of successes: {}\n\tLatest RTT: {} milliseconds\n"
    op = ios.parser("show-ip-sla-statistics")(text.format("9" * 400, "9" * 400))["operations"]["1"]
    assert op["successes"] is None and op["latest_rtt_ms"] is None


def test_a_100k_digit_radio_value_is_dropped():
    digits = "9" * 100000
    text = ("Current RSSI = {0} dBm\nNumber of nearby cells = {0}\nLTE Band = {0}\n"
            "Physical Cell Id = {0}\nCurrent SNR = 4.4 dB\n").format(digits)
    result = ios.parser("show-cellular-radio")(text)
    assert result["snr_db"] == 4.4
    assert not {"rssi_dbm", "nearby_cells", "physical_cell_id"} & set(result)


def test_summary_last_run_read_word_by_word():
    parse = ios.parser("show-ip-sla-summary")
    head = "ID Type Destination Stats ReturnCode LastRun\n"
    row = parse(head + "*7 icmp-echo 10.0.0.1 RTT=3 OK 2 seconds ago")["operations"]["7"]
    assert (row["return_code"], row["last_run"], row["last_run_ago_s"]) == (
        "OK", "2 seconds ago", 2)
    # A 16 KB run of digits where LastRun would be (4 s before): read as the return code.
    row = parse(head + "*1 icmp 1.1.1.1 1 OK " + "1" * 16000)["operations"]["1"]
    assert "last_run" not in row and row["return_code"].startswith("OK 111")
