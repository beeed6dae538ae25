"""TLS toward the Pushgateway: verified by default, against a private CA when `ca_file` is set."""

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

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
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
    assert b"guestagent_icmp_loss_ratio" in body


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
