#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: ulogd2 with its JSON plugin, the
# firewall tools, packet generators, carbon-cache with whisper, and chromium for the scan-watch
# page's browser test; systemd (systemd-analyze verify) and logrotate (logrotate -d) check the
# shipped unit, ulogd2 drop-in and logrotate snippet (test/install/). Run as root on Debian 12.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: run as root (apt-get install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  ulogd2 ulogd2-json nftables iptables nfacct iproute2 \
  hping3 nmap masscan zmap curl procps \
  graphite-carbon python3-whisper victoria-metrics \
  chromium \
  systemd logrotate
