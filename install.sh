#!/usr/bin/env bash
# guestagent installer.
#   ./install.sh --dev    set up a development machine (Debian): system tools, .venv, test tools
# Guest Shell installation (offline, from the bundle) is described in README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

dev_setup() {
  # The real components the tests start: Pushgateway, VictoriaMetrics, Prometheus/promtool, ping,
  # traceroute, fping, nftables, iproute2 (network namespaces for the lab).
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      iputils-ping traceroute fping nftables iproute2 procps curl \
      prometheus-pushgateway victoria-metrics prometheus prometheus-blackbox-exporter \
      python3-venv >/dev/null
  fi
  local py=${PYTHON:-python3}
  [ -x "$here/.venv/bin/python" ] || "$py" -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q --upgrade pip
  "$here/.venv/bin/pip" install -q -c "$here/constraints/dev.txt" -e "$here[test]"
  echo "development environment ready: $here/.venv"
}

case "${1:-}" in
  --dev) dev_setup ;;
  *) echo "usage: $0 --dev" >&2; exit 2 ;;
esac
