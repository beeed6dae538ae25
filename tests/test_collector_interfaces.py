"""Utilization from interface counters in consecutive cycles (docs/metrics.md, Utilization)."""

import shutil

import pytest

from guestagent import config
from guestagent.collectors import interfaces
from guestagent.deadline import Deadline
from guestagent.device import EMBEDDED_FIXTURES
from guestagent.device.simulated import SimulatedDevice

IR1101_FILE = "show_interfaces__ir1101-synthetic.txt"


def router(tmp_path, in_bytes=None, out_bytes=None):
    """The embedded IR1101's `show interfaces`, with Cellular0/1/0's byte counters replaced."""
    directory = tmp_path / "router"
    directory.mkdir(exist_ok=True)
    text = open(EMBEDDED_FIXTURES + "/" + IR1101_FILE).read()
    if in_bytes is not None:
        text = text.replace("123456 packets input, 45678901 bytes",
                            "123456 packets input, {} bytes".format(in_bytes))
        text = text.replace("98765 packets output, 12345678 bytes",
                            "98765 packets output, {} bytes".format(out_bytes))
    (directory / IR1101_FILE).write_text(text)
    return SimulatedDevice(str(directory))


def cfg(tmp_path):
    return config.parse("agent: {{state_dir: {}}}\nrouter: {{interfaces: {{names: "
                        "[Cellular0/1/0]}}}}\n".format(tmp_path))


def cellular(entries):
    [entry] = entries
    assert entry["name"] == "Cellular0/1/0"
    return entry


def test_first_reading_has_counters_but_no_utilization(tmp_path):
    entry = cellular(interfaces.collect(router(tmp_path), cfg(tmp_path), Deadline(5), now=1000.0))
    assert entry["bandwidth_bps"] == 50000000
    assert entry["in_bytes"] == 45678901 and "in_utilization" not in entry


def test_utilization_by_hand_over_two_cycles(tmp_path):
    c = cfg(tmp_path)
    interfaces.collect(router(tmp_path), c, Deadline(5), now=1000.0)
    # 300 s later: +37.5 MB in (1 Mbit/s = 2% of 50 Mbit/s), +3.75 MB out (0.1 Mbit/s).
    device = router(tmp_path, 45678901 + 37500000, 12345678 + 3750000)
    entry = cellular(interfaces.collect(device, c, Deadline(5), now=1300.0))
    assert entry["elapsed_s"] == 300
    assert entry["in_bps"] == pytest.approx(1e6) and entry["out_bps"] == pytest.approx(1e5)
    assert entry["in_utilization"] == pytest.approx(0.02)
    assert entry["out_utilization"] == pytest.approx(0.002)


def test_a_counter_going_backwards_restarts_the_delta(tmp_path):
    c = cfg(tmp_path)
    interfaces.collect(router(tmp_path), c, Deadline(5), now=1000.0)
    entry = cellular(interfaces.collect(router(tmp_path, 1000, 500), c, Deadline(5), now=1300.0))
    assert entry["counters_reset"] is True and "in_utilization" not in entry
    entry = cellular(interfaces.collect(router(tmp_path, 1000 + 3750, 500), c, Deadline(5),
                                        now=1330.0))
    assert entry["in_bps"] == pytest.approx(1000.0)  # counted from the reading after the reset


def test_a_router_without_the_command_gives_an_empty_section(tmp_path):
    empty = tmp_path / "bare"
    empty.mkdir()
    assert interfaces.collect(SimulatedDevice(str(empty)), cfg(tmp_path), Deadline(5)) == []


@pytest.mark.parametrize("state", ['{"Cellular0/1/0": {"in_bytes": 1}}',  # no ts
                                   '{"Cellular0/1/0": {"ts": "noon", "in_bytes": 1}}',
                                   '{"Cellular0/1/0": [1, 2]}', '[1, 2, 3]', 'not json'])
def test_a_bad_saved_reading_is_reported_once_and_replaced(tmp_path, state):
    from guestagent.report import Partial
    (tmp_path / interfaces.STATE_FILE).write_text(state)
    c = cfg(tmp_path)
    with pytest.raises(Partial) as caught:
        interfaces.collect(router(tmp_path), c, Deadline(5), now=1000.0)
    entry = cellular(caught.value.data)  # the cycle still has this reading
    assert entry["in_bytes"] == 45678901 and "in_utilization" not in entry
    assert "interfaces.json" in caught.value.errors[0]
    # The next cycle computes utilization from the reading that replaced the bad one.
    device = router(tmp_path, 45678901 + 37500000, 12345678 + 3750000)
    entry = cellular(interfaces.collect(device, c, Deadline(5), now=1300.0))
    assert entry["in_utilization"] == pytest.approx(0.02)
