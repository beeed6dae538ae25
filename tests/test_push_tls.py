"""TLS toward the sinks: verified by default, against a private CA when `ca_file` is set, not at
all with `verify_tls: false`; the Pushgateway and VictoriaMetrics treat these keys the same way,
and a CA file that is missing or not a certificate is an error in the outcome, not a raise."""

import shutil
import ssl
import subprocess
import threading

import pytest

from tests.conftest import run_agent, write_config

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")


@pytest.fixture
def https_recorder(tmp_path):
    """A loopback HTTPS server with a certificate for 127.0.0.1 from a CA made here."""
    from http.server import BaseHTTPRequestHandler, HTTPServer
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):
            received.append((self.path, self.headers.get("Authorization"),
                             self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def do_POST(self):  # VictoriaMetrics' import
            received.append((self.path, self.headers.get("Authorization"),
                             self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    from socketserver import ThreadingMixIn

    class Server(ThreadingMixIn, HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "https://127.0.0.1:{}".format(server.server_port), cert, received
    server.shutdown()


def config(tmp_path, url, extra):
    return write_config(tmp_path, """
agent: {{state_dir: {s}}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 1, interval_s: 0.2}}}}
targets: [{{host: 127.0.0.1}}]
sinks:
  pushgateway: {{url: "{u}", bearer_token: tok-123, timeout_s: 2{extra}}}
""".format(s=tmp_path / "state", u=url, extra=extra))


def test_private_ca_file_verifies_the_gateway(tmp_path, https_recorder):
    url, cert, received = https_recorder
    proc = run_agent(["run", "--config", config(tmp_path, url, ", ca_file: " + cert)])
    assert "sink pushgateway: ok" in proc.stdout, proc.stdout + proc.stderr
    [(path, authorization, body)] = received
    assert authorization == "Bearer tok-123"
    import gzip
    assert b"guestagent_icmp_loss_ratio" in gzip.decompress(body)  # gzip'd (Content-Encoding)


def test_an_unknown_ca_is_refused_by_default(tmp_path, https_recorder):
    url, cert, received = https_recorder
    proc = run_agent(["run", "--config", config(tmp_path, url, "")])
    assert proc.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in proc.stdout or "certificate verify" in proc.stdout
    assert received == []
    assert "tok-123" not in proc.stdout + proc.stderr


def test_verification_can_be_switched_off_explicitly(tmp_path, https_recorder):
    url, cert, received = https_recorder
    proc = run_agent(["run", "--config", config(tmp_path, url, ", verify_tls: false")])
    assert "sink pushgateway: ok" in proc.stdout, proc.stdout
    assert len(received) == 1


def sink_config(url, **kw):
    from guestagent.schema import Namespace
    values = dict(url=url, job=None, username=None, password=None, password_file=None,
                  bearer_token="tok-123", bearer_token_file=None, ca_file=None,
                  verify_tls=True, timeout_s=3, max_reports=10, batch_reports=5)
    values.update(kw)
    return Namespace(values)


def through(sink, config):
    """The error a sink records for this config, or None when the server took the data."""
    from guestagent.deadline import Deadline
    from guestagent.sinks import http, pushgateway, victoriametrics
    if sink == "pushgateway":
        from guestagent.metrics import MetricSet
        out = MetricSet()
        out.gauge("guestagent_cycle_errors", "Errors recorded in the last cycle's report.", 0)
        outcome = pushgateway.push(out, config, "guestagent", "lab", Deadline(5))
        return None if outcome["ok"] else outcome["error"]
    try:
        victoriametrics.send(config, b"guestagent_cycle_errors 0\n", "guestagent", "lab", 3)
    except http.SinkError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("sink", ["pushgateway", "victoriametrics"])
def test_both_sinks_treat_verify_tls_and_ca_file_alike(tmp_path, https_recorder, sink):
    url, cert, received = https_recorder
    not_pem = tmp_path / "not-a-cert.pem"
    not_pem.write_text("this is not a certificate\n")
    outcomes = {
        "ca_file": through(sink, sink_config(url, ca_file=cert)),
        "default": through(sink, sink_config(url)),
        "verify_tls false": through(sink, sink_config(url, verify_tls=False)),
        "verify_tls false, ca_file": through(sink, sink_config(url, verify_tls=False,
                                                                ca_file=cert)),
        "missing ca_file": through(sink, sink_config(url, ca_file=str(tmp_path / "none"))),
        "ca_file not PEM": through(sink, sink_config(url, ca_file=str(not_pem))),
    }
    assert outcomes["ca_file"] is None
    assert outcomes["verify_tls false"] is None and outcomes["verify_tls false, ca_file"] is None
    assert "CERTIFICATE_VERIFY_FAILED" in outcomes["default"]
    assert outcomes["missing ca_file"].startswith(
        "{}: cannot load ca_file {}: No such file".format(sink, tmp_path / "none"))
    assert outcomes["ca_file not PEM"].startswith(
        "{}: cannot load ca_file {}".format(sink, not_pem))
    # Three accepted, each with the token; the three failures sent nothing.
    assert len(received) == 3 and set(r[1] for r in received) == {"Bearer tok-123"}
    assert all("tok-123" not in (text or "") for text in outcomes.values())
