"""The regular expressions of the modules every cycle loads (the IOS parsers, the schema, the
metrics' names), as `re` would compile them, without importing `re` when the cycle's kept
programs have them.

Why: on the router's Python 3.6, `import re` is `enum`, `sre_parse`, `sre_compile` and
`copyreg` as well, 3 ms of a cycle without a test point (docs/performance.md), and `run` keeps
every program `re` made in an earlier cycle (guestagent/regexcache.py). A pattern the kept
programs lack, a process that keeps none (every command but `run`) or a pattern `re` rejects
goes through `re` itself: the same object, the same `re.error`.

The functions take the arguments of `re`'s, in its order, and keep what they compiled, as `re`
does in its own cache; the flags are `re`'s values (plain ints: 3.6 carries its `RegexFlag`
enum through every lookup).
"""

from guestagent import regexcache

IGNORECASE = 2
MULTILINE = 8
DOTALL = 16
VERBOSE = 64
ASCII = 256

_compiled = {}


def compile(pattern, flags=0):
    key = (type(pattern), pattern, flags)
    found = _compiled.get(key)
    if found is None:
        found = regexcache.kept(pattern, flags)
        if found is None:
            # Hooked before `re` loads (which compiles a pattern of its own as it does): what
            # `re` compiles from now on is kept for the next cycle.
            regexcache.hook()
            import re
            found = re.compile(pattern, flags)
        if len(_compiled) >= 512:  # patterns built from data must not grow it forever
            _compiled.clear()
        _compiled[key] = found
    return found


def match(pattern, text, flags=0):
    return compile(pattern, flags).match(text)


def search(pattern, text, flags=0):
    return compile(pattern, flags).search(text)


def sub(pattern, replacement, text, count=0, flags=0):
    return compile(pattern, flags).sub(replacement, text, count)


def split(pattern, text, maxsplit=0, flags=0):
    return compile(pattern, flags).split(text, maxsplit)


def findall(pattern, text, flags=0):
    return compile(pattern, flags).findall(text)


_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def escape(text):
    """`text` matched literally, as Python 3.6's `re.escape` makes it: every character but an
    ASCII letter, digit or `_` escaped, NUL as `\\000` (3.7+ escapes fewer; both match the
    same)."""
    return "".join(c if c in _LITERAL else ("\\000" if c == "\x00" else "\\" + c)
                   for c in text)
