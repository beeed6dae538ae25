"""probes.common decides literal addresses without importing ipaddress or socket for the usual
test points, and decides them as ipaddress.ip_address does on this Python."""

import ipaddress
import subprocess
import sys

import pytest

from guestagent.probes import common, traceroute
from tests.conftest import ROOT

HOSTS = ["127.0.0.1", "10.0.0.255", "0.0.0.0", "255.255.255.255", "256.0.0.1", "1.2.3",
         "1.2.3.4.5", "010.0.0.1", "127.000.000.001", "1.2.3.4 ", " 1.2.3.4", "1..2.3", "1",
         "", "::1", "fe80::1", "fe80::1%eth0", "::ffff:1.2.3.4", "2001:db8::g", ":::",
         "localhost", "router.example.net", "1.2.3.x", "\u0661\u0662\u0667.0.0.1",
         "1.2.3.4\n", "\u00b9.2.3.4", "127.0.0.1.", "a:b"]


def ipaddress_family(host):
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


@pytest.mark.parametrize("host", HOSTS)
def test_literal_family_is_ipaddress_s(host):
    assert common.literal_family(host) == ipaddress_family(host)


def test_literal_addresses_resolve_without_a_lookup():
    assert common.resolve("127.0.0.2", 1.0) == ("127.0.0.2", 4, 0.0, None)
    assert common.resolve("::1", 1.0) == ("::1", 6, 0.0, None)


def test_a_name_still_resolves():
    address, version, _seconds, error = common.resolve("localhost", 5.0)
    assert error is None and version in (4, 6) and address in ("127.0.0.1", "::1")


def test_an_ipv4_test_point_imports_neither_ipaddress_nor_socket_nor_shutil():
    # Only what this import brings: an editable install's start-up hook may have some already.
    code = ("import sys; before = set(sys.modules); "
            "from guestagent.probes import common, traceroute; "
            "assert common.literal_family('127.0.0.9') == 4; "
            "assert common.resolve('127.0.0.9', 1.0)[1] == 4; traceroute.installed(); "
            "new = set(sys.modules) - before; "
            "print(' '.join(m for m in ('ipaddress', 'socket', 'shutil') if m in new))")
    out = subprocess.check_output([sys.executable, "-c", code], cwd=ROOT,
                                  universal_newlines=True)
    assert out.strip() == ""


def test_on_path_finds_what_shutil_which_finds(tmp_path, monkeypatch):
    import os
    import shutil
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "runnable").write_text("#!/bin/sh\n")
    os.chmod(str(bin_dir / "runnable"), 0o755)
    (bin_dir / "plain").write_text("not executable\n")
    (bin_dir / "folder").mkdir()
    os.chmod(str(bin_dir / "folder"), 0o755)
    for path in (str(bin_dir), "", os.pathsep.join(["/nonexistent", str(bin_dir)]),
                 os.environ.get("PATH", "")):
        monkeypatch.setenv("PATH", path)
        for name in ("runnable", "plain", "folder", "missing", "ping", "traceroute"):
            assert traceroute.on_path(name) == (shutil.which(name) is not None), (path, name)
    monkeypatch.delenv("PATH")
    assert traceroute.on_path("sh") == (shutil.which("sh") is not None)
