"""pytest fixtures for the lab (imported by tests/conftest.py)."""

import os
import shutil

import pytest


def _lab_possible():
    return (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("ip")
            and shutil.which("nft") and shutil.which("tc"))


@pytest.fixture(scope="module")
def lab():
    """A fresh lab for a test module; removed afterwards, whatever happened."""
    if not _lab_possible():
        pytest.skip("the lab needs root, iproute2, nftables and tc")
    from tests.lab.topology import Lab, sweep
    sweep()
    built = Lab()
    try:
        built.up()
    except Exception as exc:
        pytest.skip("cannot build the lab here: {}".format(exc))
    try:
        yield built
    finally:
        built.down()
