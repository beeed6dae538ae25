"""Sample statistics and the voice-quality estimate, as `docs/metrics.md` defines them."""

import math


def percentile_nearest_rank(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(math.ceil(p / 100.0 * len(ordered))))
    return ordered[rank - 1]


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def rtt_stats(rtts_ms):
    """min/median/avg/p95/max/mdev of round-trip times (mdev as ping prints it: population SD)."""
    if not rtts_ms:
        return None
    n = len(rtts_ms)
    avg = sum(rtts_ms) / float(n)
    mdev = math.sqrt(max(0.0, sum(r * r for r in rtts_ms) / n - avg * avg))
    return {
        "min": min(rtts_ms),
        "median": median(rtts_ms),
        "avg": avg,
        "p95": percentile_nearest_rank(rtts_ms, 95),
        "max": max(rtts_ms),
        "mdev": mdev,
    }


def ipdv_jitter(rtts_ms):
    """Mean absolute difference of consecutive round-trip times; None with fewer than two."""
    if len(rtts_ms) < 2:
        return None
    diffs = [abs(b - a) for a, b in zip(rtts_ms, rtts_ms[1:])]
    return sum(diffs) / float(len(diffs))


def r_factor(median_rtt_ms, jitter_ms, loss_ratio):
    """The simplified E-model R of docs/metrics.md, clamped to [0, 100]."""
    effective = median_rtt_ms + 2.0 * (jitter_ms or 0.0) + 10.0
    if effective < 160:
        r = 93.2 - effective / 40.0
    else:
        r = 93.2 - (effective - 120.0) / 10.0
    r -= 2.5 * (loss_ratio * 100.0)
    return min(100.0, max(0.0, r))


def mos_from_r(r):
    if r <= 0:
        return 1.0
    return 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)
