"""Compiled regular expressions kept between cycles, in the runtime directory.

Why: `re` compiles a pattern in pure Python (its parser and code generator), and a cycle
compiles about 130 of them, mostly in the IOS parsers: on the router's Python 3.6 that was a
tenth of a 10-test-point cycle's CPU (docs/performance.md). What the code generator makes of a
pattern is a list of ints that depends only on the pattern, its flags and the interpreter; here
it is kept in a file, and a later process builds the pattern object from it with `_sre.compile`,
the step `re` itself ends with. `_sre` checks a program it is given, so a damaged entry raises
and the pattern is compiled the usual way.

`install()` reads the file for this process (the `run` command only): `rx`, through which
the modules every cycle loads compile their patterns, builds them from it without loading `re`
(`kept()`); `hook()` hooks the interpreter's compile step, so that what `re` compiles is kept
too, as soon as `re` is loaded. `save()` writes the file when this process compiled patterns it
did not hold, so a router writes it once after an install or upgrade, not every cycle. The
file is this user's alone (like the config cache: a file of another user, one writable by
others or a link is ignored), and named after the interpreter, whose code format it is in.
Anything unexpected (another Python's `re` internals, an unreadable or foreign file) means no
cache, never an error.
"""

import os
import sys

# 2: each program is packed in one bytes object of `_sre.CODESIZE`-byte words, which
# `marshal` reads as one object (format 1's list of ints was one object per word, and loading
# the file the larger part of hooking the compile step).
FORMAT = 2
# Entries kept at most: patterns built from data (a config's prefix) must not grow it forever.
MAX_ENTRIES = 1024
MAX_FILE_BYTES = 4 * 1048576

_state = {"installed": False, "hooked": False, "entries": {}, "missed": 0, "path": None,
          "used": set(), "build": None}


def _modules():
    """(the parser module, the code generator module, _sre), or None when this `re` is not one
    whose internals are known here (3.6 to 3.13 are)."""
    try:
        import _sre
        if sys.version_info >= (3, 11):
            from re import _compiler as compiler, _parser as parser
        else:
            import sre_compile as compiler
            import sre_parse as parser
    except ImportError:
        return None
    if not all(hasattr(m, n) for m, n in ((compiler, "_code"), (compiler, "compile"),
                                           (parser, "parse"), (_sre, "compile"))):
        return None
    if _word(_sre) is None:
        return None
    return parser, compiler, _sre


def cache_path():
    """The file for this interpreter: its version, code size and the `_sre` magic in the name."""
    import zlib  # not hashlib: its import alone is a millisecond on 3.6, and this is a name
    import _sre
    key = "{}\0{}\0{}\0{}\0{}\0{}".format(
        FORMAT, sys.version, getattr(sys.implementation, "cache_tag", ""),
        getattr(_sre, "MAGIC", ""), getattr(_sre, "CODESIZE", ""), sys.maxunicode)
    digest = "{:08x}".format(zlib.crc32(key.encode("utf-8", "replace")) & 0xffffffff)
    from guestagent import runtimefiles
    return runtimefiles.path("guestagent-{}-{}-{}.regex".format(
        os.geteuid(), getattr(sys.implementation, "cache_tag", "py"), digest))


def install(path=None):
    """Read the kept programs for this process; returns True when they are in use. The compile
    step of `re` is hooked now when `re` is loaded, else when `rx` first needs it (hook()): a
    cycle whose every pattern is kept never loads `re` (guestagent/rx.py)."""
    if _state["installed"]:
        return True
    import _sre
    if _word(_sre) is None or not hasattr(_sre, "compile"):
        return False
    _state["path"] = path or cache_path()
    _state["entries"] = _load(_state["path"])
    _state["build"] = _builder(_sre)
    _state["installed"] = True
    if "sre_compile" in sys.modules or "re._compiler" in sys.modules:
        hook()
    return True


def _key(p, flags):
    return (type(p).__name__, p, int(flags))


def kept(p, flags):
    """The pattern `re.compile(p, flags)` would return, built from its kept program, or None
    (not installed, not kept, or an entry `_sre` refuses)."""
    if not _state["installed"]:
        return None
    key = _key(p, flags)
    entry = _state["entries"].get(key)
    if entry is None:
        return None
    try:
        pattern = _state["build"](p, entry)
    except Exception:  # a damaged or foreign entry: `re` compiles it, and it is replaced
        return None
    _state["used"].add(key)
    return pattern


def hook():
    """Hook the compile step of `re` (loading it) when the kept programs are in use; True when
    hooked."""
    if _state["hooked"]:
        return True
    if not _state["installed"]:
        return False
    found = _modules()
    if found is None:
        return False
    parser, compiler, _sre = found
    original = compiler.compile
    if getattr(original, "kept_programs", False):  # another thread hooked it meanwhile
        _state["hooked"] = True
        return True
    build = _state["build"]

    def compile(p, flags=0):
        if not isinstance(p, (str, bytes)) or flags & _UNCACHED:
            return original(p, flags)
        pattern = kept(p, flags)
        if pattern is not None:
            return pattern
        try:
            pattern, entry = _compile(parser, compiler, build, p, int(flags))
        except Exception:
            return original(p, flags)  # raises re.error as `re` would
        key = _key(p, flags)
        _state["entries"][key] = entry
        _state["used"].add(key)
        _state["missed"] += 1
        return pattern

    compile.kept_programs = True
    compiler.compile = compile
    _state["hooked"] = True
    return True


# DEBUG prints the program, TEMPLATE warns: both go through `re` as usual.
_UNCACHED = 128 | 1


def _word(_sre):
    """The `memoryview` format of one word of `_sre`'s programs, or None."""
    for typecode in ("I", "H", "L"):
        if memoryview(bytes(8)).cast(typecode).itemsize == getattr(_sre, "CODESIZE", None):
            return typecode
    return None


def _builder(_sre):
    tuple_index = sys.version_info >= (3, 7)  # 3.6's `_sre.compile` took the list itself
    word = _word(_sre)

    def build(p, entry):
        flags, code, groups, groupindex, indexgroup = entry
        return _sre.compile(p, flags, memoryview(code).cast(word).tolist(), groups,
                            dict(groupindex),
                            tuple(indexgroup) if tuple_index else list(indexgroup))

    return build


def _compile(parser, compiler, build, p, flags):
    """(pattern, entry): what `compiler.compile` does, keeping the program it makes."""
    parsed = parser.parse(p, flags)
    code = compiler._code(parsed, flags)
    state = getattr(parsed, "state", None) or parsed.pattern  # 3.8 renamed it
    groupindex = dict(state.groupdict)
    indexgroup = [None] * state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    import array
    import _sre
    entry = (int(flags | state.flags), array.array(_word(_sre), code).tobytes(),
             state.groups - 1, groupindex, indexgroup)
    return build(p, entry), entry


def _load(path):
    import marshal
    from guestagent import runtimefiles
    body = runtimefiles.read_private(path, MAX_FILE_BYTES)
    if body is None:
        return {}
    try:
        kept = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return {}
    if not isinstance(kept, dict) or kept.get("format") != FORMAT or \
            not isinstance(kept.get("entries"), dict):
        return {}
    return kept["entries"]


def save():
    """Write the file when this process compiled patterns it did not hold; best effort.
    Returns True when it was written."""
    import marshal
    if not _state["installed"] or not _state["missed"]:
        return False
    # Copies (atomic under the GIL): a thread the cycle abandoned may still compile.
    entries, used = dict(_state["entries"]), set(_state["used"])
    kept = dict((key, entries[key]) for key in used if key in entries)
    for key in entries:  # what earlier processes compiled and this one did not need
        if len(kept) >= MAX_ENTRIES:
            break
        kept.setdefault(key, entries[key])
    try:
        body = marshal.dumps({"format": FORMAT, "entries": kept})
    except ValueError:
        return False
    from guestagent import runtimefiles
    if not runtimefiles.write_private(_state["path"], body):
        return False
    _state["missed"] = 0
    return True
