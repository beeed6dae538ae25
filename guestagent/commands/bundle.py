"""`guestagent bundle` (also `make bundle`): the offline installation bundle for Guest Shell.

`dist/guestagent-<version>-guestshell.tar.gz` unpacks to `guestagent-<version>/` holding
`install.sh`, `wheels/` (guestagent, every runtime dependency as cp36/aarch64 or pure-Python
wheels, and pip 21.3.1, which installs them: Guest Shell's own pip predates manylinux2014),
`constraints.txt` (the versions resolved for Guest Shell), `eem/`, `examples/`, `docs/deploy.md`
and `MANIFEST.sha256`, which install.sh checks before it installs anything.

Runs on a development machine from a source checkout; it needs PyPI (or `--wheels-from DIR`
holding the dependency wheels already).
"""

import os
import sys

HELP = "build the offline Guest Shell bundle (dist/guestagent-<version>-guestshell.tar.gz)"

# Guest Shell of IOS XE 17.x on the IR1101: CPython 3.6.8, aarch64, glibc 2.28 (CentOS 8).
PYTHON_VERSION = "3.6"
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64")
# The last pip that runs on Python 3.6; it knows manylinux2014 tags (Guest Shell's pip 9 does not).
PIP = "pip==21.3.1"
SIZE_GOAL_BYTES = 5 * 1024 * 1024
# Copied into the bundle from the source tree (directories whole).
CONTENTS = ("install.sh", "eem", "examples", os.path.join("docs", "deploy.md"))
SOURCE = ("setup.py", "setup.cfg", "README.md", "guestagent", "scripts")

_PYTHON_TAGS = ("cp36", "py3", "py36", "py2.py3", "py3.py2")
_ABI_TAGS = ("cp36m", "abi3", "none")


def add_arguments(parser):
    parser.add_argument("--output", metavar="DIR", help="where the tarball goes (default: dist/ "
                        "of the source tree)")
    parser.add_argument("--wheels-from", metavar="DIR",
                        help="take the dependency wheels from DIR instead of downloading them")
    parser.add_argument("--source", metavar="DIR", help="source tree (default: the one this "
                        "package was loaded from)")


def project_of(wheel_name):
    """`charset_normalizer-2.0.12-py3-none-any.whl` -> `charset-normalizer`."""
    return wheel_name.split("-")[0].lower().replace("_", "-").replace(".", "-")


def pinned_projects(constraints):
    """The project names pinned (`name==version`) in a constraints file."""
    names = set()
    with open(constraints, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                names.add(line.split("==")[0].strip().lower().replace("_", "-").replace(".", "-"))
    return names


def wheel_ok(filename):
    """Whether a wheel installs on Guest Shell: (ok, why)."""
    if not filename.endswith(".whl"):
        return False, "not a wheel"
    parts = filename[:-4].split("-")
    if len(parts) < 5:
        return False, "not a wheel file name"
    python_tag, abi_tag, platform_tag = parts[-3:]
    if not any(tag in _PYTHON_TAGS for tag in python_tag.split(".")) and \
            python_tag not in _PYTHON_TAGS:
        return False, "python tag {} is not cp36/py3".format(python_tag)
    if not any(tag in _ABI_TAGS for tag in abi_tag.split(".")):
        return False, "abi tag {} is not cp36m/none".format(abi_tag)
    platforms = platform_tag.split(".")
    if not all(p == "any" or p.endswith("_aarch64") for p in platforms):
        return False, "platform {} is not aarch64/any".format(platform_tag)
    if not all(p == "any" or p.startswith(("manylinux2014", "manylinux_2_17", "manylinux_2_1",
                                           "linux_")) for p in platforms):
        return False, "platform {} needs a newer glibc than Guest Shell's".format(platform_tag)
    return True, None


def _can_build_offline():
    """Whether this Python builds wheels without fetching setuptools/wheel (build isolation)."""
    try:
        import wheel  # noqa: F401
        return True
    except ImportError:
        pass
    try:
        import setuptools.command.bdist_wheel  # noqa: F401  (setuptools >= 70.1)
        return True
    except ImportError:
        return False


def _run(argv, cwd=None):
    import subprocess
    result = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    if result.returncode != 0:
        raise RuntimeError("{} failed:\n{}".format(" ".join(argv), result.stdout[-3000:]))
    return result.stdout


def _sha256(path):
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(stage):
    """MANIFEST.sha256 in `sha256sum -c` format, every file but itself, sorted."""
    entries = []
    for directory, dirs, names in os.walk(stage):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, stage)
            if relative != "MANIFEST.sha256":
                entries.append("{}  {}".format(_sha256(path), relative))
    with open(os.path.join(stage, "MANIFEST.sha256"), "w") as f:
        f.write("\n".join(sorted(entries, key=lambda e: e.split("  ", 1)[1])) + "\n")
    return len(entries)


def build(source, output, wheels_from=None, log=sys.stdout):
    """Build the bundle; returns (tarball path, [wheel file names])."""
    import shutil
    import tarfile
    import tempfile
    from guestagent import __version__
    name = "guestagent-{}".format(__version__)
    tmp = tempfile.mkdtemp(prefix="guestagent-bundle-")
    try:
        stage = os.path.join(tmp, name)
        wheels = os.path.join(stage, "wheels")
        os.makedirs(wheels)
        # Build from a copy: pip wheel writes build/ and egg-info next to setup.py.
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        for item in SOURCE:
            path = os.path.join(source, item)
            if os.path.isdir(path):
                shutil.copytree(path, os.path.join(src, item),
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif os.path.exists(path):
                shutil.copy2(path, os.path.join(src, item))
        log.write("building the guestagent wheel\n")
        # Build isolation fetches setuptools and wheel from the index; skip it when both are here.
        # (--use-pep517: an older pip would otherwise call `setup.py bdist_wheel` without them.)
        isolation = ["--no-build-isolation"] if _can_build_offline() else ["--use-pep517"]
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"] + isolation +
             ["-w", wheels, src])
        constraints = os.path.join(source, "constraints", "guestshell.txt")
        if wheels_from:
            # Only the pinned set (and pip): a wheel directory may hold more, e.g. a dependency
            # the agent dropped, and nothing unpinned may reach a router.
            wanted = pinned_projects(constraints) | {"pip"}
            for wheel in sorted(os.listdir(wheels_from)):
                if wheel.endswith(".whl") and project_of(wheel) in wanted:
                    shutil.copy2(os.path.join(wheels_from, wheel), wheels)
        else:
            log.write("downloading cp{} / aarch64 wheels of {}\n".format(
                PYTHON_VERSION.replace(".", ""), os.path.relpath(constraints, source)))
            argv = [sys.executable, "-m", "pip", "download", "-q", "--python-version",
                    PYTHON_VERSION, "--implementation", "cp", "--only-binary=:all:", "-d", wheels,
                    "-r", constraints, PIP]
            for platform in PLATFORMS:
                argv.extend(["--platform", platform])
            _run(argv)
        names = sorted(n for n in os.listdir(wheels) if n.endswith(".whl"))
        bad = [(n, why) for n, why in ((n, wheel_ok(n)[1]) for n in names) if why]
        if bad:
            raise RuntimeError("wheels that would not install on Guest Shell:\n" + "\n".join(
                "  {}: {}".format(n, why) for n, why in bad))
        if not any(n.startswith("pip-") for n in names):
            raise RuntimeError("no pip wheel in the bundle (install.sh runs pip from it)")
        for item in CONTENTS:
            path = os.path.join(source, item)
            target = os.path.join(stage, item)
            if os.path.isdir(path):
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                if not os.path.isdir(os.path.dirname(target)):
                    os.makedirs(os.path.dirname(target))
                shutil.copy2(path, target)
        shutil.copy2(constraints, os.path.join(stage, "constraints.txt"))
        os.chmod(os.path.join(stage, "install.sh"), 0o755)
        write_manifest(stage)
        if not os.path.isdir(output):
            os.makedirs(output)
        tarball = os.path.join(output, "{}-guestshell.tar.gz".format(name))

        def normal(info):  # no build machine's user names in the archive
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        partial = tarball + ".partial"
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(stage, arcname=name, filter=normal)
        os.rename(partial, tarball)
        return tarball, names
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(args):
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    source = os.path.abspath(args.source or here)
    if not os.path.exists(os.path.join(source, "setup.py")):
        sys.stderr.write("guestagent bundle: {} is not a source checkout (no setup.py); run it "
                         "from the repository (`make bundle`)\n".format(source))
        return 2
    output = os.path.abspath(args.output or os.path.join(source, "dist"))
    try:
        tarball, names = build(source, output, args.wheels_from)
    except RuntimeError as exc:
        sys.stderr.write("guestagent bundle: {}\n".format(exc))
        return 1
    size = os.path.getsize(tarball)
    for name in names:
        sys.stdout.write("  wheels/{}\n".format(name))
    sys.stdout.write("{}: {:.2f} MB ({} wheels){}\n".format(
        tarball, size / 1048576.0, len(names),
        "" if size <= SIZE_GOAL_BYTES else "; over the 5 MB goal"))
    return 0
