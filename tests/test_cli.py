"""The command line as a technician or EEM uses it."""

import json
import os

from guestagent import __version__
from tests.conftest import ROOT, fixture_path, run_agent, write_config


def test_version():
    proc = run_agent(["--version"])
    assert proc.returncode == 0 and proc.stdout.strip() == "guestagent " + __version__


def test_the_command_list_shows_each_commands_own_help():
    import importlib
    from guestagent import cli
    assert sorted(cli.COMMAND_HELP) == sorted(cli.COMMANDS)
    for name in cli.COMMANDS:
        assert cli.COMMAND_HELP[name] == importlib.import_module(
            "guestagent.commands." + name).HELP, name
    listing = run_agent(["--help"]).stdout
    assert all(name in listing for name in cli.COMMANDS + ["run", "parse", "check-config"])


_IMPORTED = """
import sys
from guestagent import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout = sys.__stdout__
print(" ".join(sorted(m for m in sys.modules if m.startswith("guestagent.commands.") or
                      m in ("argparse", "yaml"))))
"""


def imported_by(args):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", _IMPORTED] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    return proc.stdout.splitlines()[-1].split()


def test_a_command_imports_no_other_commands_module():
    # --version builds no parser at all; a command imports its own module only.
    assert imported_by(["--version"]) == []
    assert imported_by(["sla", "--help"]) == ["argparse", "guestagent.commands.sla"]
    assert imported_by(["parse", "--list"]) == ["argparse"]


def test_run_arguments_read_without_argparse_are_argparses():
    from guestagent import cli
    plain = [
        ["run"],
        ["run", "--trigger", "timer"],
        ["run", "-c", "/bootflash/guest-share/guestagent/config.yaml", "--trigger", "timer"],
        ["run", "--config", "a.yaml", "--trigger", "track", "--track", "10", "--track-state",
         "down", "--dry-run", "-v", "--json", "--deadline", "12.5"],
        ["run", "--trigger", "cli", "--trigger", "cron", "--verbose"],  # the last one wins
    ]
    for argv in plain:
        quick = cli.run_arguments(argv)
        assert quick is not None, argv
        assert vars(quick) == vars(cli.build_parser(argv).parse_args(argv)), argv
    # Anything argparse would read otherwise, or refuse, is left to it.
    for argv in (["run", "--trig", "timer"], ["run", "--trigger=timer"], ["run", "-h"],
                 ["run", "--trigger", "sometimes"], ["run", "--deadline", "soon"],
                 ["run", "--track", "1.5"], ["run", "-c"], ["run", "-c", "-x.yaml"],
                 ["run", "extra"], ["run", "-vc", "a.yaml"], ["status"], []):
        assert cli.run_arguments(argv) is None, argv
    refused = run_agent(["run", "--trigger", "sometimes"])
    assert refused.returncode == 2 and "invalid choice: 'sometimes'" in refused.stderr


def test_parse_list_names_every_kind():
    proc = run_agent(["parse", "--list"])
    assert proc.returncode == 0
    kinds = [line.split()[0] for line in proc.stdout.splitlines()]
    assert {"linux-ping", "linux-traceroute"} <= set(kinds)


def test_parse_a_file_and_stdin():
    path = fixture_path("linux_traceroute", "netns-lab__1.txt")
    from_file = run_agent(["parse", "linux-traceroute", path])
    assert from_file.returncode == 0
    result = json.loads(from_file.stdout)
    assert [h["address"] for h in result["hops"]] == ["198.18.1.1", "198.18.2.2"]
    import subprocess
    import sys
    with open(fixture_path("linux_ping", "pingparsing__10.txt")) as f:
        proc = subprocess.run([sys.executable, "-m", "guestagent", "parse", "linux-ping"],
                              stdin=f, stdout=subprocess.PIPE, cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=ROOT))
    assert json.loads(proc.stdout.decode())["received"] == 9


def test_parse_unknown_kind_and_missing_file_are_usage_errors():
    proc = run_agent(["parse", "show-nonsense", "x.txt"])
    assert proc.returncode == 2 and "parse --list" in proc.stderr
    proc = run_agent(["parse", "linux-ping", "/nonexistent/file.txt"])
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_check_config(tmp_path):
    good = write_config(tmp_path, "targets: [{host: 192.0.2.1}]\n")
    proc = run_agent(["check-config", "--config", good])
    assert proc.returncode == 0 and "ok (1 test point(s))" in proc.stdout
    shown = json.loads(run_agent(["check-config", "--config", good, "--show"]).stdout)
    assert shown["probes"]["icmp"]["count"] == 10
    (tmp_path / "bad.yaml").write_text("targets: [{host: 192.0.2.1, cuont: 3}]\n")
    proc = run_agent(["check-config", "--config", str(tmp_path / "bad.yaml")])
    assert proc.returncode == 2
    assert "bad.yaml:1: targets[0].cuont: unknown key" in proc.stderr


def test_a_config_without_test_points_warns_and_the_cycle_still_runs(tmp_path):
    path = write_config(tmp_path, "agent: {{state_dir: '{}'}}\ntargets: []\n"
                                  "path_discovery: {{enabled: false}}\n".format(tmp_path / "state"))
    proc = run_agent(["run", "--dry-run", "--config", path])
    assert proc.returncode == 0, proc.stderr
    assert "guestagent: warning: {}: targets: no test points configured".format(path) in \
        proc.stderr
    assert proc.stdout.startswith("cycle ")


def test_usage_errors_exit_2():
    assert run_agent(["run", "--trigger", "sometimes"]).returncode == 2
    assert run_agent(["run", "--deadline", "-1"]).returncode == 2
    assert run_agent([]).returncode == 2


def test_run_from_root_directory_without_a_tty(tmp_path):
    """EEM starts the agent from `/`, with no terminal and a bare environment."""
    import subprocess
    import sys
    config = write_config(tmp_path, "agent: {{state_dir: {}}}\ndevice: {{kind: simulated}}\n"
                          "path_discovery: {{enabled: false}}\n"
                          "probes: {{icmp: {{count: 2, interval_s: 0.2}}}}\n"
                          "targets: [{{host: 127.0.0.1}}]\n".format(tmp_path / "s"))
    proc = subprocess.run([sys.executable, "-m", "guestagent", "run", "--trigger", "timer",
                           "--config", config], cwd="/", stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": ROOT})
    assert proc.returncode in (0, 1), proc.stderr.decode()
    assert b"127.0.0.1" in proc.stdout and b"loss  0.0%" in proc.stdout


GC_IN_THE_CYCLE = """
import gc, sys
from guestagent import cli, cycle
real_run = cycle.run


def run(config, **kwargs):
    print("collector enabled during the cycle:", gc.isenabled())
    return real_run(config, **kwargs)


cycle.run = run
if sys.argv[1] == "in-process":
    cli.main(["run", "--dry-run", "--config", sys.argv[2]])
    print("collector enabled after it:", gc.isenabled())
else:
    sys.argv = ["guestagent", "run", "--dry-run", "--config", sys.argv[2]]
    cli.main()
"""


def test_a_cycle_as_its_own_process_runs_without_the_cyclic_collector(tmp_path):
    """`python -m guestagent run` (EEM's one process per cycle) disables it; a caller running
    cycles in its own process (`main(argv)`) keeps its collector."""
    import subprocess
    import sys
    config = write_config(tmp_path, "agent: {{state_dir: {}}}\ndevice: {{kind: simulated}}\n"
                                    "path_discovery: {{enabled: false}}\ntargets: []\n"
                                    .format(tmp_path / "state"))
    env = dict(os.environ, PYTHONPATH=ROOT)

    def lines(mode):
        done = subprocess.run([sys.executable, "-c", GC_IN_THE_CYCLE, mode, config], env=env,
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [line for line in done.stdout.splitlines() if line.startswith("collector")]

    assert lines("own") == ["collector enabled during the cycle: False"]
    assert lines("in-process") == ["collector enabled during the cycle: True",
                                   "collector enabled after it: True"]


def test_a_cycle_process_ends_without_teardown_and_loses_nothing(tmp_path):
    """`run` in its own process leaves by os._exit (the interpreter's teardown is skipped):
    its whole stdout still arrives, its exit status is the cycle's, its report is in the
    journal, and exit handlers run."""
    config = write_config(tmp_path, "agent: {{state_dir: {}}}\ndevice: {{kind: simulated}}\n"
                                    "path_discovery: {{enabled: false}}\ntargets: []\n"
                                    .format(tmp_path / "state"))
    proc = run_agent(["run", "--dry-run", "--json", "--config", config])
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)  # all of it, flushed before the end
    journal = tmp_path / "state" / "journal" / "reports.jsonl"
    journaled = json.loads(journal.read_text().splitlines()[-1])
    assert journaled["cycle"]["id"] == printed["cycle"]["id"]
    assert "Traceback" not in proc.stderr

    # Exit handlers still run (a coverage tool's, a benchmark's), before the process ends.
    import subprocess
    import sys
    handler = ("import atexit, sys\nmark = sys.argv[2]\n"
               "atexit.register(lambda: open(mark, 'w').write('handler ran'))\n"
               "sys.argv = ['guestagent', 'run', '--dry-run', '--config', sys.argv[1]]\n"
               "from guestagent.cli import main\nsys.exit(main())\n")
    mark = tmp_path / "mark"
    done = subprocess.run([sys.executable, "-c", handler, config, str(mark)], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert done.returncode == 0 and mark.read_text() == "handler ran", done.stderr

    # The same cycle as a caller's function (main(argv)) returns to it: the caller goes on.
    script = ("import sys\nfrom guestagent import cli\n"
              "code = cli.main(['run', '--dry-run', '--config', sys.argv[1]])\n"
              "print('returned', code)\n")
    done = subprocess.run([sys.executable, "-c", script, config], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "returned 0", done.stderr
