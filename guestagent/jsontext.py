"""JSON text of the modules every cycle loads (the report, the journal, the cycle state, the kept
config), made and read by the interpreter's C codec (`_json`) without importing `json`.

Why: on the router's Python 3.6, `import json` loads `re` (and with it enum, sre_parse and
sre_compile) for the patterns of its pure-Python fallback: 4.5 ms of a cycle without a test
point (docs/performance.md), whose modules compile their own patterns without `re`
(guestagent/rx.py).

What comes out is what `json.dumps` and `json.loads` give: the same C encoder and scanner,
given the arguments `json` gives them. Whatever this path does not cover goes to `json`
itself: an indent, an object the encoder cannot write (json raises its TypeError), a document
not read whole (json raises its JSONDecodeError, a ValueError), bytes, an interpreter without
`_json`.
"""

try:
    from _json import encode_basestring_ascii as _encode_string
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner
except ImportError:  # an interpreter built without it: json's pure-Python codec
    _make_encoder = None

# What `json` skips around a document (its WHITESPACE pattern): not every str.isspace().
_WHITESPACE = " \t\n\r"


class _Unwritable(TypeError):
    pass


def _unwritable(value):
    raise _Unwritable()


def dumps(value, sort_keys=False, separators=None, default=None, indent=None):
    """`json.dumps(value, ...)` with these arguments (ensure_ascii, check_circular and allow_nan
    as json's defaults)."""
    if _make_encoder is None or indent is not None:
        return _json_dumps(value, sort_keys, separators, default, indent)
    if isinstance(value, str):
        return _encode_string(value)
    item_separator, key_separator = separators or (", ", ": ")
    # A new encoder each call, as json makes one: its markers (the circular-reference check)
    # are that call's.
    encode = _make_encoder({}, default or _unwritable, _encode_string, None, key_separator,
                           item_separator, sort_keys, False, True)
    try:
        chunks = encode(value, 0)
    except _Unwritable:
        return _json_dumps(value, sort_keys, separators, default, indent)
    return "".join(chunks)


def _json_dumps(value, sort_keys, separators, default, indent):
    import json
    return json.dumps(value, sort_keys=sort_keys, separators=separators, default=default,
                      indent=indent)


class _Decoding(object):
    """What json.JSONDecoder() hands its C scanner."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__


_scan = _make_scanner(_Decoding()) if _make_encoder is not None else None


def loads(text):
    """`json.loads(text)`."""
    if _scan is not None and isinstance(text, str):
        start = 0
        while start < len(text) and text[start] in _WHITESPACE:
            start += 1
        try:
            value, end = _scan(text, start)
        except StopIteration:
            pass  # json says what is wrong
        else:
            if end == len(text) or not text[end:].strip(_WHITESPACE):
                return value
    import json
    return json.loads(text)
