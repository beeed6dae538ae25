"""The shared reader of the `show cellular <slot> radio|network|hardware` outputs: `Key = value`
lines mapped to result keys through a table, numbers with their unit stripped."""

from guestagent import rx
from guestagent.ios import common

_CARRIER_SUFFIX = rx.compile(r"\s*\(pcc\)")
_CURRENT = rx.compile(r"^current\s+")


def normalise_label(key):
    """Lower case, single spaces, without the `(PCC)` carrier suffix newer IOS XE adds and
    without a leading `Current `."""
    key = common.norm_key(key)
    key = _CARRIER_SUFFIX.sub("", key)
    key = _CURRENT.sub("", key)
    return key.strip()


def read(text, table):
    """(result dict, recognized) for a table {normalised label: (key, kind)}.

    kind: `text` (kept, empty values dropped), `number` (leading number, unit dropped), `int`,
    `hexint` (`0x55` or decimal).
    """
    result = {}
    for key, value in common.key_values(text):
        known = table.get(normalise_label(key))
        if not known:
            continue
        name, kind = known
        value = common.squash(value)
        if kind == "text":
            if value:
                result[name] = value
        elif kind == "number":
            number = common.leading_number(value)
            if number is not None:
                result[name] = number
        elif kind == "int":
            number = common.as_int(common.leading_number(value))
            if number is not None:
                result[name] = number
        elif kind == "hexint":
            try:
                if len(value) > 20:  # no cell id is that long; int() of it is slow
                    raise ValueError(value)
                result[name] = int(value, 16) if value.lower().startswith("0x") else int(value)
            except ValueError:
                if value:
                    result[name + "_text"] = value
    return result
