"""The lab: agent -> cpe -> isp -> inet -> far, five network namespaces joined by veth pairs,
with real routing (so traceroute shows real hops), IPv4 and IPv6, and knobs per link:

- packet loss: nft `numgen random mod 100 < N` on echo requests entering a router, with a counter
  (so a test knows, per packet, what the lab dropped);
- rate: `tc tbf` on an interface's egress;
- delay and jitter: `far` answers echo requests itself from user space (tests/lab/delayer.py)
  after a chosen delay, its kernel's echo replies switched off; it logs each delay it applied.

Addresses exist only inside these namespaces (198.18.0.0/15, the benchmarking range, and
fd00:6c::/48); nothing in the root namespace is a target. Names carry the creating process's id
and a random tag, so parallel runs do not meet; `down()` removes everything, and `sweep()`
removes what a crashed run of this process left.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "galab"

# name: (link index, IPv4 /24, IPv6 /64)
LINKS = [
    ("agent", "cpe", "198.18.1", "fd00:6c:1"),
    ("cpe", "isp", "198.18.2", "fd00:6c:2"),
    ("isp", "inet", "198.18.3", "fd00:6c:3"),
    ("inet", "far", "198.18.4", "fd00:6c:4"),
]
NODES = ("agent", "cpe", "isp", "inet", "far")


def sh(*argv, **kw):
    check = kw.pop("check", True)
    return subprocess.run(list(argv), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, **kw)


class Lab(object):
    def __init__(self, tag=None):
        self.tag = tag or "{}x{}".format(os.getpid(), uuid.uuid4().hex[:4])
        self.ns = dict((n, "{}{}-{}".format(PREFIX, self.tag, n)) for n in NODES)
        self.processes = []
        self.addresses = {}  # (node, peer) -> (v4, v6) of node's end of the link to peer
        self.up_done = False

    # -- names ---------------------------------------------------------------------------------
    def iface(self, node, peer):
        return "{}-{}".format(node[:3], peer[:3])

    def v4(self, node, peer):
        return self.addresses[(node, peer)][0]

    def v6(self, node, peer):
        return self.addresses[(node, peer)][1]

    @property
    def first_hop(self):
        return self.v4("cpe", "agent")

    @property
    def isp_edge(self):
        return self.v4("isp", "cpe")

    @property
    def target(self):
        return self.v4("inet", "isp")

    @property
    def far(self):
        return self.v4("far", "inet")

    def exec_argv(self, node, argv):
        return ["ip", "netns", "exec", self.ns[node]] + list(argv)

    def run(self, node, *argv, **kw):
        return sh(*self.exec_argv(node, argv), **kw)

    # -- building ------------------------------------------------------------------------------
    def up(self):
        try:
            for node in NODES:
                sh("ip", "netns", "add", self.ns[node])
                self.run(node, "ip", "link", "set", "lo", "up")
                self.run(node, "sysctl", "-qw", "net.ipv4.ip_forward=1",
                         "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.default.accept_dad=0",
                         "net.ipv6.conf.all.accept_dad=0")
            for left, right, net4, net6 in LINKS:
                a, b = self.iface(left, right), self.iface(right, left)
                sh("ip", "link", "add", a, "netns", self.ns[left], "type", "veth", "peer", "name",
                   b, "netns", self.ns[right])
                for node, iface, host in ((left, a, 1), (right, b, 2)):
                    v4, v6 = "{}.{}".format(net4, host), "{}::{}".format(net6, host)
                    self.addresses[(node, right if node == left else left)] = (v4, v6)
                    self.run(node, "ip", "addr", "add", v4 + "/24", "dev", iface)
                    self.run(node, "ip", "-6", "addr", "add", v6 + "/64", "dev", iface, "nodad")
                    self.run(node, "ip", "link", "set", iface, "up")
            self._routes()
            self.up_done = True
            self._wait_for_paths()
            return self
        except Exception:
            self.down()
            raise

    def _routes(self):
        # Default routes outward; routes back toward the agent for the networks behind.
        chain = list(NODES)
        for i, node in enumerate(chain):
            if i + 1 < len(chain):
                nxt = chain[i + 1]
                for family, via in (("-4", self.v4(nxt, node)), ("-6", self.v6(nxt, node))):
                    self.run(node, "ip", family, "route", "add", "default", "via", via)
            if i >= 1:
                prev = chain[i - 1]
                for left, right, net4, net6 in LINKS[:max(0, i - 1)]:
                    self.run(node, "ip", "-4", "route", "add", net4 + ".0/24", "via",
                             self.v4(prev, node))
                    self.run(node, "ip", "-6", "route", "add", net6 + "::/64", "via",
                             self.v6(prev, node))
        # `far` is the end of the line: its default goes back toward inet.
        self.run("far", "ip", "-4", "route", "add", "default", "via", self.v4("inet", "far"))
        self.run("far", "ip", "-6", "route", "add", "default", "via", self.v6("inet", "far"))

    def _wait_for_paths(self, timeout_s=10.0):
        deadline = time.monotonic() + timeout_s
        for address in (self.far, self.v6("far", "inet")):
            while self.run("agent", "ping", "-c", "1", "-W", "1", address,
                           check=False).returncode != 0:
                if time.monotonic() > deadline:
                    raise RuntimeError("lab path to {} does not work".format(address))
                time.sleep(0.2)

    def down(self):
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(5)
                except (OSError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except OSError:
                        pass
        self.processes = []
        for node in NODES:
            sh("ip", "netns", "del", self.ns[node], check=False)
        self.up_done = False

    # -- services ------------------------------------------------------------------------------
    def spawn(self, node, argv, wait_port=None):
        env = dict(os.environ, PYTHONPATH=ROOT)
        proc = subprocess.Popen(self.exec_argv(node, argv), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        self.processes.append(proc)
        if wait_port:
            address, port, proto = wait_port
            for _ in range(100):
                if proc.poll() is not None:
                    raise RuntimeError("{} exited: {}".format(argv, proc.stderr.read()))
                flag = "-ltn" if proto == "tcp" else "-lun"
                if ":{} ".format(port) in self.run(node, "ss", flag, check=False).stdout:
                    break
                time.sleep(0.05)
        return proc

    def start_servers(self):
        """HTTP on inet:80, DNS on inet:53 (both families)."""
        py = sys.executable
        self.spawn("inet", [py, "-m", "tests.lab.httpserver", "--bind", "::", "--port", "80"],
                   wait_port=("::", 80, "tcp"))
        self.spawn("inet", [py, "-m", "tests.lab.dnsserver", "--bind", "::", "--port", "53"],
                   wait_port=("::", 53, "udp"))

    def start_delayer(self, delay_ms, jitter_ms=0.0, log_path=None, seed=1):
        """`far` answers echo requests after delay_ms +- jitter_ms (uniform), from user space."""
        self.run("far", "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
        argv = [sys.executable, "-m", "tests.lab.delayer", "--delay-ms", str(delay_ms),
                "--jitter-ms", str(jitter_ms), "--seed", str(seed)]
        if log_path:
            argv += ["--log", log_path]
        proc = self.spawn("far", argv)
        time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError("delayer exited: {}".format(proc.stderr.read()))
        return proc

    # -- knobs ---------------------------------------------------------------------------------
    def set_loss(self, node, from_peer, percent):
        """Drop `percent`% of the echo requests that enter `node` from `from_peer`, counted."""
        iface = self.iface(node, from_peer)
        self.run(node, "nft", "add", "table", "inet", "lab")
        self.run(node, "nft", "add", "chain", "inet", "lab", "pre",
                 "{ type filter hook prerouting priority -300 ; }")
        self.run(node, "nft", "flush", "chain", "inet", "lab", "pre")
        for match in (["icmp", "type", "echo-request"], ["icmpv6", "type", "echo-request"]):
            self.run(node, "nft", "add", "rule", "inet", "lab", "pre", "iifname", iface,
                     *(match + ["numgen", "random", "mod", "100", "<", str(int(percent)),
                                "counter", "drop"]))

    def dropped(self, node):
        """Packets the loss rules of `node` dropped so far."""
        out = self.run(node, "nft", "-j", "list", "chain", "inet", "lab", "pre", check=False)
        if out.returncode != 0:
            return 0
        total = 0
        for item in json.loads(out.stdout).get("nftables", []):
            for expr in (item.get("rule") or {}).get("expr", []):
                if "counter" in expr:
                    total += expr["counter"]["packets"]
        return total

    def clear_loss(self, node):
        self.run(node, "nft", "delete", "table", "inet", "lab", check=False)

    def set_rate(self, node, peer, rate_kbit, burst_kbit=32, latency_ms=100):
        """Limit `node`'s egress toward `peer` with a token bucket."""
        self.run(node, "tc", "qdisc", "replace", "dev", self.iface(node, peer), "root", "tbf",
                 "rate", "{}kbit".format(rate_kbit), "burst", "{}kbit".format(burst_kbit),
                 "latency", "{}ms".format(latency_ms))

    def clear_rate(self, node, peer):
        self.run(node, "tc", "qdisc", "del", "dev", self.iface(node, peer), "root", check=False)


def sweep(prefix=PREFIX):
    """Remove lab namespaces left by runs of this machine whose process is gone."""
    listed = sh("ip", "netns", "list", check=False).stdout.split()
    for name in listed:
        if not name.startswith(prefix):
            continue
        # The tag is "<creator's pid>x<random>": only namespaces of processes that no longer
        # exist are removed.
        pid = name[len(prefix):].split("x", 1)[0]
        if pid.isdigit() and not os.path.exists("/proc/{}".format(pid)):
            sh("ip", "netns", "del", name, check=False)
