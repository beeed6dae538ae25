"""Secrets in the sinks: a proxy that echoes the request back (Authorization header, decoded
basic-auth credentials, JSON-quoted headers) in its error body puts no secret in any outcome,
error, journal line, state file or output; URL credentials are refused without being shown;
secret files that cannot be read are errors in the outcome, never a raise."""

import base64
import os

import pytest

from guestagent.deadline import Deadline
from guestagent.schema import Namespace
from guestagent.sinks import http, pushgateway, victoriametrics
from tests.conftest import run_agent, write_config
from tests.dripserver import DripServer

PASSWORD = "pw-s3cret-1"
TOKEN = "tok-s3cret-2"
URL_PASSWORD = "url-s3cret-3"


def secret_forms():
    pair = base64.b64encode("fleet:{}".format(PASSWORD).encode()).decode()
    return [PASSWORD, TOKEN, URL_PASSWORD, pair]


@pytest.fixture
def echo():
    servers = []

    def make():
        server = DripServer("echo").start()
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.stop()


def sink_config(url, **kw):
    values = dict(url=url, job=None, username=None, password=None, password_file=None,
                  bearer_token=None, bearer_token_file=None, ca_file=None, verify_tls=True,
                  timeout_s=3, max_reports=10, batch_reports=5)
    values.update(kw)
    return Namespace(values)


def metric_set():
    from guestagent.metrics import MetricSet
    out = MetricSet()
    out.gauge("guestagent_cycle_errors", "Errors recorded in the last cycle's report.", 0)
    return out


def all_text_under(directory):
    chunks = []
    for root, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                chunks.append(f.read().decode("utf-8", "replace"))
    return "\n".join(chunks)


def test_an_echoing_proxy_puts_no_secret_anywhere(tmp_path, echo, capsys):
    push_proxy, store_proxy = echo(), echo()
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = write_config(tmp_path, """
agent: {{state_dir: {state}, deadline_s: 8}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 1, interval_s: 0.2}}}}
targets: [{{host: 127.0.0.1}}]
sinks:
  pushgateway: {{url: "{push}", username: fleet, password_file: "{pw}", timeout_s: 2}}
  victoriametrics: {{url: "{store}", bearer_token_file: "{token}", timeout_s: 2}}
""".format(state=tmp_path / "state", push=push_proxy.url, store=store_proxy.url,
           pw=tmp_path / "pw", token=tmp_path / "token"))
    runs = [run_agent(["run", "--config", config, "-v"]),
            run_agent(["run", "--config", config, "--json"])]
    # The proxies were sent the secrets, and echoed them back in their error bodies.
    assert any(PASSWORD.encode() not in r and b"Authorization: Basic " in r
               for r in push_proxy.requests)
    assert any(("Authorization: Bearer " + TOKEN).encode() in r for r in store_proxy.requests)
    outputs = "\n".join(r.stdout + r.stderr for r in runs)
    recorded = all_text_under(str(tmp_path / "state"))
    assert [r.returncode for r in runs] == [1, 1]
    assert "HTTP 502 from the Pushgateway: you sent Authorization: ***" in outputs
    assert "HTTP 502 from VictoriaMetrics: you sent Authorization: ***" in recorded
    leaks = [(form, where) for form in secret_forms()
             for where, text in (("output", outputs), ("state and journal", recorded))
             if form in text]
    with capsys.disabled():
        print("\nechoing proxy: {} secret form(s) x 2 places checked, {} leaked".format(
            len(secret_forms()), len(leaks)))
    assert leaks == []


def test_a_status_line_that_echoes_the_request_is_redacted_too():
    server = DripServer("echo-status").start()
    try:
        config = sink_config(server.url, bearer_token=TOKEN)
        outcome = pushgateway.push(metric_set(), config, "guestagent", "lab", Deadline(5))
        with pytest.raises(http.SinkError) as raised:
            victoriametrics.send(config, b"guestagent_x 1\n", "guestagent", "lab", 3)
    finally:
        server.stop()
    assert any(TOKEN.encode() in r for r in server.requests)
    for error in (outcome["error"], str(raised.value)):
        assert error.startswith("BadStatusLine: ") and "Authorization: ***" in error, error
        assert TOKEN not in error and len(error) <= http.BODY_CHARS + 3


def test_url_credentials_are_refused_and_never_shown(tmp_path, echo):
    proxy = echo()
    url = proxy.url.replace("//", "//fleet:{}@".format(URL_PASSWORD))
    outcome = pushgateway.push(metric_set(), sink_config(url), "guestagent", "lab",
                               Deadline(5))
    assert outcome["ok"] is False and outcome["attempts"] == 0
    assert "credentials in the URL (http://***@127.0.0.1:" in outcome["error"]
    with pytest.raises(http.SinkError) as raised:
        victoriametrics.send(sink_config(url), b"guestagent_x 1\n", "guestagent", "lab", 3)
    assert "credentials in the URL" in str(raised.value)
    assert URL_PASSWORD not in outcome["error"] + str(raised.value)
    assert proxy.connections == 0
    # Whether the config refuses them (exit 2) or the sinks do (exit 1), nothing shows them.
    config = write_config(tmp_path, """
agent: {{state_dir: {state}}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 1, interval_s: 0.2}}}}
targets: [{{host: 127.0.0.1}}]
sinks:
  pushgateway: {{url: "{url}", timeout_s: 2}}
  victoriametrics: {{url: "{url}", timeout_s: 2}}
""".format(state=tmp_path / "state", url=url))
    result = run_agent(["run", "--config", config, "-v"])
    assert result.returncode in (1, 2)
    assert URL_PASSWORD not in result.stdout + result.stderr
    assert URL_PASSWORD not in all_text_under(str(tmp_path / "state"))


@pytest.mark.parametrize("key", ["password_file", "bearer_token_file"])
@pytest.mark.parametrize("problem", ["missing", "a directory", "empty"])
def test_a_secret_file_that_cannot_be_used_is_an_error_in_the_outcome(tmp_path, echo, key,
                                                                      problem):
    proxy = echo()
    path = tmp_path / "secret"
    if problem == "a directory":
        path.mkdir()
    elif problem == "empty":
        path.write_text("\n")
    extra = {key: str(path)}
    if key == "password_file":
        extra["username"] = "fleet"
    outcome = pushgateway.push(metric_set(), sink_config(proxy.url, **extra), "guestagent",
                               "lab", Deadline(5))
    assert outcome["ok"] is False and outcome["attempts"] == 0
    assert outcome["error"].startswith("pushgateway: ")
    assert ("cannot read " + key if problem != "empty" else key) in outcome["error"]
    with pytest.raises(http.SinkError) as raised:
        victoriametrics.send(sink_config(proxy.url, **extra), b"guestagent_x 1\n",
                             "guestagent", "lab", 3)
    assert str(raised.value).replace("victoriametrics", "pushgateway", 1) == outcome["error"]
    assert proxy.connections == 0  # nothing is sent without the credentials


def test_redaction_covers_the_forms_a_secret_is_echoed_in():
    secrets = ["p@ss word/1"]
    text = ('Authorization: Basic Zm9vOmJhcg== url http://u:p@host/x token="abc123" '
            'raw p@ss word/1 quoted p%40ss%20word%2F1 plus p%40ss+word%2F1 '
            'b64 cEBzcyB3b3JkLzE= Bearer eyJhbGciOi.x.y')
    redacted = http.redact(text, secrets)
    for leaked in ("Zm9vOmJhcg==", "u:p@", "abc123", "p@ss word/1", "p%40ss", "cEBzcyB3b3JkLzE=",
                   "eyJhbGciOi"):
        assert leaked not in redacted, (leaked, redacted)
    assert redacted.startswith("Authorization: ***")


def test_error_bodies_are_cut_short_and_withheld_with_a_short_secret():
    body = ("x" * 500).encode()
    assert len(http.short_body(body)) == http.BODY_CHARS + 3
    assert "not recorded" in http.short_body(b"you sent abc", ["abc"])
    assert http.short_body(b"line one\r\n\tline two\x00") == "line one line two"


def test_a_cycle_whose_secret_files_went_missing_goes_on_and_journals(tmp_path, echo):
    from guestagent import config as configuration
    from guestagent import cycle
    from guestagent.sinks import journal
    proxy = echo()
    for name in ("pw", "token"):
        (tmp_path / name).write_text("x-{}-secret\n".format(name))
    config = configuration.load(write_config(tmp_path, """
agent: {{state_dir: {state}, deadline_s: 6}}
device: {{kind: simulated}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 1, interval_s: 0.2}}}}
targets: [{{host: 127.0.0.1}}]
sinks:
  pushgateway: {{url: "{url}", username: fleet, password_file: "{pw}", timeout_s: 2}}
  victoriametrics: {{url: "{url}", bearer_token_file: "{token}", timeout_s: 2}}
""".format(state=tmp_path / "state", url=proxy.url, pw=tmp_path / "pw",
           token=tmp_path / "token")))
    # Valid when the config was loaded (check-config would have passed); gone by the cycle.
    os.remove(str(tmp_path / "pw"))
    os.remove(str(tmp_path / "token"))
    (tmp_path / "token").mkdir()  # unreadable as a file, even to root
    report, code, _ = cycle.run(config, trigger="manual")
    assert code == 1
    sinks = report["sinks"]
    assert sinks["pushgateway"]["ok"] is False
    assert "cannot read password_file" in sinks["pushgateway"]["error"]
    assert "cannot read bearer_token_file" in sinks["victoriametrics"]["error"]
    assert [p["error"] for p in report["probes"]] == [None]  # the measurement went on
    journaled = list(journal.read(str(tmp_path / "state" / "journal")))
    assert [r["cycle"]["id"] for r in journaled] == [report["cycle"]["id"]]
    assert proxy.connections == 0
