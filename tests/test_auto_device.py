"""`device.kind: auto` never pretends: in Guest Shell a missing or broken `cli` gives no router data
and an error; the simulated router runs only when configured or clearly off a router, and its
reports say so in the journal and on every series of every sink."""

import sys

import jsonschema
import pytest

from guestagent import config as configs, report as reports
from guestagent.cycle import Cycle, metrics_for
from guestagent.device import DeviceError, guestshell, open_device
from guestagent.schema import Namespace

SIMULATED_HOSTNAME = "ir1101-site7"  # the embedded IR1101's `show version`


@pytest.fixture(autouse=True)
def off_router(monkeypatch):
    """No sign of Guest Shell unless a test adds one."""
    for name in guestshell.session_variables():
        monkeypatch.delenv(name)
    monkeypatch.setattr(guestshell, "GUEST_SHARE", "/nonexistent/guest-share")
    sys.modules.pop("cli", None)


def device_config(kind="auto"):
    return Namespace(kind=kind, fixtures=None, command_timeout_s=5)


def cycle_config(tmp_path, text=""):
    path = tmp_path / "config.yaml"
    path.write_text("""
agent: {{deadline_s: 6, state_dir: {state}}}
path_discovery: {{enabled: false}}
probes: {{icmp: {{count: 1, interval_s: 0.2, timeout_s: 1}}}}
targets: [{{name: lo4, host: 127.0.0.1}}]
{text}""".format(state=tmp_path / "state", text=text))
    return configs.load(str(path))


def test_signs_of_guest_shell(tmp_path, monkeypatch):
    assert guestshell.signs(environ={}, guest_share=str(tmp_path / "absent")) == []
    found = guestshell.signs(environ={"SHELL_SESSION_udi": "x", "SHELL_SESSION_token": "y",
                                      "SHELL_SESSION_user": "z", "HOME": "/"},
                             guest_share=str(tmp_path))
    assert found == ["IOS session variables (SHELL_SESSION_token, SHELL_SESSION_udi, ...)",
                     str(tmp_path)]
    (tmp_path / "path" / "cli").mkdir(parents=True)
    (tmp_path / "path" / "cli" / "__init__.py").write_text("raise KeyError('no session')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "path"))
    # Found on the path without running it.
    assert guestshell.signs(environ={}, guest_share="/nonexistent") == ["a cli module on the path"]
    assert "cli" not in sys.modules


def test_off_a_router_auto_is_the_simulated_router_and_says_so():
    device = open_device(device_config())
    assert device.kind == "simulated"
    reason = device.describe()["reason"]
    assert reason.startswith("auto: not in Guest Shell (no SHELL_SESSION_* variable")
    assert "cli module cannot be imported" in reason and "not real data" in reason


@pytest.mark.parametrize("sign", ["session", "guest-share"])
def test_in_guest_shell_without_cli_auto_is_an_error_not_a_simulation(tmp_path, monkeypatch,
                                                                      sign):
    if sign == "session":
        monkeypatch.setenv("SHELL_SESSION_udi", "PID:IR1101-K9")
    else:
        monkeypatch.setattr(guestshell, "GUEST_SHARE", str(tmp_path))
    with pytest.raises(DeviceError) as info:
        open_device(device_config())
    message = str(info.value)
    assert "the Guest Shell cli module cannot be imported (" in message
    assert "): missing from the path of " in message
    assert "no router data -- fix: the agent's venv must see Guest Shell's system " \
           "site-packages" in message


def test_a_broken_cli_on_the_path_is_named(tmp_path, monkeypatch):
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "__init__.py").write_text("import cli._gone\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SHELL_SESSION_udi", "PID:IR1101-K9")
    module, problem = guestshell.load_cli()
    assert module is None and problem.kind == guestshell.BROKEN
    assert "cannot be imported (ModuleNotFoundError" in problem.message
    assert problem.message.endswith("): it is broken")
    monkeypatch.delenv("SHELL_SESSION_udi")
    (tmp_path / "cli" / "__init__.py").write_text("raise KeyError('SHELL_SESSION_scheme')\n")
    sys.modules.pop("cli", None)
    module, problem = guestshell.load_cli()
    assert problem.kind == guestshell.NO_SESSION
    assert "guestshell run" in problem.fix


def test_a_guest_shell_cycle_without_cli_has_no_router_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SHELL_SESSION_udi", "PID:IR1101-K9")
    cycle = Cycle(cycle_config(tmp_path), dry_run=True)
    report, code = cycle.run()
    assert code == 1
    agent = report["agent"]
    assert agent["device"]["kind"] == "none" and agent["simulated"] is False
    assert agent["hostname"] != SIMULATED_HOSTNAME
    assert (agent["serial"], agent["platform"], agent["ios_version"]) == (None, None, None)
    assert report["ipsla"] == [] and report["location"] == {}
    assert [e["where"] for e in report["errors"]] == ["device"]
    assert not any("simulated" in dict(key) for family in cycle.metric_set.families.values()
                   for key in family[2])
    jsonschema.validate(report, reports.load_schema())


def test_a_simulated_report_is_marked_in_the_report_and_on_every_series(tmp_path, pushgateway):
    config = cycle_config(tmp_path, "sinks: {pushgateway: {url: '%s'}}\n" % pushgateway.url)
    cycle = Cycle(config)
    report, _ = cycle.run()
    assert report["agent"]["device"]["kind"] == "simulated"
    assert report["agent"]["simulated"] is True
    jsonschema.validate(report, reports.load_schema())
    assert report["sinks"]["pushgateway"]["ok"], report["sinks"]
    pushed = [s for family in pushgateway.families().values() for s in family.samples
              if s.name.startswith("guestagent_")]
    assert len(pushed) > 10
    assert all(s.labels.get("simulated") == "true" for s in pushed), [
        s for s in pushed if s.labels.get("simulated") != "true"][:3]
    # A journal replay (VictoriaMetrics imports from it) marks them too, even for a report
    # written before `agent.simulated` existed.
    del report["agent"]["simulated"]
    replayed = metrics_for(report, timestamp=report["cycle"]["started_ts"])
    assert all(dict(key).get("simulated") == "true"
               for family in replayed.families.values() for key in family[2])


def test_a_configured_simulation_says_it_was_configured():
    device = open_device(device_config("simulated"))
    assert device.describe()["reason"] == ("configured (device.kind: simulated): simulated "
                                           "router, not real data")
