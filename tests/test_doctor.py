"""`guestagent doctor`: one line per check, each failure mode reported with its fix."""

import json
import os
import shutil
import stat
import threading

import pytest

from guestagent import cli as command_line
from tests import fakecli_env
from tests.conftest import FIXTURES, ROOT
from tests.fakecli.install import session_env

EMBEDDED = os.path.join(ROOT, "guestagent", "device", "ir1101")

BASE = """
agent: {deadline_s: 14, state_dir: STATE}
device: {kind: onbox}
path_discovery: {enabled: true, toward: 127.0.0.1}
targets: [{name: lo4, host: 127.0.0.1}]
eem: {python: /opt/ga/bin/python3, tracks: [10]}
"""


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    """The Guest Shell cli stand-in importable in this process, with the session IOS gives a
    process it started; returns its fixture dir."""
    fixtures = tmp_path / "router"
    shutil.copytree(EMBEDDED, str(fixtures))
    fakecli_env.importable(monkeypatch, FAKECLI_FIXTURES=str(fixtures),
                           FAKECLI_LOG=str(tmp_path / "configure.log"))
    yield fixtures
    fakecli_env.forget()


def write_config(tmp_path, text):
    """The config as install.sh leaves it: readable by its owner only."""
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("STATE", str(tmp_path / "state")))
    os.chmod(str(path), 0o600)
    return path


def doctor(tmp_path, capsys, text=BASE, extra=""):
    path = write_config(tmp_path, text + extra)
    code = command_line.main(["doctor", "-c", str(path), "--json"])
    checks = json.loads(capsys.readouterr().out)
    return code, dict((c["name"], c) for c in checks)


def healthy_server(expect_auth=None):
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == "/-/healthy" and (
                expect_auth is None or self.headers.get("Authorization") == expect_auth)
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(b"OK" if ok else b"no")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.daemon = True
    thread.start()
    return server


def test_all_pass_on_a_ready_router(tmp_path, capsys, fake_cli):
    server = healthy_server()
    try:
        url = "http://127.0.0.1:{}".format(server.server_port)
        extra = "sinks: {pushgateway: {url: '%s'}}\n" % url
        path = write_config(tmp_path, BASE + extra)
        # The applets are in place (applied through the same fake cli).
        assert command_line.main(["eem", "apply", "-c", str(path)]) == 0
        capsys.readouterr()
        code, checks = doctor(tmp_path, capsys, extra=extra)
    finally:
        server.shutdown()
    failing = dict((n, c) for n, c in checks.items() if c["status"] not in ("PASS",))
    # The machine is not an IR1101, and the simulated router's operation 40 times out.
    assert set(failing) <= {"python", "ip sla"}, failing
    assert checks["ip sla"]["message"] == "4 operation(s): 10 OK, 20 OK, 30 OK, 40 Timeout"
    assert code == 0
    assert checks["cli"]["message"].startswith("show clock: *")
    assert checks["gps"]["message"] == "3D fix 44.39566, 8.93668 (6 satellites)"
    assert checks["tracks"]["message"] == "10 up"
    assert checks["eem"]["message"] == ("3 applet(s) match the config: QOE_TIMER, QOE_TRACK_10, "
                                        "QOE_NOW")
    assert checks["pushgateway"]["message"] == url + "/-/healthy answers"


def test_the_text_output_is_one_line_per_check(tmp_path, capsys, fake_cli):
    path = write_config(tmp_path, BASE)
    code = command_line.main(["doctor", "-c", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0  # warnings only (no Pushgateway, no applets)
    assert [line[:4] for line in lines[:-1]] and all(
        line[:4] in ("PASS", "WARN", "FAIL", "SKIP") for line in lines[:-1])
    assert len(lines) == 18
    assert "WARN  eem         no applet installed: nothing starts the agent -- fix: " \
           "`guestagent eem apply`" in "\n".join(lines)
    assert lines[-1].startswith("17 check(s): 0 failed")


def test_no_cli_module(tmp_path, capsys):
    fakecli_env.forget()
    code, checks = doctor(tmp_path, capsys)
    assert code == 1
    assert checks["cli"]["status"] == "FAIL"
    assert "cli module cannot be imported" in checks["cli"]["message"]
    assert "guestshell run" in checks["cli"]["fix"]
    # What needs the router is not checkable, and says so rather than failing again.
    assert [checks[n]["status"] for n in ("gps", "ip sla", "tracks", "eem")] == ["SKIP"] * 4


def test_cli_without_ios_session(tmp_path, capsys, fake_cli, monkeypatch):
    """Not started by IOS (SSH, cron): no SHELL_SESSION_* variables, the module fails at import."""
    for name in session_env():
        monkeypatch.delenv(name)
    code, checks = doctor(tmp_path, capsys)
    assert code == 1
    assert checks["cli"]["status"] == "FAIL"
    assert "cli module cannot be imported (KeyError:" in checks["cli"]["message"]
    assert "configuration key 'SHELL_SESSION_scheme' could not be found" in \
        checks["cli"]["message"]
    assert "guestshell run" in checks["cli"]["fix"]


def test_cli_without_the_socket_to_ios(tmp_path, capsys, fake_cli, monkeypatch):
    monkeypatch.setenv("FAKECLI_NO_SOCKET", "1")
    code, checks = doctor(tmp_path, capsys)
    assert code == 1
    assert checks["cli"]["status"] == "FAIL"
    assert "`show clock` through the cli module failed" in checks["cli"]["message"]
    assert ("PnPSocketError: SocketError: Socket /cisco/nginx_shared/pnp_python.sock not "
            "present. Make sure to enable http server") in checks["cli"]["message"]


def test_bad_config(tmp_path, capsys):
    code, checks = doctor(tmp_path, capsys, extra="agent: {interval_s: -1}\n")
    assert code == 1
    assert checks["config"]["status"] == "FAIL"
    assert "agent" in checks["config"]["message"]
    assert "check-config" in checks["config"]["fix"]
    assert list(checks) == ["python", "config"]


def test_deadline_longer_than_maxrun_allows(tmp_path, capsys, fake_cli):
    code, checks = doctor(tmp_path, capsys, BASE.replace(
        "tracks: [10]}", "tracks: [10], maxrun_s: 15}"))
    assert code == 1
    assert checks["eem maxrun"]["status"] == "FAIL"
    assert checks["eem maxrun"]["message"].startswith("agent.deadline_s 14 is more than 80% of "
                                                      "eem.maxrun_s 15")
    assert checks["eem maxrun"]["fix"] == ("set eem.maxrun_s to at least 20 or agent.deadline_s "
                                           "to at most 10.5")


def _program(directory, name, script):
    path = os.path.join(str(directory), name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + script + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)


def test_missing_tools_only_warn_when_nothing_needs_them(tmp_path, capsys, fake_cli, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    text = BASE.replace("enabled: true", "enabled: false").replace(
        "host: 127.0.0.1}", "host: 127.0.0.1, via: ios}")
    code, checks = doctor(tmp_path, capsys, text)
    assert checks["ping"]["status"] == checks["traceroute"]["status"] == "WARN"
    assert checks["ping"]["message"] == "ping is not installed (no test point needs it)"


def test_state_directory_not_writable(tmp_path, capsys, fake_cli):
    (tmp_path / "afile").write_text("x")
    code, checks = doctor(tmp_path, capsys, BASE.replace("STATE", str(tmp_path / "afile" / "s")))
    assert code == 1
    assert checks["state dir"]["status"] == "FAIL"
    assert "is not writable" in checks["state dir"]["message"]


def test_pushgateway_unreachable_and_credentials_never_shown(tmp_path, capsys, fake_cli):
    (tmp_path / "pw").write_text("s3cret-pw\n")
    extra = ("sinks: {pushgateway: {url: 'http://127.0.0.1:9', username: fleet, "
             "password_file: '%s'}}\n" % (tmp_path / "pw"))
    code, checks = doctor(tmp_path, capsys, extra=extra)
    assert code == 1
    assert checks["pushgateway"]["status"] == "FAIL"
    assert checks["pushgateway"]["message"].startswith("http://127.0.0.1:9/-/healthy: ")
    assert "Connection refused" in checks["pushgateway"]["message"]
    assert "s3cret" not in json.dumps(checks)


def test_pushgateway_with_basic_auth(tmp_path, capsys, fake_cli):
    import base64
    auth = "Basic " + base64.b64encode(b"fleet:s3cret-pw").decode()
    server = healthy_server(expect_auth=auth)
    try:
        extra = ("sinks: {pushgateway: {url: 'http://127.0.0.1:%d', "
                 "username: fleet, password: s3cret-pw}}\n" % server.server_port)
        code, checks = doctor(tmp_path, capsys, extra=extra)
    finally:
        server.shutdown()
    assert checks["pushgateway"]["status"] == "PASS"
    assert checks["pushgateway"]["message"] == "http://127.0.0.1:{}/-/healthy answers".format(
        server.server_port)
    assert "s3cret" not in json.dumps(checks)


def test_gps_without_fix(tmp_path, capsys, fake_cli):
    for name in os.listdir(str(fake_cli)):
        if name.startswith("show_cellular_0-1-0_gps"):
            os.remove(str(fake_cli / name))
    shutil.copy(os.path.join(FIXTURES, "show_cellular_gps", "serial-terminal-app-capture__1.txt"),
                str(fake_cli / "show_cellular_0-1-0_gps__serial-terminal-app-capture-1.txt"))
    code, checks = doctor(tmp_path, capsys)
    assert checks["gps"]["status"] == "WARN"
    assert checks["gps"]["message"] == "no fix: GPS Status = GPS acquiring"
    assert "lte gps mode standalone" in checks["gps"]["fix"]


def test_no_cellular_module_and_no_ip_sla(tmp_path, capsys, fake_cli):
    for name in os.listdir(str(fake_cli)):
        if name.startswith(("show_cellular", "show_ip_sla", "show_track")):
            os.remove(str(fake_cli / name))
    code, checks = doctor(tmp_path, capsys)
    assert checks["gps"]["status"] == "WARN"
    assert "set router.location" in checks["gps"]["fix"]
    assert checks["ip sla"]["status"] == "WARN"
    assert checks["tracks"]["status"] == "FAIL"
    assert code == 1


def test_static_location_needs_no_gps(tmp_path, capsys, fake_cli):
    code, checks = doctor(tmp_path, capsys, extra=(
        "router: {location: {latitude: 44.4, longitude: 8.9, name: depot}}\n"))
    assert checks["gps"] == {"name": "gps", "status": "PASS", "fix": None,
                             "message": "static location 44.40000, 8.90000 (depot)"}


def test_track_missing(tmp_path, capsys, fake_cli):
    code, checks = doctor(tmp_path, capsys, BASE.replace("[10]", "[10, 99]"))
    assert code == 1
    assert checks["tracks"]["status"] == "FAIL"
    assert checks["tracks"]["message"].startswith("eem.tracks 99 not on the router (present: 10 ")
    assert checks["tracks"]["fix"].startswith("configure `track 99 ip sla 99 reachability`")


def test_applets_that_differ_from_the_config(tmp_path, capsys, fake_cli):
    path = write_config(tmp_path, BASE)
    assert command_line.main(["eem", "apply", "-c", str(path)]) == 0
    capsys.readouterr()
    code, checks = doctor(tmp_path, capsys, BASE.replace("deadline_s: 14", "deadline_s: 20")
                          .replace("tracks: [10]", "tracks: []"))
    assert checks["eem"]["status"] == "WARN"
    assert checks["eem"]["message"] == ("differ from the config: QOE_TIMER, QOE_NOW; "
                                        "not in the config: QOE_TRACK_10")
    assert checks["eem"]["fix"] == "`guestagent eem apply`"


def test_without_the_summary_and_track_parsers(tmp_path, capsys, fake_cli, monkeypatch):
    """Parsers may be missing from an older package: the checks fall back or say so."""
    from guestagent import ios
    parsers = dict(ios.PARSERS)
    parsers.pop("show-ip-sla-summary")
    parsers.pop("show-track")
    monkeypatch.setattr(ios, "PARSERS", parsers)
    code, checks = doctor(tmp_path, capsys)
    # From `show ip sla statistics` instead.
    assert checks["ip sla"]["message"] == "4 operation(s): 10 OK, 20 OK, 30 OK, 40 Timeout"
    assert checks["tracks"] == {"name": "tracks", "status": "WARN",
                                "message": "no `show track` parser in this version",
                                "fix": "check `show track` by hand"}


def test_history_says_how_many_days_the_journal_budget_holds(tmp_path):
    from guestagent import config as configs
    from guestagent.commands import doctor
    from guestagent.sinks import journal
    from tests.test_journal import report_like
    config = configs.parse("agent: {{state_dir: {}, interval_s: 300}}\njournal: {{budget_bytes: "
                           "10000000}}\ntargets: [{{name: a, host: 127.0.0.1}}]\n".format(tmp_path))
    check = doctor.check_history(config)  # no journal yet: the estimate for one test point
    assert check.status == doctor.PASS and "an estimate for 1 test point" in check.message
    days = 10000000 / 600.0 * 300 / 86400
    assert "holds {:.1f} days".format(days) in check.message
    for n in range(30):
        journal.append(config.journal.dir, report_like(n), 1 << 20, 5)
    check = doctor.check_history(config)
    per_report = journal.bytes_per_report(config.journal.dir)
    assert "from this journal's newest lines" in check.message
    assert "holds {:.1f} days".format(10000000 / per_report * 300 / 86400) in check.message
    config.journal.budget_bytes = int(per_report * 288)  # one day: short of the outage window
    check = doctor.check_history(config)
    assert check.status == doctor.WARN and "journal.budget_bytes" in check.fix


# /proc/mounts lines in the kernel's format (fields: device, mount point, type, options, 0, 0);
# written for this test, not captured from a router.
MOUNTS = """\
/dev/root / ext4 rw,relatime 0 0
tmpfs /tmp tmpfs rw,nosuid,nodev 0 0
/dev/mmcblk0p3 /bootflash ext4 rw,noatime 0 0
/dev/mmcblk0p4 /bootflash/guest\\040share vfat rw,relatime,fmask=0022 0 0
/dev/mmcblk0p5 /bootflash/guest-share ext4 rw,lazytime,relatime 0 0
"""


def test_mount_of_takes_the_longest_mount_point_and_unescapes_spaces():
    from guestagent.commands import doctor
    assert doctor.mount_of("/bootflash/guest-share/guestagent/journal", MOUNTS) == (
        "/bootflash/guest-share", "ext4", ["rw", "lazytime", "relatime"])
    assert doctor.mount_of("/bootflash/guest share/j", MOUNTS)[:2] == (
        "/bootflash/guest share", "vfat")
    assert doctor.mount_of("/bootflash/guest-sharex", MOUNTS)[0] == "/bootflash"  # not a prefix
    assert doctor.mount_of("/var/log", MOUNTS)[0] == "/"
    assert doctor.mount_of("/x", "garbage\n\n") is None


def test_flash_says_what_the_journal_file_system_adds(tmp_path):
    from guestagent import config as configs
    from guestagent.commands import doctor

    def check(journal_dir, mounts=MOUNTS):
        path = tmp_path / "mounts"
        path.write_text(mounts)
        config = configs.parse("agent: {{state_dir: {}}}\njournal: {{dir: {}}}\n".format(
            tmp_path, journal_dir))
        return doctor.check_flash(config, str(path))

    found = check("/bootflash/gj")
    assert found.status == doctor.PASS
    assert found.message == ("the journal is on /bootflash (ext4, rw,noatime); each cycle's two "
                             "durable writes (its report, its state) also cost ext4 a journal "
                             "commit each")
    assert "commit" not in check("/bootflash/guest-share/j").message  # lazytime
    assert "commit" not in check("/bootflash/guest share/j").message  # vfat: no journal
    memory = check("/tmp/j")
    assert memory.status == doctor.WARN and "bootflash" in memory.fix
    assert check("/x", mounts="").status == doctor.SKIP
    config = configs.parse("agent: {{state_dir: {}}}\n".format(tmp_path))
    assert doctor.check_flash(config, str(tmp_path / "absent")).status == doctor.SKIP
