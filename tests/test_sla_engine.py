"""The definitions of docs/metrics.md on hand-computed sample sequences (guestagent.sla.engine)."""

import calendar

import pytest

from guestagent.sla import engine

INTERVAL = 300.0
T0 = 1700000000.0  # 2023-11-14T22:13:20Z


def rec(ts, available=True, delay=10.0, loss=None, error=False, sent=10, kind="icmp"):
    """A record as engine.normalize makes it; `available` False and no delay = all lost."""
    if loss is None:
        loss = 0.0 if available else 1.0
    return {"ts": float(ts), "target": "tp", "kind": kind, "role": "isp-edge", "groups": [],
            "error": error, "available": None if error else available,
            "sent": None if error else sent,
            "received": None if error else int(round(sent * (1 - loss))),
            "values": {"delay_ms": None if error else delay,
                       "loss_ratio": None if error else loss,
                       "jitter_ms": None}, "within": {}}


def seq(pattern, step=INTERVAL, start=0.0):
    """'AAUA' -> records every `step` s: A available, U unavailable (all lost), E error."""
    out = []
    for i, c in enumerate(pattern):
        ts = start + i * step
        if c == "A":
            out.append(rec(ts))
        elif c == "U":
            out.append(rec(ts, available=False, delay=None))
        elif c == "E":
            out.append(rec(ts, error=True))
    return out


CFG = {"loss_max": 0.2, "rtt_max_ms": 500, "outage_min_s": 0, "restore_min_s": 0,
       "baseline_window_days": 14, "baseline_min_samples": 5, "threshold_t": 3,
       "spread_floor_abs_ms": 1, "spread_floor_abs_ratio": 0.01, "spread_floor_rel": 0.1}


# -- one sample ------------------------------------------------------------------------------------
def icmp_sample(received=10, median=12.0, error=None, sent=10):
    return {"kind": "icmp", "target": "edge", "role": "isp-edge", "group": ["uplink"],
            "started": T0, "error": error, "sent": sent, "received": received,
            "loss_ratio": (sent - received) / float(sent), "reachable": received > 0,
            "rtt_ms": {"median": median} if received else None, "jitter_ms": 0.5}


def test_available_needs_loss_and_delay_under_thresholds():
    assert engine.normalize(icmp_sample(), 0.2, 500)["available"] is True
    # 2 of 10 lost: 0.2 <= loss_max 0.2 -> still available; 3 lost -> not.
    assert engine.normalize(icmp_sample(received=8), 0.2, 500)["available"] is True
    assert engine.normalize(icmp_sample(received=7), 0.2, 500)["available"] is False
    assert engine.normalize(icmp_sample(median=500.0), 0.2, 500)["available"] is True
    assert engine.normalize(icmp_sample(median=500.1), 0.2, 500)["available"] is False
    lost = engine.normalize(icmp_sample(received=0), 0.2, 500)
    assert lost["available"] is False and lost["values"]["delay_ms"] is None
    assert lost["values"]["loss_ratio"] == 1.0


def test_ios_sample_without_median_stands_for_its_average():
    """IOS's ping prints min/avg/max only: the average is the sample's delay."""
    sample = icmp_sample()
    sample.update(via="ios", rtt_ms={"min": 1, "avg": 2, "max": 10, "median": None,
                                     "p95": None, "mdev": None}, jitter_ms=None)
    record = engine.normalize(sample, 0.2, 500)
    assert record["available"] is True and record["values"]["delay_ms"] == 2
    sample["rtt_ms"]["avg"] = 501
    assert engine.normalize(sample, 0.2, 500)["available"] is False
    # replies but no times at all (IOS stopped before its summary line): loss decides
    sample.update(rtt_ms=None, sent=4, received=4, loss_ratio=0.0)
    record = engine.normalize(sample, 0.2, 500)
    assert record["available"] is True and record["values"]["delay_ms"] is None
    sample.update(received=0, loss_ratio=1.0, reachable=False)
    assert engine.normalize(sample, 0.2, 500)["available"] is False


def test_measurement_error_is_neither_available_nor_unavailable():
    record = engine.normalize(icmp_sample(error="ping: permission denied"), 0.2, 500)
    assert record["error"] is True and record["available"] is None
    assert record["sent"] is None and record["values"]["loss_ratio"] is None


def test_dns_sample_uses_query_loss_and_response_time():
    sample = {"kind": "dns", "target": "resolver", "role": "dns", "started": T0, "error": None,
              "queries_sent": 4, "queries_answered": 4, "loss_ratio": 0.0,
              "response_ms": {"median": 31.0, "p95": 40.0}}
    record = engine.normalize(sample, 0.2, 500)
    assert record["available"] is True
    assert record["values"]["delay_ms"] == 31.0 and record["sent"] == 4
    sample.update(queries_answered=3, loss_ratio=0.25)
    assert engine.normalize(sample, 0.2, 500)["available"] is False
    assert [m for m, _ in engine.metrics_of("dns")] == ["response_ms", "query_loss_ratio"]


def test_samples_without_loss_or_reachability_are_not_tracked():
    assert engine.normalize({"kind": "traceroute", "target": "path", "error": None,
                             "started": T0}, 0.2, 500) is None


# -- availability ----------------------------------------------------------------------------------
def test_steady_availability():
    records = seq("AAAAA")
    result = engine.availability(records, INTERVAL, 0, 1500)
    assert result == {"known_s": 1500.0, "available_s": 1500.0, "availability": 1.0}


def test_single_sample_outage():
    records = seq("AAUAA")
    # the U sample at 600 stands for 600..900: 300 s of 1500 s unavailable.
    assert engine.availability(records, INTERVAL, 0, 1500)["availability"] == pytest.approx(0.8)
    outages = engine.outages(records)
    assert outages == [{"start_ts": 600.0, "end_ts": 900.0, "duration_s": 300.0}]


def test_gap_in_the_schedule_is_unknown_time():
    records = [rec(0), rec(300), rec(2000, available=False, delay=None), rec(2300)]
    result = engine.availability(records, INTERVAL, None, 2600)
    # spans: 300, min(1700, 600) = 600, 300, 300 (to the window end): known 1500 of 2600 s.
    assert result["known_s"] == 1500.0
    assert result["available_s"] == 1200.0
    assert result["availability"] == pytest.approx(0.8)


def test_irregular_extra_samples_split_the_time():
    records = [rec(0), rec(300), rec(420, False, None), rec(480, False, None), rec(600),
               rec(900)]
    result = engine.availability(records, INTERVAL, None, 1200)
    # spans 300, 120, 60, 120, 300, 300: 180 s unavailable of 1200 s.
    assert result["known_s"] == 1200.0
    assert result["available_s"] == 1020.0
    assert engine.outages(records) == [{"start_ts": 420.0, "end_ts": 600.0, "duration_s": 180.0}]


def test_measurement_error_is_excluded():
    records = seq("AEA")
    result = engine.availability(records, INTERVAL, None, 900)
    assert result["known_s"] == 600.0 and result["availability"] == 1.0
    assert engine.outages(records) == []
    # an error inside an outage neither ends nor extends it by itself
    assert engine.outages(seq("AUEUA")) == [{"start_ts": 300.0, "end_ts": 1200.0,
                                             "duration_s": 900.0}]


def test_window_clips_the_time_samples_stand_for():
    records = seq("AUA")
    # window 450..750: half of the U sample's 300..600 and half of the A sample's 600..900
    result = engine.availability(records, INTERVAL, 450, 750)
    assert result == {"known_s": 300.0, "available_s": 150.0, "availability": 0.5}


def test_clock_step_backwards_gives_zero_time_never_negative():
    records = [rec(1000), rec(1300, False, None), rec(1100), rec(1400)]
    result = engine.availability(records, INTERVAL)
    # 1000->1300: 300 available; 1300->1100: 0 (unknown); 1100->1400: 300; last: no end.
    assert result == {"known_s": 600.0, "available_s": 600.0, "availability": 1.0}
    outages = engine.outages(records)
    assert len(outages) == 1
    assert outages[0]["start_ts"] == 1300.0 and outages[0]["duration_s"] == 0.0


# -- outages ---------------------------------------------------------------------------------------
def test_flapping_link_with_minimum_durations():
    #          0 300 600 900 1200 1500 1800 2100 2400 2700 3000 3300
    records = seq("AUAUUUAUAAAA")
    assert [(o["start_ts"], o["end_ts"]) for o in engine.outages(records)] == [
        (300.0, 600.0), (900.0, 1800.0), (2100.0, 2400.0)]
    assert engine.time_between_outages(engine.outages(records)) == [600.0, 1200.0]
    # 600 s both ways: the lone U at 300 is too short; 900..1500 lasts 600 s -> outage from
    # 900; the A at 1800 is followed by U at 2100 (restore too short); 2400..3000 lasts 600 s
    # -> ends at 2400.
    assert engine.outages(records, 600, 600) == [
        {"start_ts": 900.0, "end_ts": 2400.0, "duration_s": 1500.0}]


def test_outage_seconds_added_never_go_back_and_sum_to_the_duration():
    records = seq("AUAUUUAUAAAA")
    state = engine.new_outage_state()
    total, steps = 0.0, []
    for r in records:
        state, events, added = engine.outage_step(state, r["ts"], r["available"], 600, 600)
        assert added >= 0
        total += added
        steps.append(added)
    assert total == 1500.0
    # declared at 1500 (600 s at once), then 300 s per sample until the restore run begins.
    assert steps == [0, 0, 0, 0, 0, 600, 300, 300, 300, 0, 0, 0]


def test_outage_still_open_at_the_end_of_the_window():
    records = seq("AUU")
    assert engine.outages(records, end_ts=900) == [
        {"start_ts": 300.0, "end_ts": None, "duration_so_far_s": 600.0}]
    assert engine.outages(records)[0]["duration_so_far_s"] == 300.0  # to the last sample
    clipped = engine.clip_outages(engine.outages(records, end_ts=900), 0, 900)
    assert clipped[0]["in_window_s"] == 600.0


def test_outages_overlapping_the_window_are_clipped():
    outages = engine.outages(seq("AUUUA"))  # 300..1200
    clipped = engine.clip_outages(outages, 600, 3000)
    assert len(clipped) == 1 and clipped[0]["in_window_s"] == 600.0
    assert clipped[0]["duration_s"] == 900.0  # the list keeps the real duration
    assert engine.clip_outages(outages, 1200, 3000) == []


# -- baselines -------------------------------------------------------------------------------------
def test_baseline_median_and_interquartile_range_with_linear_interpolation():
    base = engine.baseline([float(v) for v in range(1, 11)], 1.0, 0.1, 5)
    # Q1 at position 9 x 0.25 = 2.25 -> 3.25; Q3 at 6.75 -> 7.75; IQR 4.5; B = 5.5.
    assert base["B"] == 5.5 and base["iqr"] == 4.5 and base["S"] == 4.5
    assert base["n"] == 10 and base["learning"] is False
    assert engine.quantile_linear([1.0, 2.0, 3.0, 4.0], 0.25) == 1.75


def test_flat_history_uses_the_spread_floor():
    flat = engine.baseline([10.0] * 20, 1.0, 0.1, 5)
    assert flat["iqr"] == 0 and flat["S"] == 1.0  # max(0, 1 ms, 0.1 x 10 ms)
    assert engine.within(12.9, flat, 3) is True
    assert engine.within(13.5, flat, 3) is False
    high = engine.baseline([50.0] * 20, 1.0, 0.1, 5)
    assert high["S"] == 5.0  # the relative floor wins: 0.1 x 50 ms
    assert engine.within(64.0, high, 3) is True   # 14 / 5 = 2.8
    assert engine.within(66.0, high, 3) is False  # 16 / 5 = 3.2


def test_learning_period_gives_no_verdicts():
    records = [rec(i * INTERVAL, delay=10.0 + (i % 3)) for i in range(8)]
    engine.verdicts(records, CFG)
    verdicts = [r["within"]["delay_ms"] for r in records]
    # each sample is judged against the samples before it; 5 are needed (baseline_min_samples)
    assert verdicts[:5] == [None] * 5
    assert verdicts[5:] == [True, True, True]
    assert engine.baseline([10.0] * 4, 1, 0.1, 5)["learning"] is True
    assert engine.within(10.0, engine.baseline([10.0] * 4, 1, 0.1, 5), 3) is None


def test_all_lost_sample_is_out_of_baseline():
    records = [rec(i * INTERVAL) for i in range(6)] + [rec(1800, available=False, delay=None)]
    engine.verdicts(records, CFG)
    last = records[-1]["within"]
    assert last["delay_ms"] is False          # no value: out of baseline
    assert last["loss_ratio"] is False        # loss 1.0 vs B 0, S 0.01 (the ratio floor)


def test_measurement_error_is_not_judged_and_not_in_the_baseline():
    records = [rec(i * INTERVAL) for i in range(5)] + [rec(1500, error=True), rec(1800)]
    engine.verdicts(records, CFG)
    assert records[5]["within"] == {}
    assert records[6]["within"]["delay_ms"] is True
    assert engine.fa(records, "delay_ms") == {"n": 1, "nb": 1, "fa": 1.0}


def test_baseline_window_slides():
    cfg = dict(CFG, baseline_window_days=1.0 / 24, baseline_min_samples=2)  # one hour
    records = [rec(0, delay=100.0), rec(600, delay=100.0), rec(1200, delay=100.0),
               rec(4000, delay=10.0), rec(4300, delay=10.0), rec(4600, delay=10.0)]
    engine.verdicts(records, cfg)
    # at 4000 the window (400..4000) holds 600 and 1200 (100 ms): 10 ms is far out.
    assert records[3]["within"]["delay_ms"] is False
    # at 4600 the window (1000..4600) holds 1200 (100), 4000 and 4300 (10): B = 10, S = IQR 45.
    assert records[5]["within"]["delay_ms"] is True


def test_fa_is_the_fraction_within_baseline_of_the_judged_samples():
    records = [rec(0), rec(300), rec(600), rec(900)]
    for r, verdict in zip(records, (True, False, None, True)):
        r["within"] = {"delay_ms": verdict}
    assert engine.fa(records, "delay_ms") == {"n": 3, "nb": 2, "fa": pytest.approx(2.0 / 3)}
    assert engine.fa(records, "delay_ms", 300, 900) == {"n": 1, "nb": 0, "fa": 0.0}


# -- groups ----------------------------------------------------------------------------------------
def test_group_available_when_every_member_is_unless_any():
    members = {"a": seq("AAA"), "b": seq("AUA")}
    all_mode = engine.group_segments(members, INTERVAL, "all", None, 900)
    assert all_mode == [(0.0, 300.0, True), (300.0, 600.0, False), (600.0, 900.0, True)]
    assert engine.group_availability(all_mode)["availability"] == pytest.approx(2.0 / 3)
    any_mode = engine.group_segments(members, INTERVAL, "any", None, 900)
    assert any_mode == [(0.0, 900.0, True)]
    outages = engine.outages(engine.group_records(all_mode))
    assert [(o["start_ts"], o["end_ts"]) for o in outages] == [(300.0, 600.0)]


def test_group_leaves_out_members_with_unknown_state():
    members = {"a": seq("AAAA"), "b": [rec(0, available=False, delay=None)] + seq("EEE", start=300)}
    segments = engine.group_segments(members, INTERVAL, "all", None, 1200)
    # b is unavailable 0..300 then unknown (errors): the group follows a alone.
    assert segments == [(0.0, 300.0, False), (300.0, 1200.0, True)]


# -- aggregation intervals -------------------------------------------------------------------------
def test_buckets_by_day_week_month():
    start = calendar.timegm((2026, 1, 30, 12, 0, 0))
    end = calendar.timegm((2026, 2, 2, 6, 0, 0))
    days = engine.buckets(start, end, "day")
    assert [d[0] for d in days] == ["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]
    assert days[0][1] == start and days[-1][2] == end
    assert [w[0] for w in engine.buckets(start, end, "week")] == ["2026-W05", "2026-W06"]
    assert [m[0] for m in engine.buckets(start, end, "month")] == ["2026-01", "2026-02"]
    hours = engine.buckets(start, start + 7200, "hour")
    assert [h[0] for h in hours] == ["2026-01-30 12:00", "2026-01-30 13:00"]


def test_summary_of_a_window():
    records = seq("AAUUAAAA")
    for r, d in zip(records, (10, 20, None, None, 30, 40, 50, 60)):
        r["values"]["delay_ms"] = d
    engine.verdicts(records, CFG)
    s = engine.summarize(records, INTERVAL, CFG, 0, 2400)
    assert s["availability"] == pytest.approx(0.75)
    assert s["outages"]["count"] == 1 and s["outages"]["total_s"] == 600.0
    assert s["delay_ms"] == {"p50": 30, "p95": 60, "p99": 60}  # nearest rank of 6 values
    assert s["loss_ratio"] == pytest.approx(20.0 / 80)  # 20 of 80 packets, not a mean of ratios
    assert s["baseline"]["rtt_ms"]["B"] == 35.0
