#!/usr/bin/env bash
# guestagent installer.
#   ./install.sh --dev    set up a development machine (Debian): system tools, .venv, test tools
#
# Inside Guest Shell, from an unpacked bundle (`make bundle`; docs/deploy.md):
#   ./install.sh [--prefix DIR] [--python PY] [--apply-eem] [--no-doctor] [--wheels DIR]
#   ./install.sh --uninstall [--purge] [--prefix DIR]
# Offline: everything comes from the bundle's wheels/. Idempotent; an upgrade keeps the config,
# the state and the journal.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

DEFAULT_PREFIX=/bootflash/guest-share/guestagent

dev_setup() {
  # The real components the tests start: Pushgateway, VictoriaMetrics (vmalert), Prometheus/promtool,
  # ping, traceroute, fping, nftables, iproute2 (network namespaces for the lab), sudo (Guest
  # Shell's user pings through it), chromium (the SLA report rendered headless), time (peak RSS
  # in bench/cycle.py).
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      iputils-ping traceroute fping nftables iproute2 procps curl \
      prometheus-pushgateway victoria-metrics prometheus prometheus-blackbox-exporter \
      python3-venv sudo chromium time >/dev/null
  fi
  local py=${PYTHON:-python3}
  [ -x "$here/.venv/bin/python" ] || "$py" -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q --upgrade pip
  "$here/.venv/bin/pip" install -q -c "$here/constraints/dev.txt" -e "$here[test]" wheel
  dev_wheels
  echo "development environment ready: $here/.venv"
}

# The wheels the bundle and installer tests use, fetched here, at setup, so that the tests
# themselves send no traffic off the machine: the Guest Shell set (cp36 / aarch64, plus the pip
# that installs it) and PyYAML for this machine's Pythons (the one binary dependency).
dev_wheels() {
  local cache="$here/.cache/wheels" pip="$here/.venv/bin/pip" machine pin version
  machine=$(uname -m)
  pin=$(grep '^PyYAML==' "$here/constraints/guestshell.txt")
  mkdir -p "$cache/guestshell" "$cache/local"
  "$pip" download -q --python-version 3.6 --implementation cp --only-binary=:all: \
    --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
    -d "$cache/guestshell" -r "$here/constraints/guestshell.txt" pip==21.3.1
  for version in 3.6 "$("$here/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"; do
    "$pip" download -q --no-deps --only-binary=:all: --python-version "$version" \
      --implementation cp --platform "manylinux2014_$machine" \
      --platform "manylinux_2_17_$machine" -d "$cache/local" "$pin" ||
      echo "note: no $pin wheel for Python $version on $machine (install tests will skip)" >&2
  done
}

usage() {
  cat >&2 <<EOF
usage: $0 --dev
       $0 [--prefix DIR] [--python PY] [--apply-eem] [--no-doctor] [--wheels DIR]
       $0 --uninstall [--purge] [--prefix DIR]

  --prefix DIR   where code, config, state and journal go (default $DEFAULT_PREFIX)
  --python PY    the Python 3.6+ that runs the agent (default python3)
  --apply-eem    add the EEM applets that start the agent (guestagent eem apply)
  --no-doctor    do not run guestagent doctor after installing
  --wheels DIR   also take wheels from DIR and install on a machine that is not aarch64
                 (tests: the bundle's aarch64 PyYAML cannot install on x86_64)
  --uninstall    remove the applets and the code; keep config, state and journal
  --purge        with --uninstall: remove config, state and journal too
EOF
  exit 2
}

say() { echo "== $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

prefix=$DEFAULT_PREFIX
python=python3
action=install
apply_eem=0
doctor=1
purge=0
extra_wheels=""

while [ $# -gt 0 ]; do
  case "$1" in
    --dev) dev_setup; exit 0 ;;
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift ;;
    --python) [ $# -ge 2 ] || usage; python=$2; shift ;;
    --wheels) [ $# -ge 2 ] || usage; extra_wheels=$(cd "$2" && pwd); shift ;;
    --apply-eem) apply_eem=1 ;;
    --no-doctor) doctor=0 ;;
    --uninstall) action=uninstall ;;
    --purge) purge=1 ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
  shift
done

prefix=${prefix%/}
venv=$prefix/venv
config=$prefix/config.yaml
agent="$venv/bin/python3 -m guestagent"

check_python() {
  command -v "$python" >/dev/null 2>&1 || die "$python not found (Guest Shell of IOS XE 17.x has python3)"
  "$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 6) else 1)' ||
    die "$("$python" --version 2>&1) is too old: guestagent needs Python 3.6 or later (IOS XE 17.x Guest Shell)"
  "$python" -c 'import venv' 2>/dev/null || die "$python has no venv module"
}

check_platform() {
  local machine
  machine=$(uname -m)
  if [ "$machine" != "aarch64" ] && [ -z "$extra_wheels" ]; then
    die "the bundle's wheels are for aarch64 (IR1101 Guest Shell) and this is $machine; to try it here, give --wheels DIR holding wheels of PyYAML for this machine"
  fi
  if [ "$prefix" = "$DEFAULT_PREFIX" ] && [ ! -d /bootflash/guest-share ]; then
    die "/bootflash/guest-share is missing: not Guest Shell? (--prefix DIR installs elsewhere)"
  fi
}

verify_manifest() {
  [ -f "$here/MANIFEST.sha256" ] ||
    die "no MANIFEST.sha256 next to install.sh: run it from an unpacked bundle (make bundle)"
  if command -v sha256sum >/dev/null 2>&1; then
    (cd "$here" && sha256sum --check --quiet --strict MANIFEST.sha256) ||
      die "the bundle is damaged (checksums above differ): copy it to bootflash again"
  else
    (cd "$here" && "$python" - <<'EOF'
import hashlib, sys
bad = 0
for line in open("MANIFEST.sha256"):
    digest, path = line.rstrip("\n").split("  ", 1)
    try:
        with open(path, "rb") as f:
            ok = hashlib.sha256(f.read()).hexdigest() == digest
    except IOError:
        ok = False
    if not ok:
        print(path + ": FAILED")
        bad += 1
sys.exit(1 if bad else 0)
EOF
    ) || die "the bundle is damaged (checksums above differ): copy it to bootflash again"
  fi
  say "bundle checksums verified"
}

make_venv() {
  local want have
  want=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ -x "$venv/bin/python3" ]; then
    have=$("$venv/bin/python3" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
    if [ "$have" = "$want" ] && grep -qi '^include-system-site-packages *= *true' "$venv/pyvenv.cfg"; then
      say "reusing $venv (Python $have)"
      return
    fi
    if [ "$have" = "$want" ]; then
      say "recreating $venv (it hid the system site-packages, where Guest Shell's cli lives)"
    else
      say "recreating $venv (Python ${have:-broken} -> $want)"
    fi
    rm -rf "$venv"
  fi
  # --system-site-packages: Guest Shell's `cli` module exists only in the system site-packages
  # (/usr/lib/python3.6/site-packages/cli), together with what it imports itself (its transport
  # and error packages, whose set differs across releases), so a .pth for `cli` alone could
  # miss them. Our pins still win: the venv's site-packages come first on sys.path, and
  # install_wheels installs every pin into the venv whatever the system holds.
  # No pip inside: the bundle's pip wheel does the installing (Guest Shell's own pip is too old
  # for manylinux2014 wheels). A file system without symlinks gets copies.
  if ! "$python" -m venv --without-pip --system-site-packages "$venv" 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv --without-pip --system-site-packages --copies "$venv" ||
      die "cannot create a venv in $venv"
  fi
  say "created $venv (sees the system site-packages, for Guest Shell's cli)"
}

install_wheels() {
  local pip_wheel agent_wheel version
  pip_wheel=$(ls "$here"/wheels/pip-*.whl 2>/dev/null | head -n 1)
  agent_wheel=$(ls "$here"/wheels/guestagent-*.whl 2>/dev/null | head -n 1)
  [ -n "$pip_wheel" ] && [ -n "$agent_wheel" ] || die "wheels/ lacks pip or guestagent"
  version=${agent_wheel##*/guestagent-}
  version=${version%%-*}
  local links=(--find-links "$here/wheels")
  [ -z "$extra_wheels" ] || links+=(--find-links "$extra_wheels")
  # --force-reinstall: an upgrade (or a rebuilt bundle of the same version) replaces the code,
  # and every pin goes into the venv even when the system site-packages (visible to this venv)
  # hold that project at the same or another version: pip leaves those alone, outside the venv.
  # No pip.conf or PIP_* variable of this machine may add an index or other wheels.
  # --compile (and no PIP_NO_COMPILE): bytecode for this Python is written now, once, so that a
  # shell with PYTHONDONTWRITEBYTECODE=1 does not compile every module again on every cycle.
  env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_NO_INDEX \
    -u PIP_CONSTRAINT -u PIP_REQUIREMENT -u PIP_NO_COMPILE PIP_CONFIG_FILE=/dev/null \
    "$venv/bin/python3" "$pip_wheel/pip" install --quiet --no-index --no-cache-dir \
    --disable-pip-version-check "${links[@]}" -c "$here/constraints.txt" --compile \
    --upgrade --force-reinstall "guestagent==$version" ||
    die "pip could not install guestagent $version from $here/wheels"
  compile_bytecode
  say "installed guestagent $version into $venv"
}

# Whatever pip left out (a file it did not compile, bytecode it could not write) is compiled
# here (py_compile writes even under PYTHONDONTWRITEBYTECODE=1); an agent module that does not
# compile fails the install, a dependency's file that does not is left to pip's judgement.
compile_bytecode() {
  local site
  site=$("$venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$venv/bin/python3" -m compileall -q "$site" >/dev/null 2>&1 || true
  "$venv/bin/python3" -m compileall -q "$site/guestagent" >/dev/null ||
    die "the agent's modules do not compile for $("$venv/bin/python3" --version 2>&1)"
  say "bytecode compiled for $("$venv/bin/python3" --version 2>&1)"
}

make_layout() {
  mkdir -p "$prefix/state" "$prefix/journal"
  chmod 750 "$prefix/state" "$prefix/journal"
  if [ -e "$config" ]; then
    say "keeping $config"
    return
  fi
  local example=$here/examples/router.yaml
  [ -f "$example" ] || die "no examples/router.yaml in the bundle"
  (
    umask 077
    if [ "$prefix" = "$DEFAULT_PREFIX" ]; then
      cp "$example" "$config.new"
    else
      # Elsewhere (a lab, a test): the example's paths follow the prefix, and so do the applets.
      sed "s#$DEFAULT_PREFIX#$prefix#g" "$example" >"$config.new"
      if ! grep -q '^eem:' "$config.new"; then
        printf 'eem:\n  python: %s\n' "$venv/bin/python3" >>"$config.new"
      fi
    fi
    chmod 600 "$config.new"
    mv "$config.new" "$config"
  )
  say "created $config from examples/router.yaml (mode 0600): put your test points and Pushgateway in it"
}

install() {
  check_python
  check_platform
  verify_manifest
  mkdir -p "$prefix"
  make_venv
  install_wheels
  make_layout
  local status=0
  if [ "$doctor" -eq 1 ]; then
    say "guestagent doctor"
    if ! $agent doctor -c "$config"; then
      echo "install.sh: doctor found problems: fix them, then run: $agent doctor -c $config"
    fi
  fi
  if [ "$apply_eem" -eq 1 ]; then
    say "EEM applets"
    $agent eem apply -c "$config" || status=1
  fi
  say "done: $venv/bin/guestagent ($agent status -c $config)"
  return $status
}

uninstall() {
  if [ -x "$venv/bin/python3" ] && [ -f "$config" ]; then
    say "removing the EEM applets"
    $agent eem remove -c "$config" ||
      echo "install.sh: the applets could not be removed here (run inside Guest Shell from IOS, or in IOS: $agent eem render -c $config shows their names)" >&2
  fi
  rm -rf "$venv"
  say "removed $venv"
  if [ "$purge" -eq 1 ]; then
    rm -rf "$prefix/state" "$prefix/journal"
    rm -f "$config"
    rmdir "$prefix" 2>/dev/null || say "kept $prefix (it holds other files)"
    say "purged config, state and journal"
  else
    say "kept $config, $prefix/state and $prefix/journal (--purge removes them)"
  fi
}

case "$action" in
  install) install ;;
  uninstall) uninstall ;;
esac
