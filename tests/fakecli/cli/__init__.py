"""A stand-in for Guest Shell's `cli` module that behaves like the public source of the real one,
failures and quirks included; each behaviour cites ../shared/docs/platform.md, section "The `cli`
module, as its public source behaves" (below: "platform.md").

Install it where Guest Shell has it (`tests.fakecli.install.install_into`) or put its parent
directory on PYTHONPATH. The process needs the `SHELL_SESSION_*` variables IOS sets
(`tests.fakecli.install.session_env()`): without them the import fails, as on the router. The
knobs that make "IOS" answer in a given way are listed in `cli/_pnp.py`.
"""

import collections
import re

# platform.md "Import": the transport reads the session variables at import time and raises
# KeyError when one is missing, so a process not started by IOS fails here.
from . import _pnp
from .errors import (CLICommandError, CLIConfigurationError, CLIError,  # noqa: F401
                        CLISyntaxError, CLITimeoutError, PnPConcurrentUseError, PnPSocketError,
                        cli_exec_error, cli_syntax_error)

# platform.md "Timeout": None means the transport's default (SHELL_SESSION_max_wait or 3600 s);
# a number makes IOS give up after that many seconds with CLITimeoutError.
MAX_WAIT_TIME = None

# platform.md "configure(lines)": results of this shape.
ConfigResult = collections.namedtuple("ConfigResult", "success command line output notes")

# platform.md "execute": a bare `conf`/`configure` (any abbreviation IOS accepts) is refused.
_CONFIGURE = re.compile(r"^\s*conf(i(g(u(r(e)?)?)?)?)?\s*$")


def execute(command):
    """One exec command; its text without leading and trailing newlines."""
    # platform.md: leading/trailing newlines are stripped first ...
    command = command.strip("\n")
    # ... and an empty command returns '' without asking IOS.
    if not command:
        return ""
    # platform.md: `;` or an inner newline is refused with this message.
    if ";" in command or "\n" in command:
        raise CLICommandError(command, "You may not run multiple commands using execute().")
    if _CONFIGURE.match(command):
        # platform.md: a bare conf/configure raises CLICommandError (message invented).
        raise CLICommandError(command, "You may not enter configuration mode using execute(); "
                                       "use configure().")
    response = _pnp.listener.execute(command, timeout=MAX_WAIT_TIME)
    if response["status"] == "syntax":
        # platform.md: CLISyntaxError carries no IOS text.
        raise CLISyntaxError(command)
    if response["status"] == "error":
        # platform.md: any other failure raises CLICommandError with IOS's severity, code and
        # message.
        raise CLICommandError(command, response["message"], severity=response["severity"],
                              code=response["code"])
    if response["status"] == "timeout":
        # platform.md: CLITimeoutError(command, output), .output = what IOS printed so far.
        raise CLITimeoutError(command, response["output"])
    text = response["text"]
    # platform.md: success returns text.strip('\n'); no text at all is None.strip, so the module
    # raises AttributeError ('NoneType' object has no attribute 'strip') -- kept on purpose.
    return text.strip("\n")


def configure(configuration):
    """Configuration lines (a list, or one string of lines) -> [ConfigResult]."""
    if isinstance(configuration, str):
        text = configuration
    else:
        text = "\n".join(configuration)  # platform.md: lines joined by newlines
    entries = _pnp.listener.configure(text)
    results = [ConfigResult(e["success"], e["command"], e["line"], e["output"], e["notes"])
               for e in entries]
    # platform.md: any failed line raises CLIConfigurationError(.commands, .failed); when IOS
    # rejects the whole request there are no entries and [] comes back without raising.
    if any(not r.success for r in results):
        raise CLIConfigurationError(results)
    return results


def cli(command):
    """platform.md: a `" ;"`-separated batch of exec and config commands, raising
    cli_syntax_error / cli_exec_error (not CLIError subclasses). Logged as `{"cli": command}` in
    FAKECLI_LOG, so that a test can show the agent never calls it."""
    _pnp.listener.note({"cli": command})
    outputs = []
    config_lines = None
    for part in [p.strip() for p in command.split(";")]:
        if not part:
            continue
        if config_lines is None and re.match(r"^conf(igure)?( t(erminal)?)?$", part):
            config_lines = []
        elif config_lines is not None and part == "end":
            try:
                configure(config_lines)
            except CLIConfigurationError as exc:
                raise cli_exec_error("; ".join(r.output for r in exc.failed))
            config_lines = None
        elif config_lines is not None:
            config_lines.append(part)
        else:
            response = _pnp.listener.execute(part, timeout=MAX_WAIT_TIME)
            if response["status"] != "ok":
                raise cli_syntax_error("There was a problem running the command: " + part)
            outputs.append((response["text"] or "").strip("\n"))
    if config_lines:
        configure(config_lines)
    return "\n".join(outputs)


def clip(command):
    """platform.md: prints, and swallows errors."""
    try:
        print(cli(command))
    except Exception as exc:
        print(exc)


def executep(command):
    try:
        print(execute(command))
    except Exception as exc:
        print(exc)


def configurep(configuration):
    try:
        for result in configure(configuration):
            print(result)
    except Exception as exc:
        print(exc)
