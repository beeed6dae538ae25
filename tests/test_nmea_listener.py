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


def test_a_fix_from_gga_and_rmc_in_separate_datagrams():
    port = free_udp_port()
    stream(port, [gga(), rmc()])
    fix = nmea_listener.listen(port, "127.0.0.1", listen_s=3.0)
    assert fix["has_fix"] is True
    assert abs(fix["latitude"] - (44 + 23.7398 / 60)) < 1e-6
    assert abs(fix["longitude"] - (8 + 56.2008 / 60)) < 1e-6
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
