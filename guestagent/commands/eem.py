"""`guestagent eem render|apply|remove`: the EEM applets that start the agent.

`render` prints the config lines (paste them by hand, or review them). `apply` sends them with the
Guest Shell `cli.configure()`, after removing the applets of ours already on the router when they
differ, and prints each line's result. `remove` sends `no event manager applet NAME` for the
applets of ours that the router has. This command and the installer are the only parts of the
agent that configure the router.
"""

import sys

HELP = "EEM applets: `render` the config lines, `apply` them through the cli module, `remove` them"

EXIT_FAILED = 1


def add_arguments(parser):
    parser.add_argument("action", choices=("render", "apply", "remove"))
    from guestagent.cli import add_config_argument
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--spread-key", metavar="TEXT", help="name the router for the timer's "
                        "offset (its serial) when rendering elsewhere than on the router")


def main(args):
    from guestagent import EXIT_USAGE, eem
    from guestagent.cli import load_config
    config = load_config(args.config)
    if config is None:
        return EXIT_USAGE
    cli, why = eem.import_cli()
    key = getattr(args, "spread_key", None)
    # The serial names the router for the spread; read only when the spread needs it.
    serial = None
    if cli is not None and not key and eem.spread(config, key="-") is not None:
        serial = eem.read_serial(cli)
    try:
        lines = eem.render(config, key, serial)
    except eem.EEMError as exc:
        sys.stderr.write("guestagent eem: {}\n".format(exc))
        return EXIT_USAGE
    if args.action == "render":
        if args.json:
            import json
            shift = eem.spread(config, key, serial)
            sys.stdout.write(json.dumps({"lines": lines, "spread": shift}, indent=2) + "\n")
        else:
            sys.stdout.write("\n".join(lines) + "\n")
        return 0
    if cli is None:
        sys.stderr.write("guestagent eem {}: {}; run it inside Guest Shell from IOS "
                         "(`guestshell run ...`), or paste `guestagent eem render` output in "
                         "configuration mode\n".format(args.action, why))
        return EXIT_FAILED
    running = eem.read_running(cli)
    if args.action == "apply":
        sent, plan = plan_apply(config, lines, running, key, serial)
    else:
        sent, plan = eem.removal_lines(config, running), "remove"
    if not sent:
        message = ("the router's applets already match the config; nothing sent" if plan ==
                   "unchanged" else "no applet of ours on the router; nothing sent")
        _print(args, [], True, message)
        return 0
    results, ok = eem.configure(cli, sent)
    message = None
    if ok and running is not None:
        message = verify(config, args.action, eem.read_running(cli), key, serial)
        ok = message is None
    _print(args, results, ok, message)
    return 0 if ok else EXIT_FAILED


def verify(config, action, running, key=None, serial=None):
    """None when the router's running config now says what was asked, else what differs
    (IOS accepted every line and still shows something else)."""
    from guestagent import eem
    if running is None:
        return None  # cannot tell; every line was accepted
    diff = eem.compare(config, running, key, serial)
    if action == "apply":
        wrong = diff["missing"] + diff["different"] + diff["stale"]
        if diff["session"] is False:
            wrong.append("event manager session cli username")
    else:
        wrong = diff["matching"] + diff["different"] + diff["stale"]
    if not wrong:
        return None
    return "IOS accepted every line, but the running config still {}: {}".format(
        "differs" if action == "apply" else "has", ", ".join(wrong))


def plan_apply(config, lines, running, key=None, serial=None):
    """(lines to send, "unchanged"|"fresh"|"replace"): our applets on the router are removed
    first when anything differs, then every rendered line is sent."""
    from guestagent import eem
    if running is None:
        return list(lines), "fresh"
    diff = eem.compare(config, running, key, serial)
    if not (diff["missing"] or diff["different"] or diff["stale"] or diff["session"] is False):
        return [], "unchanged"
    removal = ["no event manager applet {}".format(name)
               for name in diff["different"] + diff["matching"] + diff["stale"]]
    if diff["session"] is False:
        # Another user's session line goes first, removed as the router prints it.
        line, _user = eem.running_session(eem.parse_running(running)[1])
        if line:
            removal.append("no " + line)
    return removal + list(lines), "replace" if removal else "fresh"


def _print(args, results, ok, message):
    if args.json:
        import json
        sys.stdout.write(json.dumps({"ok": ok, "message": message, "results": results},
                                    indent=2) + "\n")
        return
    if message:
        sys.stdout.write(message + "\n")
    for result in results:
        sys.stdout.write("{:<4} {}{}\n".format(
            "ok" if result["success"] else "FAIL",
            result["command"] or result["line"] or "(the whole request)",
            "" if result["success"] or not result["output"] else "  <- " + result["output"]))
    if not ok:
        sys.stdout.write("some lines failed: check AAA authorization for the Guest Shell session "
                         "and `show running-config | section event manager`\n")
