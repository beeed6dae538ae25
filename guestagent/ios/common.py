"""Text helpers shared by the IOS parsers: tolerant of CRLF, tabs, odd spacing and missing parts.

Nothing here raises on odd input: a value that does not read as expected comes back as None.
"""

import math

from guestagent import rx

# The parsers' flag, a plain int (rx.IGNORECASE is re.IGNORECASE's value): Python 3.6 (Guest
# Shell's) keeps the RegexFlag enum through a whole compilation and every cache lookup, where
# each `flags & X` is an enum operation (the patterns compiled 2-3x slower).
IGNORECASE = rx.IGNORECASE

# One way to read each number: digits, then optionally a point and digits. (`\d+\.?\d*` would
# let the two digit runs split a long number in n ways, and a failing match try all of them.)
_NUMBER = rx.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$")
_LEADING_NUMBER = rx.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))")
# Integers above 20 digits (2**64 has 20) are no counter IOS keeps: garbage, not a value. Beyond
# that, int() is slow and capped at 4300 digits on Python >= 3.11, and float() is inf at 309.
_MAX_INT_DIGITS = 20
# Compiled once: the parsers call it for every line, and `rx.match(pattern, ...)` looks the
# pattern up in a cache each time.
_KEY_VALUE = rx.compile(r"^\s*([^=:]*?[^=:\s])\s*[=:]\s?(.*)$")
# The commas of a line that start another `Key = value` (or `Key: value`) pair, by separator.
_NEXT_PAIR = dict((sep, rx.compile(r",\s*(?=[A-Za-z][^,{0}]*{0})".format(rx.escape(sep))))
                  for sep in "=:")
# A label IOS wrapped onto the next line (no separator on this one).
_WRAPPED_LABEL = rx.compile(r"^[A-Za-z][A-Za-z ()/-]*$")


def lines(text):
    """The text's lines without line ends; CR, CRLF and LF all end a line. Non-text gives []."""
    if not isinstance(text, str):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        else:
            return []
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def squash(text):
    """Runs of blanks (spaces, tabs, any other white space) as one space, ends stripped.

    Single spaces let the patterns after it be linear: a `\\s*` never faces a long run."""
    # str.split() splits at what `\s` matches in a str pattern (both are str.isspace()), in C.
    return " ".join((text or "").split())


def number(text):
    """`12` -> 12, `4.4` -> 4.4, anything else -> None."""
    if text is None:
        return None
    text = str(text).strip()
    if not _NUMBER.match(text):
        return None
    if "." not in text:
        if len(text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
            return None
        return int(text)
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def leading_number(text):
    """The number a value starts with (`-80 dBm` -> -80, `33 deg C` -> 33), or None."""
    match = _LEADING_NUMBER.match(text or "")
    return number(match.group(1)) if match else None


def integer(text):
    """`12` -> 12; a fraction is cut (`4.9` -> 4); anything else, or a number too large to be a
    counter, -> None."""
    value = number(text)
    if value is None:
        return None
    if isinstance(value, float) and abs(value) >= 10 ** _MAX_INT_DIGITS:
        return None
    return int(value)


def as_int(value):
    """A number as an int (fractions cut), None when None or too large to be a counter."""
    if value is None or not abs(value) < 10 ** _MAX_INT_DIGITS:
        return None
    return int(value)


def counter(text):
    """A counter that IOS may print as `Unknown`: the number, or None."""
    return integer(text)


def slashed(text, count):
    """`4/1867/3927` with count 3 -> (4, 1867, 3927); anything else -> None."""
    parts = (text or "").strip().split("/")
    if len(parts) != count:
        return None
    values = [number(p) for p in parts]
    if any(v is None for v in values):
        return None
    return tuple(values)


def triple(text):
    """`min/avg/max` -> a tuple of three numbers, or None."""
    return slashed(text, 3)


def pair(text):
    """`a/b` -> a tuple of two numbers, or None."""
    return slashed(text, 2)


def split_key_value(line):
    """`Key = value` or `Key: value` (whichever separator comes first) -> (key, value) or None."""
    match = _KEY_VALUE.match(line or "")
    if not match:
        return None
    return match.group(1).strip(), match.group(2).strip()


def split_pairs(line):
    """A line holding several `Key = value` (or `Key: value`) separated by commas.

    `Fix type = No fix, Height = 0m` -> [("Fix type", "No fix"), ("Height", "0m")]. A comma that is
    not followed by another `Key =` stays in the value.
    """
    line = line or ""
    eq = line.find("=")
    colon = line.find(":")
    if eq < 0 and colon < 0:
        return []
    sep = "=" if (eq >= 0 and (colon < 0 or eq < colon)) else ":"
    pieces = _NEXT_PAIR[sep].split(line)
    out = []
    for piece in pieces:
        key, found, value = piece.partition(sep)
        if found and key.strip():
            out.append((key.strip(), value.strip()))
    return out


def norm_key(key):
    """A key for lookups: lower case, single spaces."""
    return squash(key).lower()


# Clock flags IOS prints before a time (`show clock` conventions):
#   `*`  the time is not authoritative: the clock was never set from NTP/SNTP or a calendar,
#   `.`  the time was authoritative but NTP is not synchronized now,
#   none: authoritative and synchronized.
def clock_flag(text):
    """(time text without its flag, synced) where synced is False for `*` and `.`."""
    text = squash(text)
    if text.startswith("*"):
        return text[1:].strip(), False
    if text.startswith("."):
        return text[1:].strip(), False
    return text, True


_MONTHS = dict((m, i) for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1))


def ios_time(text):
    """Unix seconds of an IOS time such as `13:11:27 UTC Sat Dec 15 2018` or
    `Sun Jan  6 07:00:00 1980`, read as UTC whatever zone it names (only UTC/GMT is exact);
    None when it does not read."""
    text = squash(text).lstrip("*.")
    match = rx.search(r"(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?", text)
    date = rx.search(r"\b([A-Za-z]{3})\s+(\d{1,2})\s+(?:\d{1,2}:\d{2}:\d{2}\s+)?(\d{4})\b", text)
    if not match or not date:
        return None
    month = _MONTHS.get(date.group(1).lower())
    if not month:
        return None
    try:
        parts = (int(date.group(3)), month, int(date.group(2)), int(match.group(1)),
                 int(match.group(2)), int(match.group(3)), 0, 0, 0)
        if not (1 <= parts[2] <= 31 and parts[3] < 24 and parts[4] < 60 and parts[5] < 61):
            return None
        return timegm(parts)
    except (ValueError, OverflowError):
        return None


def timegm(parts):
    """calendar.timegm: Unix seconds of a UTC (year, month, day, hour, minute, second, ...),
    without importing calendar (on Python 3.6 it pulls in datetime and locale, a few ms of every
    cycle's start-up). As there, a day, hour, minute or second past its range carries over, and
    a month outside 1-12 or a year outside 1-9999 is a ValueError."""
    year, month, day, hour, minute, second = parts[:6]
    if not (1 <= month <= 12 and 1 <= year <= 9999):
        raise ValueError("year {} or month {} is out of range".format(year, month))
    # Days since 1970-01-01 of the month's first day (H. Hinnant's days_from_civil), then the day.
    shifted = year - 1 if month <= 2 else year
    era, year_of_era = divmod(shifted, 400)
    day_of_year = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5
    days = (era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100
            + day_of_year - 719468 + day - 1)
    return ((days * 24 + hour) * 60 + minute) * 60 + second


def duration_s(text):
    """IOS durations: `00:02:10`, `1d02h`, `3w2d`, `2 weeks, 3 days, 4 hours, 5 minutes` -> s."""
    text = squash(text).lower()
    if not text:
        return None
    hms = rx.match(r"^(\d{1,20}):(\d{2}):(\d{2})$", text)
    if hms:
        return int(hms.group(1)) * 3600 + int(hms.group(2)) * 60 + int(hms.group(3))
    units = {"y": 31536000, "year": 31536000, "w": 604800, "week": 604800, "d": 86400,
             "day": 86400, "h": 3600, "hour": 3600, "m": 60, "minute": 60, "s": 1, "second": 1}
    total = 0
    found = False
    if rx.match(r"^(\d{1,20}[ywdhms])+$", text):  # `1d02h`, `3w2d`
        for amount, unit in rx.findall(r"(\d+)([ywdhms])", text):
            total += int(amount) * units[unit]
        return total
    # `(?<!\d)`: a number is tried from its first digit only, not from each of its digits.
    for amount, unit in rx.findall(r"(?<!\d)(\d+)\s*(years?|weeks?|days?|hours?|minutes?|"
                                   r"seconds?|[ywdhms])\b", text):
        unit = unit.rstrip("s") if len(unit) > 1 else unit
        value = integer(amount)
        if unit in units and value is not None:
            total += value * units[unit]
            found = True
    return total if found else None



def key_values(text):
    """The `Key = value` / `Key: value` pairs of a cellular-style output, in order.

    A line may hold several pairs separated by commas; a label IOS wrapped onto two lines (the
    first without a separator) is joined with the next line's label.
    """
    out = []
    pending = None
    for raw in lines(text):
        line = squash(raw)
        if not line or set(line) <= set("-=_ "):
            pending = None
            continue
        if "=" not in line and ":" not in line:
            pending = line if _WRAPPED_LABEL.match(line) else None
            continue
        pairs = split_pairs(line)
        if pending and pairs:
            pairs[0] = (pending + " " + pairs[0][0], pairs[0][1])
        pending = None
        out.extend(pairs)
    return out
