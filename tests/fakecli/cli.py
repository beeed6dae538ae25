"""A stand-in for Guest Shell's `cli` module, for tests: put this directory on PYTHONPATH.

- `execute(cmd)` serves `<dir>/<slug>__*.txt` (slug = `guestagent.device.slug`) from the
  directories in $FAKECLI_FIXTURES (os.pathsep separated; default: the embedded IR1101 outputs),
  answers `show clock` with the current time, and `show running-config | section event manager`
  from what `configure()` has applied. Like the real module it refuses `;` and newlines
  (CLICommandError) and raises CLISyntaxError for a command it does not know.
- `configure(lines)` appends each call as one JSON line to the file named by $FAKECLI_LOG and keeps
  the applied event manager configuration in `$FAKECLI_LOG.running`. Lines matching the regular
  expression $FAKECLI_REJECT fail (CLIConfigurationError with `.failed`).
- $FAKECLI_BROKEN=1 makes every call fail the way a process without an IOS session fails.
"""

import collections
import json
import os
import re
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EMBEDDED = os.path.join(ROOT, "guestagent", "device", "ir1101")

ConfigResult = collections.namedtuple("ConfigResult", "success command line output notes")


class CLICommandError(Exception):
    pass


class CLISyntaxError(Exception):
    pass


class CLIConfigurationError(Exception):
    def __init__(self, message, failed):
        Exception.__init__(self, message)
        self.failed = failed


def _broken():
    if os.environ.get("FAKECLI_BROKEN"):
        raise IOError("Couldn't connect to the IOS cli session (fake: FAKECLI_BROKEN)")


def _slug(command):
    try:
        from guestagent.device import slug
    except ImportError:  # the installed agent is elsewhere on the path; same rule
        text = re.sub(r"\s+", " ", command.strip().lower())
        return re.sub(r"[^a-z0-9_.-]", "",
                      text.replace(" ", "_").replace("/", "-").replace("|", "pipe"))
    return slug(command)


def _fixture_dirs():
    value = os.environ.get("FAKECLI_FIXTURES")
    return value.split(os.pathsep) if value else [EMBEDDED]


def _running_path():
    log = os.environ.get("FAKECLI_LOG")
    return log + ".running" if log else None


def _running():
    """The applied event manager configuration: (OrderedDict applet -> lines, [global lines])."""
    path = _running_path()
    if not path or not os.path.exists(path):
        return collections.OrderedDict(), []
    with open(path) as f:
        data = json.load(f)
    return collections.OrderedDict(data["applets"]), data["global"]


def _save_running(applets, global_lines):
    path = _running_path()
    if path:
        with open(path, "w") as f:
            json.dump({"applets": list(applets.items()), "global": global_lines}, f)


def execute(cmd):
    _broken()
    if ";" in cmd or "\n" in cmd or "\r" in cmd:
        raise CLICommandError("Invalid command: ';' and newlines are not allowed: {!r}".format(cmd))
    command = re.sub(r"\s+", " ", cmd.strip())
    if command == "show clock":
        return "*" + time.strftime("%H:%M:%S.000 UTC %a %b %d %Y", time.gmtime()) + "\n"
    if command == "show running-config | section event manager":
        applets, global_lines = _running()
        out = list(global_lines)
        for name, lines in applets.items():
            out.append("event manager applet " + name)
            out.extend(lines)
        return "\n".join(out) + ("\n" if out else "")
    stem = _slug(command)
    for directory in _fixture_dirs():
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if name == stem + ".txt" or (name.startswith(stem + "__") and name.endswith(".txt")):
                with open(os.path.join(directory, name)) as f:
                    return f.read()
    raise CLISyntaxError("% Invalid input detected at '^' marker. (fake cli: no output for "
                         "{!r})".format(command))


def configure(configuration):
    _broken()
    if isinstance(configuration, str):
        lines = configuration.splitlines()
    else:
        lines = list(configuration)
    reject = os.environ.get("FAKECLI_REJECT")
    applets, global_lines = _running()
    results = []
    current = None
    for number, line in enumerate(lines, 1):
        ok = not (reject and re.search(reject, line)) and "\n" not in line and ";" not in line
        output = "" if ok else "% Invalid input detected at '^' marker."
        stripped = line.strip()
        if ok:
            match = re.match(r"^(no )?event manager applet (\S+)$", stripped)
            if match and match.group(1):
                if match.group(2) in applets:
                    del applets[match.group(2)]
                else:
                    ok, output = False, "%Error: Applet {} not found".format(match.group(2))
                current = None
            elif match:
                current = match.group(2)
                applets[current] = []  # IOS keeps an existing applet's lines; we re-send all
            elif line.startswith(" ") and current is not None:
                applets[current].append(" " + stripped)
            elif stripped.startswith("no ") and stripped[3:] in global_lines:
                global_lines.remove(stripped[3:])
                current = None
            else:
                if stripped not in global_lines:
                    global_lines.append(stripped)
                current = None
        results.append(ConfigResult(ok, stripped, number, output, None))
    _save_running(applets, global_lines)
    log = os.environ.get("FAKECLI_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"configure": lines}) + "\n")
    failed = [r for r in results if not r.success]
    if failed:
        raise CLIConfigurationError("{} line(s) failed".format(len(failed)), failed)
    return results


def cli(command):
    """The real `cli.cli()` runs `;`-separated exec and config commands; the agent never uses it."""
    raise CLICommandError("the agent must not call cli.cli() (fake)")


def clip(command):
    print(cli(command))


def executep(command):
    print(execute(command))


def configurep(configuration):
    for result in configure(configuration):
        print(result)
