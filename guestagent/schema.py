"""A small typed schema for configuration: each field checks its value and says what it expected.

Problems are collected (not raised one by one) so that a bad file is reported whole: one message per
problem, naming the key path. `config.py` adds the file name and line.
"""

import math

from guestagent import rx

_REQUIRED = object()

# Bounds of a number whose field declares none: far beyond any sane setting, small enough that no
# loop or allocation sized by it can hang a cycle (`journal.keep_files: 1e21` once did).
FALLBACK_MAXIMUM = 1e9
FALLBACK_MAXIMUM_INTEGER = 1e12
# A string is at most this long unless its field says otherwise; no control characters (a newline
# would start a new line of an IOS command, a URL or the metrics text, and `$` in a field's
# pattern matches before a final newline).
MAX_STRING = 1024
_CONTROL = rx.compile(r"[\x00-\x1f\x7f]")
REDACTED = "<redacted>"
# A name that becomes a label or a URL path segment: something, without spaces around it.
LABEL = (lambda text: bool(text) and text.strip() == text,
         "a non-empty name without leading or trailing spaces")


class Problems(object):
    """Collects (key path, message) pairs while a document is checked."""

    def __init__(self):
        self.items = []

    def add(self, path, message):
        self.items.append((path, message))

    def __bool__(self):
        return bool(self.items)

    __nonzero__ = __bool__


def _type_name(value, secret=False):
    if secret and isinstance(value, str):
        return "a string ({})".format(REDACTED)
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean ({})".format(str(value).lower())
    if isinstance(value, int) and abs(value) >= 10 ** 16:
        return "a number ({} digits)".format(len(str(abs(value))))
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

    secret = False  # a value never shown in a message

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
        problems.add(path, "expected {}, got {}".format(expected or self.doc,
                                                        _type_name(value, self.secret)))
        return None


class Str(Field):
    doc = "a string"

    def __init__(self, default=_REQUIRED, help="", nullable=False, choices=None, pattern=None,
                 valid=None, max_length=MAX_STRING, secret=False):
        """`pattern` must match at the start; `valid`: (predicate, what it expects)."""
        Field.__init__(self, default, help, nullable)
        self.choices = tuple(choices) if choices else None
        self.pattern = rx.compile(pattern) if pattern else None
        self.valid = valid
        self.max_length = max_length
        self.secret = secret
        if self.choices:
            self.doc = "one of " + ", ".join(repr(c) for c in self.choices)
        elif valid:
            self.doc = valid[1]

    def convert(self, value, path, problems):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return self.bad(value, path, problems)
        if not isinstance(value, str):
            if self.choices or isinstance(value, float) and not math.isfinite(value):
                return self.bad(value, path, problems)
            value = str(value)
        if self.choices and value not in self.choices:
            return self.bad(value, path, problems)
        if len(value) > self.max_length:
            return self.bad(value, path, problems, "{} of at most {} characters".format(
                self.doc, self.max_length))
        if _CONTROL.search(value):
            return self.bad(value, path, problems, "{} without control characters".format(
                self.doc))
        if self.pattern and not self.pattern.match(value):
            return self.bad(value, path, problems, "a string matching {}".format(self.pattern.pattern))
        if self.valid and not self.valid[0](value):
            return self.bad(value, path, problems)
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
        self.fallback_maximum = FALLBACK_MAXIMUM_INTEGER if integer else FALLBACK_MAXIMUM
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
        if isinstance(value, float) and not math.isfinite(value):
            return self.bad(value, path, problems, "a finite " + self.doc[2:])
        if self.integer and not (isinstance(value, int) or float(value).is_integer()):
            return self.bad(value, path, problems)
        if ((self.above is not None and not value > self.above)
                or (self.minimum is not None and value < self.minimum)
                or (self.maximum is not None and value > self.maximum)):
            return self.bad(value, path, problems)
        bound = self.fallback_maximum
        if ((self.maximum is None and value > bound)
                or (self.minimum is None and self.above is None and value < -bound)):
            return self.bad(value, path, problems, "{} within {:g} either way".format(
                self.doc, bound))
        return int(value) if self.integer else value


def Int(default=_REQUIRED, help="", **kw):
    return Num(default, help, integer=True, **kw)


def is_host(text, scope_ok=True):
    """An IPv4/IPv6 address or a DNS host name (RFC 1123 labels), alike on every Python."""
    from guestagent import iostokens  # here: a cycle on a kept config checks no host
    return iostokens.is_host(text, scope_ok=scope_ok)


class Host(Field):
    """A host; `scope_ok`: an IPv6 link-local scope id (`fe80::1%eth0`) is allowed (Guest Shell's
    ping takes one, IOS does not)."""

    doc = "an IP address or a host name"

    def __init__(self, default=_REQUIRED, help="", nullable=False, scope_ok=True):
        Field.__init__(self, default, help, nullable)
        self.scope_ok = scope_ok

    def convert(self, value, path, problems):
        if not isinstance(value, str) or not is_host(value.strip(), self.scope_ok):
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
        netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        host = netloc.rsplit("@", 1)[-1]
        if "@" in netloc:
            problems.add(path, "expected a URL without credentials (give them as username and "
                         "password or password_file, or bearer_token_file), got {}".format(
                             _type_name(redact_url(value))))
            return None
        if (not sep or scheme.lower() not in self.schemes or not host or len(value) > 2048
                or _CONTROL.search(value) or " " in value):
            return self.bad(value, path, problems)
        return value


def redact_url(url):
    """The URL with any `user:password@` replaced by <redacted>."""
    if not isinstance(url, str):
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
    return scheme + sep + netloc + slash + tail


class ListOf(Field):
    def __init__(self, item, default=_REQUIRED, help="", nullable=False, single_ok=False):
        Field.__init__(self, default, help, nullable)
        self.item = item
        self.single_ok = single_ok  # a lone value stands for a list of one
        self.doc = "a list of " + item.doc.replace("a ", "", 1)

    def check(self, value, path, problems):
        # `targets:` whose items are all commented out is null: an empty list, not "no value".
        if value is None and not self.required and self.default is not None:
            return []
        return Field.check(self, value, path, problems)

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

    def check(self, value, path, problems):
        # An empty `sinks:` or `journal:` (every line commented out) is null: the defaults.
        if value is None and not self.required and self.default is not None:
            value = {}
        return Field.check(self, value, path, problems)

    def convert(self, value, path, problems):
        if not isinstance(value, dict):
            return self.bad(value, path, problems)
        fields = dict(self.fields)
        if self.extra:
            for key, field in (self.extra(value, path, problems) or {}).items():
                fields.setdefault(key, field)
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
