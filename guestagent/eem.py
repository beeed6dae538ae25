"""EEM applets that start the agent on the router, rendered from the `eem:` config section.

```yaml
eem:
  prefix: QOE              # applet names: QOE_TIMER, QOE_NOW, QOE_TRACK_10, QOE_CRON
  interval_s: 300          # default: agent.interval_s (event timer watchdog)
  maxrun_s: 20             # default: agent.deadline_s / 0.7, rounded up
  tracks: [10, 20]         # one applet per IOS track (`track 10 ip sla 10 reachability`)
  throughput_cron: "15 3 * * *"   # a cron applet for the slow throughput test
  session_user: eemuser    # `event manager session cli username` under AAA authorization
  spread: true             # shift a cron timer by this router's stable offset (default)
  spread_key: FCW2316L0AB  # what the offset is hashed from; default: serial, instance, hostname
```

A fleet whose timers say the same `*/5` would push in the same second. With `timer_cron` set,
the timer applet is shifted by an offset in [0, the cron step) hashed (SHA-256) from the router's
serial: whole minutes go into the cron entry (`*/5` -> `3-59/5`), the seconds into an EEM
`wait` action before the agent starts, and maxrun grows by that wait so the cycle keeps its
budget. The same router always gets the same offset (no randomness: `render`, `apply` and
`doctor` agree on it).

IOS prints the session user quoted (`event manager session cli username "eemuser"`) however it was
typed: the running config is compared by the name, and removed by the line as IOS prints it.

The templates are the text of `eem/*.applet` in the source tree, kept here so that an installed
wheel renders the same lines (a test compares the two). Only `guestagent eem apply` and the
installer configure the router, through `cli.configure()`; nothing in a cycle does.
"""

import hashlib
import math
import os
import re

from guestagent.schema import Bool, Int, ListOf, Num, Section, Str

DEFAULT_PREFIX = "QOE"
# The installer's venv; a router install without it sets eem.python: python3.
DEFAULT_PYTHON = "/bootflash/guest-share/guestagent/venv/bin/python3"
# The cycle deadline's share of maxrun that we aim for, and the most we accept.
DEADLINE_SHARE = 0.7
DEADLINE_MAX_SHARE = 0.8

# Values that end up inside `cli command "..."` or on a config line: no quotes, `;`, `$` (EEM
# variables) or spaces where one word is expected.
_WORD = r"^[A-Za-z0-9_./:@+-]+$"
_CRON = r"^[0-9*/,\- ]+$"

SCHEMA = Section({
    "prefix": Str(DEFAULT_PREFIX, "applet name prefix", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,24}$"),
    "interval_s": Int(None, "seconds between timer cycles; default: agent.interval_s", minimum=10),
    "timer_cron": Str(None, "a cron entry instead of the watchdog timer (\"*/5 * * * *\")",
                      pattern=_CRON),
    "maxrun_s": Int(None, "EEM maxrun of every applet; default: agent.deadline_s / 0.7 rounded "
                    "up (IOS's own default, 20 s, is too short to be left implicit)", minimum=5),
    "python": Str(DEFAULT_PYTHON, "the Python that runs the agent inside Guest Shell",
                  pattern=_WORD),
    "config": Str(None, "config file passed with -c; default: none when the config is the "
                  "router's standard one, else the file that was loaded", pattern=_WORD),
    "tracks": ListOf(Int(minimum=1, maximum=1000), [], "IOS track ids: one applet each, run on "
                     "every state change", single_ok=True),
    "manual": Str("NOW", "suffix of the `event none` applet (`event manager run QOE_NOW`); "
                  "empty: none", pattern=r"^[A-Za-z0-9_-]*$"),
    "throughput_cron": Str(None, "cron entry of the slow-schedule applet (--trigger cron)",
                           pattern=_CRON),
    "session_user": Str(None, "`event manager session cli username` for AAA command "
                        "authorization", pattern=_WORD),
    "spread": Bool(True, "shift the cron timer by a stable per-router offset so that a fleet "
                   "does not push in the same second"),
    "spread_key": Str(None, "text the offset is hashed from; default: the router's serial "
                      "(`show version`), else agent.instance, else the hostname", pattern=_WORD),
}, default={})

# One template per applet kind; {name}, {event}, {command} filled in by render().
TEMPLATES = {
    "timer": ("event manager applet {name}\n"
              " event timer watchdog time {interval} maxrun {maxrun}\n"),
    "timer-cron": ("event manager applet {name}\n"
                   " event timer cron cron-entry \"{cron}\" maxrun {maxrun}\n"),
    "track": ("event manager applet {name}\n"
              " event track {track} state any maxrun {maxrun}\n"),
    "manual": ("event manager applet {name}\n"
               " event none maxrun {maxrun}\n"),
    "cron": ("event manager applet {name}\n"
             " event timer cron cron-entry \"{cron}\" maxrun {maxrun}\n"),
}
# The spread's seconds: EEM's own `wait` action, before the agent starts (it counts in maxrun).
WAIT_ACTION = " action 0.5 wait {wait}\n"
ACTIONS = (" action 1.0 cli command \"enable\"\n"
           " action 2.0 cli command \"guestshell run {command}\"\n")


class EEMError(Exception):
    """The eem section cannot give applets that work; the message says how to fix it."""


def settings(config):
    return config.get("eem") or SCHEMA.defaults()


def maxrun_s(config):
    value = settings(config).maxrun_s
    if value is None:
        value = int(math.ceil(float(config.agent.deadline_s) / DEADLINE_SHARE))
    return int(value)


def check(config):
    """Problems (strings) that make the applets wrong; empty when they are right."""
    eem = settings(config)
    problems = []
    maxrun = maxrun_s(config)
    deadline = float(config.agent.deadline_s)
    if deadline > DEADLINE_MAX_SHARE * maxrun:
        problems.append(
            "agent.deadline_s {:g} is more than {:.0%} of eem.maxrun_s {} ({:g} s): EEM would "
            "kill the cycle before it writes its report; set eem.maxrun_s to at least {} or "
            "agent.deadline_s to at most {:g}".format(
                deadline, DEADLINE_MAX_SHARE, maxrun, DEADLINE_MAX_SHARE * maxrun,
                int(math.ceil(deadline / DEADLINE_SHARE)),
                math.floor(DEADLINE_SHARE * maxrun * 10) / 10.0))
    interval = eem.interval_s or config.agent.interval_s
    if not eem.timer_cron and maxrun > interval:
        problems.append("eem.maxrun_s {} is longer than the timer interval {:g} s: cycles would "
                        "overlap (the second one exits at the lock); lengthen the interval or "
                        "shorten maxrun".format(maxrun, interval))
    step = cron_step_min(eem.timer_cron) if eem.timer_cron else None
    if step is not None and maxrun > step * 60:
        problems.append("eem.maxrun_s {} is longer than the cron step of {} min: cycles would "
                        "overlap; lengthen the step or shorten maxrun".format(maxrun, step))
    return problems


def config_argument(config):
    """The `-c FILE` part of the command, or ""."""
    from guestagent.config import EMBEDDED_DEFAULT, ROUTER_CONFIG
    eem = settings(config)
    path = eem.config
    if path is None:
        source = getattr(config, "source", None) or ""
        if not source or source.startswith("<"):  # parsed from text, not a file
            return ""
        # EEM starts the agent elsewhere than where this runs: the file's absolute path.
        path = os.path.abspath(source)
        if path in (ROUTER_CONFIG, EMBEDDED_DEFAULT):
            return ""
        if not re.match(_WORD, path):
            raise EEMError("the config path {!r} cannot go into an EEM command (spaces or "
                           "quotes); set eem.config".format(path))
    return " -c " + path


# -- the spread: a stable per-router offset of the cron timer ------------------------------------

_STEP = re.compile(r"^\*(?:/([0-9]+))?$")


def spread_key(config, serial=None):
    """What the offset is hashed from: eem.spread_key, else the serial (read from `show version`
    by the caller), else agent.instance, else this host's name."""
    import socket
    return (settings(config).spread_key or serial or getattr(config.agent, "instance", None)
            or socket.gethostname())


def cron_step_min(cron):
    """The minute step of a cron entry whose minute field is `*` or `*/N` (N dividing 60), and
    whose other fields say nothing about minutes; None for any other entry (left unshifted)."""
    fields = (cron or "").split()
    if len(fields) != 5:
        return None
    match = _STEP.match(fields[0])
    if not match:
        return None
    step = int(match.group(1) or 1)
    return step if 1 <= step <= 60 and 60 % step == 0 else None


def spread_offset(key, step_min, budget_s):
    """(minute offset, wait seconds) for `key` in a cron period of `step_min` minutes, with a
    cycle that may run `budget_s` seconds. The hash's low part picks the minute, its next part
    the second; the wait is kept short enough that wait + budget fits in the period, so cycles
    never overlap."""
    period_s = step_min * 60
    seconds = max(1, min(60, period_s - budget_s + 1))
    value = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:16], 16)
    return value % step_min, (value // step_min) % seconds


def read_serial(runner):
    """The serial in `show version` through anything with .execute() (the cli module, a
    device); None when it cannot be read."""
    from guestagent import ios
    try:
        return ios.parser("show-version")(runner.execute("show version") or "").get("serial")
    except Exception:
        return None


def spread(config, key=None, serial=None):
    """The timer's spread: {"key", "minute", "wait_s", "offset_s", "cron"} or None when there
    is none (spread off, a watchdog timer, or a cron entry that is not `*/N`)."""
    eem = settings(config)
    if not eem.spread or not eem.timer_cron:
        return None
    cron = eem.timer_cron.strip()
    step = cron_step_min(cron)
    if step is None:
        return None
    key = key or spread_key(config, serial)
    minute, wait = spread_offset(key, step, maxrun_s(config))
    fields = cron.split()
    fields[0] = "*" if step == 1 else "{}-59/{}".format(minute, step)
    return {"key": key, "minute": minute, "wait_s": wait, "offset_s": minute * 60 + wait,
            "cron": " ".join(fields)}


def applets(config, key=None, serial=None):
    """[(name, kind, [config lines])] in the order they are applied."""
    eem = settings(config)
    maxrun = maxrun_s(config)
    base = "{} -m guestagent run{}".format(eem.python, config_argument(config))
    out = []

    def add(kind, suffix, template, trigger, wait=0, **values):
        name = "{}_{}".format(eem.prefix, suffix)
        # The wait runs inside the applet, so maxrun carries it on top of the cycle's budget.
        text = TEMPLATES[template].format(name=name, maxrun=maxrun + wait, **values)
        if wait:
            text += WAIT_ACTION.format(wait=wait)
        text += ACTIONS.format(command="{} --trigger {}".format(base, trigger))
        out.append((name, kind, text.splitlines()))

    if eem.timer_cron:
        shift = spread(config, key, serial)
        if shift is None:
            add("timer", "TIMER", "timer-cron", "timer", cron=eem.timer_cron.strip())
        else:
            add("timer", "TIMER", "timer-cron", "timer", wait=shift["wait_s"],
                cron=shift["cron"])
    else:
        add("timer", "TIMER", "timer", "timer", interval=int(eem.interval_s or
                                                             config.agent.interval_s))
    for track in sorted(set(eem.tracks or [])):
        add("track", "TRACK_{}".format(track), "track",
            "track --track {} --track-state $_track_state".format(track), track=track)
    if eem.manual:
        add("manual", eem.manual, "manual", "manual")
    if eem.throughput_cron:
        add("cron", "CRON", "cron", "cron", cron=eem.throughput_cron.strip())
    return out


SESSION_PREFIX = "event manager session cli username"
_SESSION = re.compile(r'^event manager session cli username\s+(?:"([^"]*)"|(\S+))')


def session_lines(config):
    """The line we send (IOS takes the name bare; the pattern keeps it one word)."""
    user = settings(config).session_user
    return ["{} {}".format(SESSION_PREFIX, user)] if user else []


def session_as_printed(user):
    """The session line as the running config prints it: the name in quotes."""
    return '{} "{}"'.format(SESSION_PREFIX, user)


def session_user_of(line):
    """The user of an `event manager session cli username` line, printed quoted by IOS or bare
    as typed; None for any other line."""
    match = _SESSION.match(line.strip())
    if not match:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


def running_session(global_lines):
    """The router's session line exactly as printed, and its user; (None, None) when absent."""
    for line in global_lines:
        user = session_user_of(line)
        if user is not None:
            return line, user
    return None, None


def render(config, key=None, serial=None):
    """Every config line `eem apply` sends, in order; raises EEMError when the section is wrong.
    `key`/`serial` name the router for the spread (see spread_key())."""
    problems = check(config)
    if problems:
        raise EEMError("; ".join(problems))
    lines = list(session_lines(config))
    for _name, _kind, applet_lines in applets(config, key, serial):
        lines.extend(applet_lines)
    for line in lines:
        if ";" in line or "\n" in line:  # cli.configure() would refuse it anyway
            raise EEMError("rendered line carries ';' or a newline: {!r}".format(line))
    return lines


def name_pattern(config):
    """Applet names this agent may have added (for removing stale ones)."""
    eem = settings(config)
    return re.compile(r"^{}_(TIMER|CRON|TRACK_\d+{})$".format(
        re.escape(eem.prefix), "|" + re.escape(eem.manual) if eem.manual else ""))


# -- the running configuration ------------------------------------------------------------------

RUNNING_COMMAND = "show running-config | section event manager"


def parse_running(text):
    """`show running-config | section event manager` -> ({applet name: [lines]}, [global lines]).

    Lines are stripped of trailing blanks; a body line keeps one leading space as rendered."""
    applets_found = {}
    global_lines = []
    current = None
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if not line.strip() or line.strip() == "!":
            continue
        match = re.match(r"^event manager applet (\S+)", line)
        if match:
            current = match.group(1)
            applets_found[current] = [line]
        elif line.startswith((" ", "\t")) and current is not None:
            applets_found[current].append(" " + line.strip())
        else:
            current = None
            global_lines.append(line.strip())
    return applets_found, global_lines


def compare(config, running_text, key=None, serial=None):
    """How the router's applets differ from the rendered ones: {"missing": [...],
    "different": [...], "matching": [...], "stale": [...]} of applet names."""
    found, global_lines = parse_running(running_text)
    result = {"missing": [], "different": [], "matching": [], "stale": [], "session": None}
    wanted = applets(config, key, serial)
    names = set()
    for name, _kind, lines in wanted:
        names.add(name)
        if name not in found:
            result["missing"].append(name)
        elif _normal(found[name]) != _normal(lines):
            result["different"].append(name)
        else:
            result["matching"].append(name)
    pattern = name_pattern(config)
    result["stale"] = sorted(n for n in found if n not in names and pattern.match(n))
    wanted_user = settings(config).session_user
    if wanted_user:
        _line, user = running_session(global_lines)
        result["session"] = user == wanted_user
    return result


def _normal(lines):
    return [re.sub(r"\s+", " ", line.strip()) for line in lines]


def removal_lines(config, running_text=None):
    """`no event manager applet NAME` for our applets: those present on the router when its
    running config is known (rendered and stale ones), else every rendered one."""
    names = [name for name, _kind, _lines in applets(config)]
    if running_text is not None:
        found, global_lines = parse_running(running_text)
        pattern = name_pattern(config)
        names = [n for n in names if n in found] + sorted(
            n for n in found if n not in names and pattern.match(n))
        # `no` + the line exactly as the router prints it (quoted), when it is ours.
        line, user = running_session(global_lines)
        wanted_user = settings(config).session_user
        session = [line] if wanted_user and user == wanted_user else []
    else:
        session = session_lines(config)
    return ["no event manager applet {}".format(n) for n in names] + ["no " + line
                                                                     for line in session]


# -- applying through the cli module ------------------------------------------------------------

def import_cli():
    from guestagent.device.onbox import import_cli as _import
    return _import()


def read_running(cli):
    """The running config's event manager section, or None when it cannot be read.

    An empty section reaches the module as no text at all, and the module's own
    `text.strip('\n')` then raises AttributeError (platform.md): that is an empty section."""
    try:
        return cli.execute(RUNNING_COMMAND) or ""
    except AttributeError:
        return ""
    except Exception:
        return None


def configure(cli, lines):
    """Send lines with cli.configure(); returns [{line, success, output, notes}] for every line,
    and whether all succeeded. A CLIConfigurationError's `.failed` results are reported too."""
    from guestagent.device import ios_error
    if not lines:
        return [], True
    try:
        results = cli.configure(lines)
        ok = True
    except Exception as exc:
        failed = getattr(exc, "failed", None)
        if failed is None:
            return [_failure("{}: {}".format(type(exc).__name__, exc))], False
        results = failed
        ok = False
    if ok and not results:
        # The transport returns no entries when IOS rejects the whole request, and the module
        # then returns [] without raising (platform.md): nothing was configured.
        return [_failure("IOS rejected the whole request: cli.configure() returned no result "
                         "for {} line(s)".format(len(lines)))], False
    out = []
    for result in results or []:
        output = (getattr(result, "output", "") or "").strip()
        entry = {"line": getattr(result, "line", None), "command": getattr(result, "command", ""),
                 "success": bool(getattr(result, "success", False)) and not ios_error(output),
                 "output": output, "notes": getattr(result, "notes", None)}
        ok = ok and entry["success"]
        out.append(entry)
    return out, ok


def _failure(message):
    return {"line": None, "command": "", "success": False, "output": message, "notes": None}
