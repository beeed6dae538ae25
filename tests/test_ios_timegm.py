"""ios.common.timegm stands in for calendar.timegm (not imported on the cycle's path): the same
seconds for every date the parsers can meet, carry-over of out-of-range days and times included,
and the same ValueError for a month or year out of range."""

import calendar

import pytest

from guestagent.ios import common, nmea

YEARS = list(range(1, 12)) + list(range(1896, 2105)) + list(range(9990, 10000))


def test_same_seconds_as_calendar_timegm():
    for year in YEARS:
        for month in range(1, 13):
            for day in (0, 1, 15, 28, 29, 30, 31, 32, 61):
                for clock in ((0, 0, 0), (23, 59, 59), (23, 59, 60), (24, 61, 3600)):
                    parts = (year, month, day) + clock + (0, 0, 0)
                    assert common.timegm(parts) == calendar.timegm(parts), parts


@pytest.mark.parametrize("parts", [(0, 1, 1, 0, 0, 0), (10000, 1, 1, 0, 0, 0),
                                   (2020, 0, 1, 0, 0, 0), (2020, 13, 1, 0, 0, 0)])
def test_out_of_range_month_or_year_is_a_value_error_as_in_calendar(parts):
    with pytest.raises(ValueError):
        calendar.timegm(parts)
    with pytest.raises(ValueError):
        common.timegm(parts)


def test_parsers_read_the_same_instants():
    assert common.ios_time("13:11:27 UTC Sat Dec 15 2018") == calendar.timegm(
        (2018, 12, 15, 13, 11, 27))
    assert common.ios_time("Sun Jan  6 07:00:00 1980") == 315990000
    assert common.ios_time("00:00:00 UTC Mon Feb 29 2016") == calendar.timegm(
        (2016, 2, 29, 0, 0, 0))
    # RMC: 12:35:19 UTC on 23 March 1994 (the NMEA 0183 standard's example sentence).
    fix = nmea.parse("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A")
    assert fix["timestamp_ts"] == calendar.timegm((1994, 3, 23, 12, 35, 19))
