#!/usr/bin/env bash
# Install the system packages the tests talk to (Mosquitto, Chromium) when missing.
# Needs root and apt-get; elsewhere it says what is missing and the tests that need
# it skip with that reason. Under CI=true a missing package is an error.
set -uo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Deployment checks without an engine: `docker-compose config`, `kubectl kustomize`,
# `systemd-analyze verify`. Optional: their tests skip where these are absent.
optional=()
command -v docker-compose >/dev/null 2>&1 || optional+=(docker-compose)
command -v kubectl >/dev/null 2>&1 || optional+=(kubectl)
command -v systemd-analyze >/dev/null 2>&1 || optional+=(systemd)
if [ ${#optional[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${optional[@]}"; } \
    >/dev/null 2>&1 || echo "system-deps: could not install ${optional[*]}; their checks will skip" >&2
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  status=$?
else
  echo "system-deps: missing ${need[*]} (install them as root: apt-get install ${need[*]}); tests that need them will skip" >&2
  status=1
fi
if [ "$status" != 0 ] && [ "${CI:-}" = "true" ]; then
  echo "system-deps: CI needs ${need[*]}" >&2
  exit 1
fi
exit 0
