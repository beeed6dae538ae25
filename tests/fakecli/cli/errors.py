"""The stand-in's exceptions, named and shaped as in the public `errors/__init__.py` of the Guest
Shell module (../shared/docs/platform.md, "The `cli` module, as its public source behaves").
Where the doc gives no message, the text here is invented and says so."""


class CLIError(Exception):
    """Base of the errors `execute()` and `configure()` raise."""


class CLICommandError(CLIError):
    """`CLICommandError(command, message)` (platform.md: `;`, inner newline, bare `conf`, and any
    other IOS failure "with IOS's severity, code and message")."""

    def __init__(self, command, message, severity=None, code=None):
        CLIError.__init__(self, command, message)
        self.command = command
        self.message = message
        self.severity = severity
        self.code = code

    def __str__(self):
        # Invented layout: the doc names the parts, not how they are printed.
        return 'CLICommandError: The command "{}" failed: {}'.format(self.command, self.message)


class CLISyntaxError(CLICommandError):
    """An invalid command. platform.md: the message is `SyntaxError: There was a problem running
    the command: "<command>"`, with no IOS text (no `% Invalid input`)."""

    def __init__(self, command):
        CLICommandError.__init__(self, command, "There was a problem running the command")

    def __str__(self):
        return 'SyntaxError: There was a problem running the command: "{}"'.format(self.command)


class CLITimeoutError(CLIError):
    """platform.md: `CLITimeoutError(command, output)`, `.output` holds what IOS printed so far."""

    def __init__(self, command, output):
        CLIError.__init__(self, command, output)
        self.command = command
        self.output = output

    def __str__(self):
        # Invented text.
        return 'TimeoutError: The command "{}" did not finish in time'.format(self.command)


class CLIConfigurationError(CLIError):
    """platform.md: raised by `configure()` when any line failed; `.commands` all results,
    `.failed` the failed ones."""

    def __init__(self, commands):
        self.commands = list(commands)
        self.failed = [c for c in self.commands if not c.success]
        CLIError.__init__(self, "{} of {} configuration line(s) failed".format(
            len(self.failed), len(self.commands)))  # invented text


class PnPSocketError(Exception):
    """platform.md: when the socket to IOS is absent each call raises
    `SocketError: Socket ... not present. Make sure to enable http server`."""

    def __init__(self, path):
        Exception.__init__(self, "SocketError: Socket {} not present. Make sure to enable http "
                                 "server".format(path))
        self.path = path


class PnPConcurrentUseError(Exception):
    """Not in the real module: there, two overlapping calls corrupt the shared session (platform.md
    "Concurrency": one listener rewrites its token from each response, nothing locks it) and fail
    in no documented way. The stand-in makes that failure loud and names it."""


# platform.md: `cli()`/`clip()` raise these, which are not CLIError subclasses.
class cli_syntax_error(Exception):  # noqa: N801 (the real module's names)
    pass


class cli_exec_error(Exception):  # noqa: N801
    pass
