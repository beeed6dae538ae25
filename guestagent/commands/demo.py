"""`guestagent demo`: one cycle of the embedded default against a Pushgateway started for it.

For a development machine: starts Debian's `prometheus-pushgateway` on a free loopback port, runs
a cycle on the simulated IR1101 with loopback test points, shows what the Pushgateway now holds,
and stops it (unless --keep).
"""

import os
import sys

HELP = "run one cycle of the embedded default against a local Pushgateway it starts"


def add_arguments(parser):
    parser.add_argument("--keep", action="store_true",
                        help="leave the Pushgateway running (its URL is printed)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="state and journal directory (default: a new temporary one)")


def _free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(args):
    import shutil
    import subprocess
    import tempfile
    from guestagent import EXIT_USAGE, config, cycle
    from guestagent.cli import summary
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if not binary:
        sys.stderr.write("guestagent demo: prometheus-pushgateway is not installed "
                         "(./install.sh --dev installs it)\n")
        return EXIT_USAGE
    workdir = tempfile.mkdtemp(prefix="guestagent-demo-")
    port = _free_port()
    url = "http://127.0.0.1:{}".format(port)
    gateway = subprocess.Popen([binary, "--web.listen-address=127.0.0.1:{}".format(port),
                                "--persistence.file=" + os.path.join(workdir, "pgw.data")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(port)
        cfg = config.load(config.EMBEDDED_DEFAULT)
        cfg.sinks.pushgateway.url = url
        cfg.agent.state_dir = args.state_dir or os.path.join(workdir, "state")
        cfg.journal.dir = os.path.join(cfg.agent.state_dir, "journal")
        sys.stdout.write("Pushgateway {} (pid {}); state in {}\n".format(url, gateway.pid,
                                                                         cfg.agent.state_dir))
        report, code, message = cycle.run(cfg, trigger="manual", verbose=True)
        if report is None:
            sys.stderr.write("guestagent demo: {}\n".format(message))
            return code
        sys.stdout.write(summary(report) + "\n\nWhat the Pushgateway now holds (extract):\n")
        from urllib.request import urlopen
        text = urlopen(url + "/metrics", timeout=5).read().decode("utf-8")
        shown = [line for line in text.splitlines()
                 if line.startswith(("guestagent_icmp_loss_ratio", "guestagent_last_cycle",
                                     "guestagent_ipsla_rtt", "guestagent_location"))
                 or (line.startswith("guestagent_icmp_rtt_seconds") and 'stat="median"' in line)]
        sys.stdout.write("\n".join(shown[:24]) + "\n")
        return code
    finally:
        if args.keep:
            sys.stdout.write("Pushgateway left running at {} (pid {})\n".format(url, gateway.pid))
        else:
            gateway.terminate()
            gateway.wait(5)


def _wait(port, timeout_s=10.0):
    import socket
    import time
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the Pushgateway did not start on port {}".format(port))
