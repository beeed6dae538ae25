"""The command line: `guestagent` and `python3 -m guestagent`.

Exit codes: 0 ok; 1 the cycle ran but recorded errors; 2 bad configuration or usage; 3 another
cycle holds the lock; 141 (128 + SIGPIPE, as the shell reports `cat`) the reader of stdout went
away, quietly. Modules are imported per subcommand so that `--version` stays cheap.

Output survives any locale: under EEM there is none (C), and Python 3.6 then has an ASCII stdout;
what it cannot encode is printed as backslash escapes. Input files are read as UTF-8.
"""

import sys

from guestagent import (EXIT_BROKEN_PIPE, EXIT_LOCKED, EXIT_OK, EXIT_USAGE, __version__,
                        answered_version, leave)

# Subcommands that live in guestagent/commands/<name>.py (HELP, add_arguments, main).
COMMANDS = ["demo", "eem", "doctor", "bundle", "status", "sla", "state", "report"]
# Their HELP, repeated here (tests/test_cli.py keeps the two equal): the top-level parser lists
# every command without importing its module; only the command given is imported and gets its
# arguments, so that `--version` and `run` pay for no other command.
COMMAND_HELP = {
    "demo": "run one cycle of the embedded default against a local Pushgateway it starts",
    "eem": "EEM applets: `render` the config lines, `apply` them through the cli module, "
           "`remove` them",
    "doctor": "check Python, the cli module, ping/traceroute, locale, secret files, state "
              "directory, history, flash, config, Pushgateway, GPS, IP SLA, tracks and the EEM "
              "applets; one line each",
    "bundle": "build the offline Guest Shell bundle (dist/guestagent-<version>-guestshell.tar.gz)",
    "status": "the latest cycle and today's picture from the journal (never probes)",
    "sla": "SLA report: availability, outages, delay percentiles, loss, Fa, baselines",
    "state": "SLA state: `rebuild --journal DIR` from journal files, `show` its contents",
    "report": "the customer's SLA report (a calendar month or --from/--to) as a self-contained "
              "HTML file",
}

TRIGGERS = ("timer", "track", "manual", "cli", "cron")


def _command_module(name):
    """guestagent/commands/<name>.py. Not through importlib: on Python 3.6 importing that
    package (types, functools, collections, warnings ...) was half of `--version`'s start-up."""
    return __import__("guestagent.commands." + name, fromlist=["main"])


EPILOG = """exit codes: 0 ok, 1 the cycle ran but recorded errors, 2 bad configuration or usage,
3 another cycle holds the lock"""


def _parser_class():
    """argparse's parser, exiting 2 on a usage error (argparse is imported only when needed:
    `--version` does without it)."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            self.print_usage(sys.stderr)
            sys.stderr.write("{}: error: {}\n".format(self.prog, message))
            sys.exit(EXIT_USAGE)

    return _Parser, argparse


def add_config_argument(parser, used_for=None):
    """-c/--config, the same for every subcommand (the modules in commands/ use it too)."""
    parser.add_argument("-c", "--config", metavar="FILE",
                        help="config file{}; default: $GUESTAGENT_CONFIG, "
                             "/bootflash/guest-share/guestagent/config.yaml, else the embedded "
                             "default".format(", for " + used_for if used_for else ""))


def chosen_command(argv):
    """The subcommand named on the command line (its first word that is not an option)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def build_parser(argv=None):
    """The parser. Only the command that `argv` (default: the process's arguments) names gets its
    arguments and has its module imported; the others are listed by name and help."""
    command_name = chosen_command(sys.argv[1:] if argv is None else argv)
    _Parser, argparse = _parser_class()
    parser = _Parser(prog="guestagent", description="Network quality-of-experience agent for the "
                     "Cisco IR1101 Guest Shell.", epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="guestagent " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run one measurement cycle", epilog=EPILOG)
    add_config_argument(run)
    run.add_argument("--trigger", choices=TRIGGERS, default="cli", help="what started this cycle (recorded in the report)")
    run.add_argument("--deadline", type=float, metavar="SECONDS",
                     help="time budget (default: agent.deadline_s, ~70%% of the EEM maxrun)")
    run.add_argument("--dry-run", action="store_true", help="measure and journal, push nothing")
    run.add_argument("--track", type=int, metavar="N", help="the IOS track that fired (EEM)")
    run.add_argument("--track-state", metavar="STATE", help="its state, from $_track_state")
    run.add_argument("-v", "--verbose", action="store_true", help="print each probe as it ends")
    run.add_argument("--json", action="store_true", help="print the report on stdout")

    parse = sub.add_parser("parse", help="parse command output from FILE or stdin into JSON")
    parse.add_argument("kind", nargs="?", help="parser kind (see --list)")
    parse.add_argument("file", nargs="?", help="text file (default: stdin)")
    parse.add_argument("--list", action="store_true", help="list the parser kinds")

    check = sub.add_parser("check-config", help="validate a config file and exit")
    add_config_argument(check)
    check.add_argument("--show", action="store_true", help="print the config with defaults")

    for name in COMMANDS:
        command = sub.add_parser(name, help=COMMAND_HELP[name])
        if name == command_name:
            _command_module(name).add_arguments(command)
    return parser


def load_config(path, **options):
    from guestagent import config
    try:
        return config.load(path, **options)
    except config.ConfigError as exc:
        sys.stderr.write("guestagent: configuration has {} problem(s):\n".format(len(exc.problems)))
        for problem in exc.problems:
            sys.stderr.write("  " + problem + "\n")
        return None


def cmd_run(args, own_process=False):
    """One cycle; `own_process`: this process runs nothing else (EEM starts one per cycle)."""
    if own_process:
        import gc
        # The cyclic collector's passes over the objects that the modules make as they load
        # were 4% of a cycle without a test point on 3.6 (3 ms); the few reference cycles a
        # cycle leaves behind go with its process, a few seconds later.
        gc.disable()
    from guestagent import regexcache
    regexcache.install()  # first: the modules below compile their patterns as they load
    try:
        return _run(args)
    finally:
        regexcache.save()


def _run(args):
    from guestagent import cycle
    from guestagent.report import dumps
    if args.deadline is not None and args.deadline <= 0:
        sys.stderr.write("guestagent: --deadline must be > 0\n")
        return EXIT_USAGE
    try:  # before the config load, which takes seconds on the router: losers exit 3 at once
        with cycle.early_lock(args.config):
            config = load_config(args.config)
            if config is None:
                return EXIT_USAGE
            for warning in getattr(config, "warnings", None) or ():  # said, not fatal
                sys.stderr.write("guestagent: warning: {}\n".format(warning))
            report, code, message = cycle.run(
                config, trigger=args.trigger, deadline_s=args.deadline, dry_run=args.dry_run,
                verbose=args.verbose, track=args.track, track_state=args.track_state)
    except cycle.Locked as exc:
        report, code, message = None, EXIT_LOCKED, str(exc)
    if code == EXIT_LOCKED:
        sys.stderr.write("guestagent: {}\n".format(message))
        return code
    if args.json:
        sys.stdout.write(dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(summary(report) + "\n")
    return code


def summary(report):
    cycle = report["cycle"]
    lines = ["cycle {} ({}) {:.2f} s of {:.1f} s, device {}".format(
        cycle["id"], cycle["trigger"], cycle["duration_s"], cycle["deadline_s"],
        report["agent"]["device"]["kind"])]
    from guestagent.cycle import describe_sample
    for sample in report["probes"]:
        lines.append("  " + describe_sample(sample))
    lines.extend("  " + line for line in _section_lines(report))
    for name, outcome in sorted((report.get("sinks") or {}).items()):
        state = "ok" if outcome.get("ok") else (outcome.get("skipped") or outcome.get("error"))
        lines.append("  sink {}: {}".format(name, state))
    for error in report["errors"]:
        lines.append("  error: {}: {}".format(error["where"], error["message"]))
    return "\n".join(lines)


def _section_lines(report):
    """One line per router section and the SLA verdicts, for the person who ran the cycle."""
    lines = []
    path = report.get("path") or {}
    if path.get("hops"):
        lines.append("path toward {}: {} hop(s), first hop {}".format(
            path["toward"], len(path["hops"]), path.get("first_hop") or "-"))
    ipsla = report.get("ipsla") or []
    if ipsla:
        codes = ", ".join("{} {}".format(op.get("id"), op.get("return_code") or "?")
                          for op in ipsla[:6])
        lines.append("ip sla: {} operation(s): {}".format(len(ipsla), codes))
    location = report.get("location") or {}
    if location.get("source") not in (None, "none"):
        lines.append("location ({}): {:.5f}, {:.5f}{}".format(
            location["source"], location.get("latitude") or 0.0, location.get("longitude") or 0.0,
            ", fix " + str(location["fix"]) if location.get("fix") else ""))
    elif location:
        lines.append("location: none ({})".format(location.get("reason") or "no fix"))
    for radio in report.get("cellular") or []:
        lines.append("cellular {}: {} {} rsrp {} dBm, sinr/snr {} dB".format(
            radio.get("slot"), radio.get("technology") or "?", radio.get("operator") or "",
            radio.get("rsrp_dbm"), radio.get("snr_db")))
    targets = (report.get("sla") or {}).get("targets") or {}
    outages = [name for name, t in sorted(targets.items()) if t.get("in_outage")]
    if targets:
        lines.append("sla: {} test point(s), in outage: {}".format(
            len(targets), ", ".join(outages) or "none"))
    verdict = (report.get("isolation") or {}).get("verdict")
    if verdict:
        lines.append("fault domain: " + verdict)
    return lines


def cmd_parse(args):
    from guestagent import ios
    if args.list or not args.kind:
        for kind in ios.kinds():
            sys.stdout.write("{:<32} {}\n".format(kind, ios.describe(kind)))
        return EXIT_OK if args.list else EXIT_USAGE
    if args.kind not in ios.PARSERS:
        sys.stderr.write("guestagent: unknown parser kind {!r}; `guestagent parse --list` lists "
                         "them\n".format(args.kind))
        return EXIT_USAGE
    name = args.file if args.file and args.file != "-" else "<stdin>"
    try:
        if name != "<stdin>":
            with open(args.file, "rb") as f:
                data = f.read()
        elif sys.stdin is None:  # started without a stdin (EEM, a daemon)
            sys.stderr.write("guestagent: no stdin to read; give FILE\n")
            return EXIT_USAGE
        else:
            data = getattr(sys.stdin, "buffer", sys.stdin).read()
    except (IOError, OSError) as exc:
        sys.stderr.write("guestagent: cannot read {}: {}\n".format(name, exc.strerror or exc))
        return EXIT_USAGE
    text, problem = decode_utf8(data, name)
    if problem:
        sys.stderr.write("guestagent: {}\n".format(problem))
        return EXIT_USAGE
    import json
    result = ios.parser(args.kind)(text)
    sys.stdout.write(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
    return EXIT_OK


def decode_utf8(data, name):
    """(text, None) for UTF-8 bytes whatever the locale, newlines made `\\n` as text mode would;
    (None, "FILE:LINE: not UTF-8 ...") otherwise."""
    if isinstance(data, str):  # a text stream without a byte buffer
        return data, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        # The same words as the config loader's.
        return None, "{}:{}: not UTF-8: byte 0x{:02x} at column {}; save the file as " \
            "UTF-8".format(name, line, data[exc.start], column)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n"), None


def cmd_check_config(args):
    from guestagent.config import redacted
    # Also what the config names on disk (secret and CA files, directories): errors here.
    config = load_config(args.config, files=True)
    if config is None:
        return EXIT_USAGE
    for warning in config.warnings:
        sys.stderr.write("guestagent: warning: {}\n".format(warning))
    if args.show:
        import json
        sys.stdout.write(json.dumps(redacted(config), indent=2, sort_keys=True, default=str)
                         + "\n")
    else:
        sys.stdout.write("{}: ok ({} test point(s))\n".format(config.source, len(config.targets)))
    return EXIT_OK


class SafeStream(object):
    """stdout/stderr as the command line writes them, whatever the locale and the reader.

    Under a C locale Python 3.6 opens stdout as ASCII, strictly: a host name, a path or an IOS
    message with one non-ASCII character would end the command with UnicodeEncodeError. What the
    stream cannot encode is written as backslash escapes instead. A reader that went away
    (`| head -1`) makes every later write a no-op, so that a cycle still finishes its work."""

    def __init__(self, stream):
        self.stream = stream
        self.broken = False

    def write(self, text):
        if self.broken or self.stream is None:
            return len(text)
        try:
            try:
                return self.stream.write(text)
            except UnicodeEncodeError:  # nothing was written: the encoder runs first
                encoding = getattr(self.stream, "encoding", None) or "ascii"
                return self.stream.write(text.encode(encoding, "backslashreplace")
                                         .decode(encoding, "replace"))
        except (BrokenPipeError, ValueError):  # ValueError: closed under us
            self._break()
            return len(text)

    def flush(self):
        if self.broken or self.stream is None:
            return
        try:
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            self._break()

    def _break(self):
        self.broken = True
        # The interpreter flushes the real stream once more at exit: point its descriptor at
        # /dev/null so that this flush has nowhere to fail.
        import os
        try:
            fd = self.stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)
        except (AttributeError, ValueError, OSError, IOError):
            pass

    def isatty(self):
        try:
            return bool(self.stream is not None and self.stream.isatty())
        except (ValueError, OSError):
            return False

    def __getattr__(self, name):
        return getattr(self.stream, name)


def main(argv=None):
    """The program: every subcommand, with stdout and stderr that survive any locale and a
    closed pipe. `argv` None: this process's own arguments, the process being the program."""
    saved = sys.stdout, sys.stderr
    out, err = SafeStream(sys.stdout), SafeStream(sys.stderr)
    sys.stdout, sys.stderr = out, err
    exit_request = None
    try:
        try:
            code = _main(argv)
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            exit_request, code = exc, None
        except KeyboardInterrupt:
            code = 130
        out.flush()
        err.flush()
    finally:
        sys.stdout, sys.stderr = saved
    if out.broken:
        code = EXIT_BROKEN_PIPE
    elif exit_request is not None:
        raise exit_request
    if argv is None and (chosen_command(sys.argv[1:]) == "run" or
                         sys.argv[1:] == ["--version"]):
        leave(code)  # `run` has closed all it wrote (journal, state, lock); stdout is flushed
    return code


# `run`'s options, for run_arguments(): flags, and options taking a value (with its reader).
_RUN_FLAGS = {"--dry-run": "dry_run", "-v": "verbose", "--verbose": "verbose", "--json": "json"}
_RUN_VALUES = {"-c": ("config", str), "--config": ("config", str),
               "--trigger": ("trigger", str), "--deadline": ("deadline", float),
               "--track": ("track", int), "--track-state": ("track_state", str)}


def run_arguments(argv):
    """`run`'s arguments read without argparse (its import and the parser cost a cycle on
    Python 3.6 a tenth of its start-up), when they are plainly what argparse would accept: every
    option spelled out, each value separate and not starting with `-`. Anything else (help, an
    abbreviation, `--opt=value`, a mistake) is None, and argparse reads it and explains."""
    if not argv or argv[0] != "run":
        return None
    import types
    args = types.SimpleNamespace(command="run", config=None, trigger="cli", deadline=None,
                                 dry_run=False, track=None, track_state=None, verbose=False,
                                 json=False)
    words = iter(argv[1:])
    for word in words:
        if word in _RUN_FLAGS:
            setattr(args, _RUN_FLAGS[word], True)
            continue
        if word not in _RUN_VALUES:
            return None
        key, read = _RUN_VALUES[word]
        value = next(words, None)
        if value is None or value.startswith("-") or not value:
            return None
        try:
            value = read(value)
        except ValueError:
            return None
        if key == "trigger" and value not in TRIGGERS:
            return None
        setattr(args, key, value)
    return args


def _main(argv=None):
    words = sys.argv[1:] if argv is None else list(argv)
    if answered_version(words):
        return EXIT_OK
    args = run_arguments(words)
    if args is not None:  # how EEM starts every cycle
        return cmd_run(args, own_process=argv is None)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run(args, own_process=argv is None)
    if args.command == "parse":
        return cmd_parse(args)
    if args.command == "check-config":
        return cmd_check_config(args)
    if args.command in COMMANDS:
        return _command_module(args.command).main(args)
    parser.print_help()
    return EXIT_USAGE
