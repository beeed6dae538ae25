"""`guestagent state show` on what a state directory may hold: a state file, a directory in
its place, a state written by a newer version, something that is not SQLite."""

import sqlite3

from guestagent.sla import store as stores
from tests.conftest import run_agent, write_config


def _config(tmp_path):
    return write_config(tmp_path, "agent: {{state_dir: {}}}\n".format(tmp_path / "state"))


def test_show_a_fresh_state(tmp_path):
    config = _config(tmp_path)
    stores.Store(stores.path_in(str(tmp_path / "state"))).close()
    result = run_agent(["state", "show", "-c", config])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("state {} (schema {},".format(
        stores.path_in(str(tmp_path / "state")), stores.SCHEMA_VERSION))


def test_show_without_a_state(tmp_path):
    result = run_agent(["state", "show", "-c", _config(tmp_path)])
    assert result.returncode == 2
    assert result.stderr == "guestagent state: no state at {}\n".format(
        stores.path_in(str(tmp_path / "state")))


def test_show_a_directory_in_place_of_the_state(tmp_path):
    path = stores.path_in(str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / stores.FILENAME).mkdir()
    result = run_agent(["state", "show", "-c", _config(tmp_path)])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr == ("guestagent state: {} is a directory, not a state file: give "
                             "--state-dir the directory that holds it\n".format(path))


def test_show_a_state_of_a_newer_schema(tmp_path):
    path = stores.path_in(str(tmp_path / "state"))
    stores.Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (stores.SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    result = run_agent(["state", "show", "-c", _config(tmp_path)])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr == (
        "guestagent state: cannot show {0}: state {0} has schema version {1}, newer than this "
        "agent's {2}: run the agent version that wrote it, or move it aside and `guestagent "
        "state rebuild` from the journal\n".format(path, stores.SCHEMA_VERSION + 1,
                                                   stores.SCHEMA_VERSION))
    # Shown, not changed.
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version").fetchone()[0] == \
        stores.SCHEMA_VERSION + 1
    db.close()


def test_show_a_file_that_is_not_a_state(tmp_path):
    path = stores.path_in(str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    with open(path, "wb") as f:
        f.write(b"not sqlite at all\n" * 100)
    result = run_agent(["state", "show", "-c", _config(tmp_path)])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("guestagent state: cannot show {}: DatabaseError: ".format(
        path))
