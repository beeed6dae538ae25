"""The offline bundle: built once per test module from the wheels `./install.sh --dev` fetched
into .cache/wheels/ (the tests themselves send nothing off the machine; they skip when the wheels
are not there), checked wheel by wheel, and its manifest verified."""

import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from guestagent import __version__
from guestagent.commands import bundle as bundles
from tests.conftest import ROOT

NAME = "guestagent-{}".format(__version__)


GUESTSHELL_WHEELS = os.path.join(ROOT, ".cache", "wheels", "guestshell")


def build_bundle(directory):
    """Path of the tarball built from the fetched wheels, or a skip when they are not there."""
    if not os.path.isdir(GUESTSHELL_WHEELS) or not any(
            n.startswith("pip-") for n in os.listdir(GUESTSHELL_WHEELS)):
        pytest.skip("no Guest Shell wheels in {}: ./install.sh --dev fetches them".format(
            GUESTSHELL_WHEELS))
    result = subprocess.run([sys.executable, "-m", "guestagent", "bundle", "--output",
                             str(directory), "--wheels-from", GUESTSHELL_WHEELS], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    tarball = os.path.join(str(directory), "{}-guestshell.tar.gz".format(NAME))
    assert os.path.exists(tarball), result.stdout
    return tarball, result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dist")
    tarball, output = build_bundle(directory)
    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(tarball) as tar:
        tar.extractall(str(unpacked))
    return tarball, output, os.path.join(str(unpacked), NAME)


def test_wheel_tags_accepted_and_refused():
    assert bundles.wheel_ok("PyYAML-6.0.1-cp36-cp36m-manylinux_2_17_aarch64.manylinux2014_"
                            "aarch64.whl") == (True, None)
    assert bundles.wheel_ok("requests-2.27.1-py2.py3-none-any.whl") == (True, None)
    assert bundles.wheel_ok("PyYAML-6.0.1-cp311-cp311-manylinux_2_17_aarch64.whl")[1] == \
        "python tag cp311 is not cp36/py3"
    assert bundles.wheel_ok("PyYAML-6.0.1-cp36-cp36m-manylinux2014_x86_64.whl")[1] == \
        "platform manylinux2014_x86_64 is not aarch64/any"
    assert "newer glibc" in bundles.wheel_ok("x-1.0-cp36-cp36m-manylinux_2_34_aarch64.whl")[1]
    assert bundles.wheel_ok("x-1.0.tar.gz")[1] == "not a wheel"


def test_every_wheel_installs_on_guest_shell(built):
    tarball, output, root = built
    names = sorted(os.listdir(os.path.join(root, "wheels")))
    assert all(bundles.wheel_ok(n) == (True, None) for n in names), names
    projects = set(n.split("-")[0].lower().replace("_", "-") for n in names)
    assert {"guestagent", "pyyaml", "prometheus-client", "requests", "dnspython",
            "pip"} <= projects
    assert "pingparsing" not in projects  # a test dependency only (tests/test_icmp_vs_pingparsing.py)
    # Exactly the Guest Shell constraint set (plus the package and pip).
    with open(os.path.join(ROOT, "constraints", "guestshell.txt")) as f:
        pinned = set(line.split("==")[0].strip().lower() for line in f
                     if "==" in line and not line.startswith("#"))
    assert projects == pinned | {"guestagent", "pip"}
    assert any(n.startswith("PyYAML-6.0.1-cp36-cp36m-") and n.endswith("aarch64.whl")
               for n in names)
    assert "pip-21.3.1-py3-none-any.whl" in names


def test_bundle_layout_size_and_report(built):
    tarball, output, root = built
    size = os.path.getsize(tarball)
    assert size <= bundles.SIZE_GOAL_BYTES
    assert output.splitlines()[-1] == "{}: {:.2f} MB ({} wheels)".format(
        tarball, size / 1048576.0, len(os.listdir(os.path.join(root, "wheels"))))
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
    assert all(m.name == NAME or m.name.startswith(NAME + "/") for m in members)
    assert all(m.uname == "root" for m in members)
    for path in ("install.sh", "constraints.txt", "MANIFEST.sha256", "examples/router.yaml",
                 "eem/timer.applet", "eem/track.applet", "docs/deploy.md"):
        assert os.path.isfile(os.path.join(root, path)), path
    assert os.access(os.path.join(root, "install.sh"), os.X_OK)
    with open(os.path.join(root, "install.sh")) as f, open(os.path.join(ROOT, "install.sh")) as g:
        assert f.read() == g.read()


def test_the_package_wheel_carries_data_files(built):
    _, _, root = built
    wheel = os.path.join(root, "wheels", "{}-py3-none-any.whl".format(NAME))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    assert "guestagent/eem.py" in names
    assert "guestagent/default.yaml" in names
    assert any(n.startswith("guestagent/device/ir1101/show_version") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_manifest_lists_every_file_with_its_sha256(built):
    _, _, root = built
    listed = {}
    with open(os.path.join(root, "MANIFEST.sha256")) as f:
        for line in f:
            digest, path = line.rstrip("\n").split("  ", 1)
            listed[path] = digest
    on_disk = set()
    for directory, _dirs, names in os.walk(root):
        for name in names:
            on_disk.add(os.path.relpath(os.path.join(directory, name), root))
    assert set(listed) == on_disk - {"MANIFEST.sha256"}
    for path, digest in listed.items():
        with open(os.path.join(root, path), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, path


def test_make_bundle_target_runs_the_command():
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    assert "bundle:\n\t$(PYTHON) -m guestagent bundle" in text


def test_bundle_outside_a_source_tree_says_so(tmp_path):
    result = subprocess.run([sys.executable, "-m", "guestagent", "bundle", "--source",
                             str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 2
    assert "is not a source checkout (no setup.py)" in result.stderr
