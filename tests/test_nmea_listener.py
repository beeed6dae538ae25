"""The NMEA stream of the LTE modem (`lte gps nmea ip udp ...`), sent here over loopback UDP.
The sentences are written for the test (synthetic); their checksums are computed, not copied."""

import socket
import threading
import time
from functools import reduce

from guestagent import config
from guestagent.collectors import location, nmea_listener
from guestagent.deadline import Deadline
from guestagent.device.simulated import SimulatedDevice


def sentence(body):
    checksum = reduce(lambda a, c: a ^ ord(c), body, 0)
    return "${}*{:02X}\r\n".format(body, checksum)


def gga(utc="101530.00"):
    # 44 deg 23.7398' N, 8 deg 56.2008' E, fix quality 1, 9 satellites, HDOP 0.8, 57.0 m
    return sentence("GPGGA,{},4423.7398,N,00856.2008,E,1,09,0.8,57.0,M,48.0,M,,".format(utc))


def rmc(utc="101530.00", date="231126"):
    return sentence("GPRMC,{},A,4423.7398,N,00856.2008,E,0.0,0.0,{},,,A".format(utc, date))


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream(port, datagrams, every_s=0.1):
    def send():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(30):  # the modem repeats every second; the listener may bind late
                for data in datagrams:
                    s.sendto(data.encode("ascii"), ("127.0.0.1", port))
                time.sleep(every_s)
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def send(port, datagrams):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in datagrams:
            s.sendto(data.encode("ascii"), ("127.0.0.1", port))


def test_a_fix_from_gga_and_rmc_in_separate_datagrams():
    """The listen may begin anywhere in the modem's second: here just before an RMC, the GGA of
    the next second behind it. The fix waits for the GGA (both datagrams are queued on the bound
    socket before the read: the order is the test's, not the scheduler's)."""
    for order in ([rmc(), gga("101531.00")], [gga(), rmc()]):
        sock = nmea_listener.open_socket(0, "127.0.0.1")
        try:
            send(sock.getsockname()[1], order)
            fix = nmea_listener.read(sock, listen_s=3.0)
        finally:
            sock.close()
        assert fix["has_fix"] is True
        assert abs(fix["latitude"] - (44 + 23.7398 / 60)) < 1e-6
        assert abs(fix["longitude"] - (8 + 56.2008 / 60)) < 1e-6
        assert fix["satellites"] == 9 and fix["altitude_m"] == 57.0, (order, fix)
        assert fix["timestamp_ts"] is not None


def test_rmc_alone_is_the_fix_when_no_gga_comes_within_the_budget():
    sock = nmea_listener.open_socket(0, "127.0.0.1")
    try:
        send(sock.getsockname()[1], [rmc(), rmc("101531.00")])
        fix = nmea_listener.read(sock, listen_s=0.5)
    finally:
        sock.close()
    assert fix["has_fix"] is True and fix["timestamp_ts"] is not None
    assert fix.get("satellites") is None and fix.get("altitude_m") is None


def test_listen_over_a_stream_that_began_before_it():
    port = free_udp_port()
    stream(port, [rmc(), gga()])
    fix = nmea_listener.listen(port, "127.0.0.1", listen_s=3.0)
    assert fix["satellites"] == 9 and fix["altitude_m"] == 57.0


def test_silence_gives_nothing_after_the_listen_time():
    assert nmea_listener.listen(free_udp_port(), "127.0.0.1", listen_s=0.3) is None


def test_location_collector_prefers_the_nmea_stream(tmp_path):
    port = free_udp_port()
    stream(port, [gga() + rmc()])
    cfg = config.parse("agent: {{state_dir: {}}}\nrouter: {{gps: {{nmea_udp_port: {}, "
                       "nmea_bind: 127.0.0.1, nmea_listen_s: 3}}}}\n".format(tmp_path, port))
    data = location.collect(SimulatedDevice(str(tmp_path)), cfg, Deadline(5))
    assert data["source"] == "nmea" and data["fix"] == "3D"
    assert round(data["latitude"], 5) == 44.39566 and data["nmea"]["has_fix"] is True


def test_without_a_stream_the_collector_falls_back_to_static(tmp_path):
    cfg = config.parse("agent: {{state_dir: {}}}\nrouter: {{gps: {{nmea_udp_port: {}, "
                       "nmea_bind: 127.0.0.1, nmea_listen_s: 0.3}}, location: {{latitude: 1.5, "
                       "longitude: 2.5}}}}\n".format(tmp_path, free_udp_port()))
    data = location.collect(SimulatedDevice(str(tmp_path)), cfg, Deadline(5))
    assert data["source"] == "static" and data["latitude"] == 1.5
    assert data["nmea"]["error"].startswith("no NMEA sentence")


def test_location_from_rmc_alone_says_the_fix_is_incomplete(tmp_path):
    port = free_udp_port()
    stream(port, [rmc()])
    cfg = config.parse("agent: {{state_dir: {}}}\nrouter: {{gps: {{nmea_udp_port: {}, "
                       "nmea_bind: 127.0.0.1, nmea_listen_s: 0.5}}}}\n".format(tmp_path, port))
    data = location.collect(SimulatedDevice(str(tmp_path)), cfg, Deadline(5))
    assert data["source"] == "nmea" and data["fix"] is None
    assert data["nmea"]["has_fix"] is True and data["nmea"]["complete"] is False
    assert data["satellites"] is None and data["altitude_m"] is None
