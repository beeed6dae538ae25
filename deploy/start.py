#!/usr/bin/env python3
"""Start one design of the fleet's side (deploy/designs.yaml) from its files, on loopback.

    python3 deploy/start.py large [--run-dir DIR] [--set SCRAPE_INTERVAL=5s]

prints each component's address and log, and stops them all on Ctrl-C. Tests and bench/fleet.py
use start() the same way. Only 127.0.0.1 ports are used.
"""

import argparse
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(path=None):
    import yaml
    with open(path or os.path.join(HERE, "designs.yaml")) as f:
        return yaml.safe_load(f)



def stop_process(proc, log, wait_s):
    """End a started server: terminate, kill after wait_s, close its log."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()

class Running(object):
    """A started design: `addr[NAME]` is host:port, `procs` the processes in start order."""

    def __init__(self, design, run_dir, values):
        self.design = design
        self.run_dir = run_dir
        self.values = values
        self.addr = {}
        self.procs = []  # (name, Popen, log file)

    def url(self, name):
        return "http://" + self.addr[name]

    def pid(self, name):
        for proc_name, proc, _log in self.procs:
            if proc_name == name:
                return proc.pid
        raise KeyError(name)

    def log_path(self, name):
        return os.path.join(self.run_dir, name.lower() + ".log")

    def stop(self, wait_s=10.0):
        """Terminate in reverse order (front first, the stores last: they flush on SIGTERM)."""
        for _name, proc, log in reversed(self.procs):
            stop_process(proc, log, wait_s)
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wait_for_port(hostport, proc, timeout_s):
    host, port = hostport.rsplit(":", 1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("exited with {}".format(proc.returncode))
        try:
            with socket.create_connection((host, int(port)), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on {} after {} s".format(hostport, timeout_s))


def start(design, run_dir, overrides=None, extra_args=None, designs=None, timeout_s=20.0):
    """Start `design` with its data in run_dir; returns a Running (stop() it). `extra_args`
    maps a component's name to more flags (a benchmark's own)."""
    spec = designs or load()
    components = spec["designs"][design]
    values = dict((k, str(v)) for k, v in (spec.get("vars") or {}).items())
    values.update(overrides or {})
    values["RUN"] = run_dir
    values["ROOT"] = ROOT
    running = Running(design, run_dir, values)
    for component in components:
        for name in [component["name"]] + list(component.get("ports") or []):
            if name not in values:
                values[name] = "127.0.0.1:{}".format(free_port())
            running.addr[name] = values[name]
    os.makedirs(run_dir, exist_ok=True)
    try:
        for component in components:
            for rel in component.get("files") or []:
                with open(os.path.join(HERE, rel)) as f:
                    text = string.Template(f.read()).substitute(values)
                with open(os.path.join(run_dir, os.path.basename(rel)), "w") as f:
                    f.write(text)
            argv = [string.Template(a).substitute(values) for a in component["argv"]]
            argv += list((extra_args or {}).get(component["name"], []))
            binary = shutil.which(argv[0])
            if binary is None:
                raise RuntimeError("{} is not installed (Debian: prometheus, "
                                   "prometheus-pushgateway, victoria-metrics)".format(argv[0]))
            name = component["name"]
            log = open(running.log_path(name), "a")
            proc = subprocess.Popen([binary] + argv[1:], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=run_dir)
            running.procs.append((name, proc, log))
            try:
                wait_for_port(values[name], proc, timeout_s)
            except RuntimeError as exc:
                with open(running.log_path(name)) as f:
                    tail = f.read()[-2000:]
                raise RuntimeError("{} ({}): {}\n{}".format(name, argv[0], exc, tail))
    except BaseException:
        running.stop()
        raise
    return running


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design")
    parser.add_argument("--designs", help="a designs file (default: deploy/designs.yaml)")
    parser.add_argument("--run-dir", help="data, buffers and logs (default: a new temp dir)")
    parser.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                        help="override a var of designs.yaml or fix an address (VM=127.0.0.1:8428)")
    args = parser.parse_args(argv)
    designs = load(args.designs)
    if args.design not in designs["designs"]:
        parser.error("no design {!r}; choose from {}".format(args.design,
                                                            ", ".join(sorted(designs["designs"]))))
    overrides = dict(item.split("=", 1) for item in args.set)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="guestagent-" + args.design + "-")
    running = start(args.design, run_dir, overrides, designs=designs)
    for name, proc, _log in running.procs:
        print("{:<12} http://{:<22} pid {:<7} log {}".format(
            name, running.addr[name], proc.pid, running.log_path(name)))
    print("data in {}; Ctrl-C stops everything".format(run_dir))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop and all(p.poll() is None for _n, p, _l in running.procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
