"""The stand-in's transport, in the place of the public module's `pnp/_pnp.py`: one module-level
listener made at import from the `SHELL_SESSION_*` variables IOS sets, and an "IOS" behind it that
answers from fixture files. Each behaviour cites ../shared/docs/platform.md ("The `cli` module, as
its public source behaves"); what the stand-in adds for tests is marked "stand-in".

Knobs (environment, read at each call unless said otherwise; all stand-in):
- FAKECLI_FIXTURES   directories (os.pathsep) holding `<slug>.txt` / `<slug>__<provenance>.txt`;
                     default: the embedded IR1101 outputs (guestagent/device/ir1101/).
- FAKECLI_LOG        file that gets one JSON line per configure() / cli() call, and
                     `{"concurrent": ...}` when two calls overlapped; `<FAKECLI_LOG>.running` keeps
                     the applied event manager configuration.
- FAKECLI_LOG_EXECUTE=1  also log `{"execute": command, "start": t, "end": t}` per execute().
- FAKECLI_REJECT     regular expression: configuration lines matching it fail.
- FAKECLI_REJECT_ALL=1   IOS rejects the whole configuration request.
- FAKECLI_NO_SOCKET=1    the socket to IOS is absent.
- FAKECLI_DELAY      `regex=seconds[,regex=seconds...]`: how long IOS takes for commands matching
                     the regex (re.search on the command with single spaces; no `,` in a regex).
- FAKECLI_FAIL       `regex=message[,regex=message...]`: IOS fails commands matching the regex with
                     that message (CLICommandError; severity "error" and code "1" are invented).
- FAKECLI_LATENCY_S  the round trip of every call that reaches IOS (default 0.02 s), so that calls
                     the caller does not serialize really overlap.
- FAKECLI_TZ_NAME / FAKECLI_TZ_OFFSET_S  the router's `clock timezone` (default UTC, 0);
  FAKECLI_CLOCK_SYNCED=1 drops the leading `*` of `show clock`.
"""

import collections
import json
import os
import re
import threading
import time
import uuid

from .errors import CLITimeoutError, PnPConcurrentUseError, PnPSocketError

HERE = os.path.dirname(os.path.abspath(__file__))
# Where the stand-in sits in the source tree; an installed copy finds it in _installed.json.
_SOURCE_EMBEDDED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
                                "guestagent", "device", "ir1101")
# platform.md: IOS's side of the transport is HTTP on this Unix socket.
SOCKET_PATH = "/cisco/nginx_shared/pnp_python.sock"
# platform.md: the transport's default wait when MAX_WAIT_TIME is None.
DEFAULT_MAX_WAIT_S = 3600.0
RUNNING_COMMAND = "show running-config | section event manager"

# platform.md "Import": the configuration keys read at import. The values IOS puts there are not
# documented; session_env() in install.py invents plausible ones.
SESSION_KEYS = ("scheme", "host", "listener_path", "udi", "user", "token", "session_id")
OPTIONAL_SESSION_KEYS = {"max_wait": None}


def _session_config():
    config = {}
    for key in SESSION_KEYS:
        name = "SHELL_SESSION_" + key
        if name not in os.environ:
            # platform.md: KeyError at import with this message (the tail after "found." is
            # invented).
            raise KeyError("The PnP Listener cannot be instantiated because the configuration key "
                           "'{}' could not be found. Was this process started by IOS (guestshell "
                           "run)?".format(name))
        config[key] = os.environ[name]
    for key, default in OPTIONAL_SESSION_KEYS.items():
        config[key] = os.environ.get("SHELL_SESSION_" + key, default)
    return config


def _env(name, default=None):
    return os.environ.get(name, default)


def _log(entry):
    path = _env("FAKECLI_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def slug(command):
    """The fixture file stem for a command; the same rule as guestagent.device.slug (a test checks
    that they agree), kept here so that an installed copy needs nothing from the agent."""
    text = re.sub(r"\s+", " ", command.strip().lower())
    return re.sub(r"[^a-z0-9_.-]", "",
                  text.replace(" ", "_").replace("/", "-").replace("|", "pipe"))


def _fixture_dirs():
    value = _env("FAKECLI_FIXTURES")
    if value:
        return value.split(os.pathsep)
    installed = os.path.join(HERE, "_installed.json")
    if os.path.exists(installed):
        with open(installed, encoding="utf-8") as f:
            return [json.load(f)["fixtures"]]
    return [_SOURCE_EMBEDDED]


def _matching(variable, command):
    """The value of the first `regex=value` entry of $variable whose regex matches, or None."""
    for entry in (_env(variable) or "").split(","):
        if "=" in entry:
            pattern, value = entry.split("=", 1) if variable == "FAKECLI_FAIL" else \
                entry.rsplit("=", 1)
            if re.search(pattern, command):
                return value
    return None


def _delay_s(command):
    return float(_matching("FAKECLI_DELAY", command) or 0.0)


def _clock_text():
    # platform.md "Guest Shell's user and environment": `10:02:11.123 AEST Mon Nov 30 2026`, a
    # leading `*` when not synchronized. IOS prints the day of the month without padding.
    offset_s = int(_env("FAKECLI_TZ_OFFSET_S", "0"))
    name = _env("FAKECLI_TZ_NAME", "UTC")
    now = time.time() + offset_s
    local = time.gmtime(now)
    millis = int((now % 1) * 1000)
    star = "" if _env("FAKECLI_CLOCK_SYNCED") else "*"
    return "{}{}.{:03d} {} {} {} {} {}\n".format(
        star, time.strftime("%H:%M:%S", local), millis, name, time.strftime("%a", local),
        time.strftime("%b", local), local.tm_mday, local.tm_year)


# -- the router's event manager configuration --------------------------------------------------

def _running_path():
    log = _env("FAKECLI_LOG")
    return log + ".running" if log else None


def _load_running():
    """(OrderedDict applet -> lines, [global lines]) as applied so far."""
    path = _running_path()
    if not path or not os.path.exists(path):
        return collections.OrderedDict(), []
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return collections.OrderedDict(data["applets"]), data["global"]


def _save_running(applets, global_lines):
    path = _running_path()
    if path:
        with open(path + ".new", "w", encoding="utf-8") as f:
            json.dump({"applets": list(applets.items()), "global": global_lines}, f)
        os.rename(path + ".new", path)


def _running_text():
    applets, global_lines = _load_running()
    out = list(global_lines)
    for name, lines in applets.items():
        out.append("event manager applet " + name)
        out.extend(lines)
    return "\n".join(out) + ("\n" if out else "")


_SESSION_USER = re.compile(r'^(no )?event manager session cli username "?([^"\s]+)"?$')


def _as_ios_stores(line):
    """platform.md: a running config prints `event manager session cli username "operator"`, the
    name in quotes, however it was typed."""
    match = _SESSION_USER.match(line)
    if match:
        return '{}event manager session cli username "{}"'.format(match.group(1) or "",
                                                                  match.group(2))
    return line


def _apply(lines):
    """Apply configuration lines to the event manager running config; one result dict a line."""
    reject = _env("FAKECLI_REJECT")
    applets, global_lines = _load_running()
    results = []
    current = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        ok = not (reject and re.search(reject, line))
        output = "" if ok else "% Invalid input detected at '^' marker."
        if ok:
            match = re.match(r"^(no )?event manager applet (\S+)$", stripped)
            stored = _as_ios_stores(stripped)
            if match and match.group(1):
                if match.group(2) in applets:
                    del applets[match.group(2)]
                else:
                    ok, output = False, "%Error: Applet {} not found".format(match.group(2))
                current = None
            elif match:
                current = match.group(2)
                applets[current] = []  # the agent re-sends every line of an applet
            elif line.startswith(" ") and current is not None:
                applets[current].append(" " + stripped)
            elif stored.startswith("no ") and stored[3:] in global_lines:
                global_lines.remove(stored[3:])
                current = None
            else:
                if stored not in global_lines:
                    global_lines.append(stored)
                current = None
        results.append({"success": ok, "command": stripped, "line": number, "output": output,
                        "notes": None})
    _save_running(applets, global_lines)
    return results


# -- the listener ------------------------------------------------------------------------------

class PnPListener(object):
    """platform.md "Concurrency": every call goes through this one module-level object, which
    rewrites its session token from each response and locks nothing. The stand-in notices a
    second call while one is in flight and fails it loudly (PnPConcurrentUseError, and a
    `{"concurrent": ...}` line in FAKECLI_LOG)."""

    def __init__(self, config):
        self.config = config
        self.token = config["token"]
        self._in_flight = None  # (kind, payload) of the call on the wire
        self._guard = threading.Lock()  # only to notice overlaps, never to wait

    def _max_wait_s(self, timeout):
        if timeout is not None:
            return float(timeout)
        return float(self.config.get("max_wait") or DEFAULT_MAX_WAIT_S)

    def _enter(self, kind, payload):
        # platform.md: an absent socket fails each call.
        if _env("FAKECLI_NO_SOCKET"):
            raise PnPSocketError(SOCKET_PATH)
        if not self._guard.acquire(False):
            other = self._in_flight
            _log({"concurrent": {"call": [kind, payload], "in_flight": list(other or ()),
                                 "thread": threading.current_thread().name, "pid": os.getpid(),
                                 "time": time.time()}})
            raise PnPConcurrentUseError(
                "concurrent use of the cli module: {} {!r} started while {} {!r} was in flight "
                "(one module-level PnP listener, not thread-safe: serialize the calls)".format(
                    kind, payload, other[0] if other else "?", other[1] if other else "?"))
        self._in_flight = (kind, payload)
        time.sleep(float(_env("FAKECLI_LATENCY_S", "0.02")))

    def _leave(self):
        self.token = uuid.uuid4().hex  # the response carries the next token
        self._in_flight = None
        self._guard.release()

    def execute(self, command, timeout=None):
        """IOS's answer to one exec command: {"status": "ok", "text": str or None} (None when IOS
        sent no text), {"status": "syntax"}, {"status": "timeout", "output": partial} or
        {"status": "error", "severity", "code", "message"}."""
        self._enter("execute", command)
        start = time.time()
        try:
            answer = self._ios_execute(command, self._max_wait_s(timeout))
        finally:
            if _env("FAKECLI_LOG_EXECUTE"):
                _log({"execute": command, "start": start, "end": time.time(),
                      "thread": threading.current_thread().name})
            self._leave()
        return answer

    def _ios_execute(self, command, max_wait_s):
        normal = re.sub(r"\s+", " ", command.strip())
        failure = _matching("FAKECLI_FAIL", normal)
        if failure is not None:
            # platform.md: any other failure comes with IOS's severity, code and message.
            return {"status": "error", "severity": "error", "code": "1", "message": failure}
        if normal == "show clock":
            text = _clock_text()
        elif normal == RUNNING_COMMAND:
            text = _running_text() or None
        else:
            text = self._fixture(normal)
            if text is False:
                return {"status": "syntax"}
        delay_s = _delay_s(normal)
        if delay_s > max_wait_s:
            # platform.md "Timeout": IOS gives up after MAX_WAIT_TIME with what it printed so far
            # (here the share of the text the elapsed time stands for).
            time.sleep(max_wait_s)
            whole = text or ""
            return {"status": "timeout",
                    "output": whole[:int(len(whole) * max_wait_s / delay_s)]}
        time.sleep(delay_s)
        return {"status": "ok", "text": text}

    def _fixture(self, command):
        """The file's text, None for an empty file (IOS sent no text), False when none exists."""
        stem = slug(command)
        for directory in _fixture_dirs():
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                continue
            for name in names:
                if name == stem + ".txt" or (name.startswith(stem + "__")
                                             and name.endswith(".txt")):
                    with open(os.path.join(directory, name), encoding="utf-8") as f:
                        return f.read() or None
        return False

    def configure(self, text):
        """platform.md "configure(lines)": one result dict per line; [] when IOS rejects the whole
        request (FAKECLI_REJECT_ALL)."""
        lines = text.split("\n")
        self._enter("configure", text)
        try:
            _log({"configure": lines})
            if _env("FAKECLI_REJECT_ALL"):
                return []
            return _apply(lines)
        finally:
            self._leave()

    def note(self, entry):
        _log(entry)


listener = PnPListener(_session_config())
