"""A small typed schema for configuration: each field checks its value and says what it expected.

Problems are collected (not raised one by one) so that a bad file is reported whole: one message per
problem, naming the key path. `config.py` adds the file name and line.
"""

import ipaddress
import re

_REQUIRED = object()

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


class Problems(object):
    """Collects (key path, message) pairs while a document is checked."""

    def __init__(self):
        self.items = []

    def add(self, path, message):
        self.items.append((path, message))

    def __bool__(self):
        return bool(self.items)

    __nonzero__ = __bool__


def _type_name(value):
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean ({})".format(str(value).lower())
    if isinstance(value, (int, float)):
        return "a number ({!r})".format(value)
    if isinstance(value, str):
        return "a string ({!r})".format(value if len(value) < 40 else value[:37] + "...")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def join(path, key):
    if isinstance(key, int):
        return "{}[{}]".format(path, key)
    return "{}.{}".format(path, key) if path else key


class Field(object):
    """One value. Subclasses convert and check; `doc` says what is expected, for messages."""

    doc = "a value"

    def __init__(self, default=_REQUIRED, help="", nullable=False):
        self.default = default
        self.help = help
        self.nullable = nullable or default is None

    @property
    def required(self):
        return self.default is _REQUIRED

    def check(self, value, path, problems):
        """Return the converted value, or add a problem and return None."""
        if value is None and self.nullable:
            return None
        return self.convert(value, path, problems)

    def convert(self, value, path, problems):
        return value

    def bad(self, value, path, problems, expected=None):
        problems.add(path, "expected {}, got {}".format(expected or self.doc, _type_name(value)))
        return None


class Str(Field):
    doc = "a string"

    def __init__(self, default=_REQUIRED, help="", nullable=False, choices=None, pattern=None):
        Field.__init__(self, default, help, nullable)
        self.choices = tuple(choices) if choices else None
        self.pattern = re.compile(pattern) if pattern else None
        if self.choices:
            self.doc = "one of " + ", ".join(repr(c) for c in self.choices)

    def convert(self, value, path, problems):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return self.bad(value, path, problems)
        if not isinstance(value, str):
            if self.choices:
                return self.bad(value, path, problems)
            value = str(value)
        if self.choices and value not in self.choices:
            return self.bad(value, path, problems)
        if self.pattern and not self.pattern.match(value):
            return self.bad(value, path, problems, "a string matching {}".format(self.pattern.pattern))
        return value


class Bool(Field):
    doc = "true or false"

    def convert(self, value, path, problems):
        if not isinstance(value, bool):
            return self.bad(value, path, problems)
        return value


class Num(Field):
    """A number; `minimum`/`maximum` inclusive, `above` exclusive (an interval must be > 0)."""

    def __init__(self, default=_REQUIRED, help="", nullable=False, minimum=None, maximum=None,
                 above=None, integer=False):
        Field.__init__(self, default, help, nullable)
        self.minimum, self.maximum, self.above, self.integer = minimum, maximum, above, integer
        kind = "a whole number" if integer else "a number"
        bounds = []
        if above is not None:
            bounds.append("> {}".format(above))
        if minimum is not None:
            bounds.append(">= {}".format(minimum))
        if maximum is not None:
            bounds.append("<= {}".format(maximum))
        self.doc = kind + (" " + " and ".join(bounds) if bounds else "")

    def convert(self, value, path, problems):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.bad(value, path, problems)
        if self.integer and not (isinstance(value, int) or float(value).is_integer()):
            return self.bad(value, path, problems)
        if ((self.above is not None and not value > self.above)
                or (self.minimum is not None and value < self.minimum)
                or (self.maximum is not None and value > self.maximum)):
            return self.bad(value, path, problems)
        return int(value) if self.integer else value


def Int(default=_REQUIRED, help="", **kw):
    return Num(default, help, integer=True, **kw)


def is_host(text):
    """An IPv4/IPv6 address or a DNS host name (RFC 1123 labels)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    if not text or len(text) > 253 or text.replace(".", "").isdigit():
        return False
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    return all(_HOSTNAME_LABEL.match(label) for label in labels)


class Host(Field):
    doc = "an IP address or a host name"

    def convert(self, value, path, problems):
        if not isinstance(value, str) or not is_host(value.strip()):
            return self.bad(value, path, problems)
        return value.strip()


class Url(Field):
    def __init__(self, default=_REQUIRED, help="", nullable=False, schemes=("http", "https")):
        Field.__init__(self, default, help, nullable)
        self.schemes = schemes
        self.doc = "a URL starting with " + " or ".join(s + "://" for s in schemes)

    def convert(self, value, path, problems):
        if not isinstance(value, str):
            return self.bad(value, path, problems)
        scheme, sep, rest = value.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        if not sep or scheme.lower() not in self.schemes or not host:
            return self.bad(value, path, problems)
        return value


class ListOf(Field):
    def __init__(self, item, default=_REQUIRED, help="", nullable=False, single_ok=False):
        Field.__init__(self, default, help, nullable)
        self.item = item
        self.single_ok = single_ok  # a lone value stands for a list of one
        self.doc = "a list of " + item.doc.replace("a ", "", 1)

    def convert(self, value, path, problems):
        if not isinstance(value, list):
            if self.single_ok and not isinstance(value, dict):
                value = [value]
            else:
                return self.bad(value, path, problems)
        out = []
        for i, item in enumerate(value):
            converted = self.item.check(item, join(path, i), problems)
            if converted is not None:
                out.append(converted)
        return out


class Section(Field):
    """A mapping with declared keys; unknown keys are problems. Converts to a `Namespace`."""

    doc = "a mapping"

    def __init__(self, fields, default=_REQUIRED, help="", nullable=False, extra=None):
        Field.__init__(self, default, help, nullable)
        self.fields = fields
        self.extra = extra  # callable(value) -> extra fields (e.g. a prober's own options)

    def convert(self, value, path, problems):
        if not isinstance(value, dict):
            return self.bad(value, path, problems)
        fields = dict(self.fields)
        if self.extra:
            fields.update(self.extra(value, path, problems) or {})
        out = {}
        for key in value:
            if key not in fields:
                problems.add(join(path, key), "unknown key; expected one of: {}".format(
                    ", ".join(sorted(fields))))
        for key, field in fields.items():
            where = join(path, key)
            if key in value:
                out[key] = field.check(value[key], where, problems)
            elif field.required:
                problems.add(where, "missing; expected {}".format(field.doc))
            else:
                out[key] = defaults_of(field)
        return Namespace(out)

    def defaults(self):
        return self.convert({}, "", Problems())


def defaults_of(field):
    if isinstance(field, Section) and not field.required and field.default is not None:
        return field.convert(field.default, "", Problems())
    return field.default


class Namespace(dict):
    """A checked mapping whose keys also read as attributes: `config.agent.deadline_s`."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        self[name] = value
