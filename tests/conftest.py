"""Shared fixtures: real components started by the tests themselves, on loopback or in network
namespaces the tests create."""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")

try:  # the network lab's fixtures (tests/lab/)
    from tests.lab.fixtures import *  # noqa: F401,F403
except ImportError:
    pass


@pytest.fixture(scope="session", autouse=True)
def runtime_dir(tmp_path_factory):
    """The runtime directory of every cycle the suite runs (its early lock and caches, one of
    each per config path: thousands of temporary configs would leave thousands of files in /tmp).
    A test that gives its command an environment of its own sets it there itself."""
    path = str(tmp_path_factory.mktemp("runtime"))
    os.chmod(path, 0o700)
    kept = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = path
    yield path
    if kept is None:
        os.environ.pop("XDG_RUNTIME_DIR", None)
    else:
        os.environ["XDG_RUNTIME_DIR"] = kept


@pytest.fixture
def figures(capsys):
    """print() to the terminal even while pytest captures output: a test's figures (tried /
    survived / lost) belong in the CI log."""
    def show(*args, **kwargs):
        with capsys.disabled():
            print(*args, **kwargs)
    return show


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def read_fixture(*parts):
    with open(fixture_path(*parts)) as f:
        return f.read()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout_s=10.0, proc=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with {}".format(proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on 127.0.0.1:{} after {} s".format(port, timeout_s))


# Ends a server the test started: terminate, kill after wait_s, close its log (the fleet's
# designs in deploy/ stop their servers the same way).
from deploy.start import stop_process  # noqa: E402


class Pushgateway(object):
    """Debian's prometheus-pushgateway on a free loopback port."""

    def __init__(self, tmpdir, extra_args=()):
        binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
        if not binary:
            pytest.skip("prometheus-pushgateway is not installed (./install.sh --dev)")
        self.port = free_port()
        self.url = "http://127.0.0.1:{}".format(self.port)
        self.log = open(os.path.join(str(tmpdir), "pushgateway.log"), "w")
        # Debian's build persists to /var/lib/prometheus by default: each test gets its own file.
        persistence = os.path.join(str(tmpdir), "pushgateway.data")
        self.proc = subprocess.Popen(
            [binary, "--web.listen-address=127.0.0.1:{}".format(self.port),
             "--persistence.file=" + persistence] + list(extra_args),
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)

    def metrics_text(self):
        import requests
        return requests.get(self.url + "/metrics", timeout=5).text

    def families(self):
        from prometheus_client.parser import text_string_to_metric_families
        return {f.name: f for f in text_string_to_metric_families(self.metrics_text())}

    def samples(self, name):
        """Samples of a metric name as (labels, value) pairs."""
        out = []
        for family in self.families().values():
            for sample in family.samples:
                if sample.name == name:
                    out.append((sample.labels, sample.value))
        return out

    def stop(self):
        stop_process(self.proc, self.log, 5)


@pytest.fixture
def pushgateway(tmp_path):
    gateway = Pushgateway(tmp_path)
    yield gateway
    gateway.stop()


def write_config(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def run_agent(args, env=None, cwd=None, timeout=60):
    """`python -m guestagent ARGS` as EEM would start it: a fresh process."""
    full_env = dict(os.environ)
    full_env.pop("GUESTAGENT_CONFIG", None)
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "guestagent"] + list(args), env=full_env,
                          cwd=cwd or ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


class TestPointNamespace(object):
    __test__ = False  # not a test class

    """A network namespace holding one test point, joined to this namespace by a veth pair.

    Both ends get addresses from 198.18.0.0/15 (the benchmarking range) and fd00::/8, which exist
    only on the pair the test made; the namespace is deleted afterwards.
    """

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.name = "gat-" + tag
        self.host_if = "gah" + tag
        self.ns_if = "gan" + tag
        octet = int(tag[:2], 16) % 250 + 1
        self.host_v4 = "198.19.{}.1".format(octet)
        self.v4 = "198.19.{}.2".format(octet)
        self.host_v6 = "fd00:6a:{:x}::1".format(octet)
        self.v6 = "fd00:6a:{:x}::2".format(octet)
        self._up = False

    def ip(self, *args, **kw):
        subprocess.run(["ip"] + list(args), check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, **kw)

    def up(self):
        self.ip("netns", "add", self.name)
        self._up = True
        self.ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self.ip("link", "set", self.ns_if, "netns", self.name)
        self.ip("addr", "add", self.host_v4 + "/30", "dev", self.host_if)
        self.ip("-6", "addr", "add", self.host_v6 + "/64", "dev", self.host_if, "nodad")
        self.ip("link", "set", self.host_if, "up")
        self.ip("-n", self.name, "addr", "add", self.v4 + "/30", "dev", self.ns_if)
        self.ip("-n", self.name, "-6", "addr", "add", self.v6 + "/64", "dev", self.ns_if, "nodad")
        self.ip("-n", self.name, "link", "set", self.ns_if, "up")
        self.ip("-n", self.name, "link", "set", "lo", "up")
        return self

    def down(self):
        if self._up:
            subprocess.run(["ip", "link", "del", self.host_if], stderr=subprocess.DEVNULL)
            subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
            self._up = False


@pytest.fixture
def testpoint_ns():
    if not is_root() or not shutil.which("ip"):
        pytest.skip("network namespaces need root and iproute2")
    ns = TestPointNamespace()
    try:
        ns.up()
    except subprocess.CalledProcessError as exc:
        ns.down()
        pytest.skip("cannot create a network namespace here: {}".format(exc.stderr))
    yield ns
    ns.down()


class VictoriaMetrics(object):
    """Debian's victoria-metrics on a free loopback port, storage in the test's directory."""

    def __init__(self, tmpdir):
        self.binary = shutil.which("victoria-metrics")
        if not self.binary:
            pytest.skip("victoria-metrics is not installed (./install.sh --dev)")
        self.storage = os.path.join(str(tmpdir), "vm-data")
        self.port = free_port()
        self.url = "http://127.0.0.1:{}".format(self.port)
        self.log_path = os.path.join(str(tmpdir), "victoria-metrics.log")
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [self.binary, "-httpListenAddr=127.0.0.1:{}".format(self.port),
             "-storageDataPath=" + self.storage, "-retentionPeriod=100y"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            stop_process(self.proc, self.log, 10)

    def export(self, match, expect_points=0, wait_s=10.0):
        """Every raw sample of the matching series: [(labels, [values], [timestamps ms])].

        Samples become searchable shortly after import: with `expect_points`, ask again until
        that many are there or `wait_s` has passed.
        """
        import json as _json
        import requests
        deadline = time.monotonic() + wait_s
        while True:
            requests.get(self.url + "/internal/force_flush", timeout=10)
            text = requests.get(self.url + "/api/v1/export", params={"match[]": match},
                                timeout=10).text
            out = []
            for line in text.splitlines():
                if line.strip():
                    row = _json.loads(line)
                    out.append((row["metric"], row["values"], row["timestamps"]))
            if sum(len(row[2]) for row in out) >= expect_points or time.monotonic() > deadline:
                return out
            time.sleep(0.2)


@pytest.fixture
def victoriametrics(tmp_path):
    store = VictoriaMetrics(tmp_path).start()
    yield store
    store.stop()
