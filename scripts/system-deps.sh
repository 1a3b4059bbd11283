#!/usr/bin/env bash
# Install the system packages the tests talk to, one apt-get call per package, so a
# package the archive lacks is reported by name and does not stop the others.
#   required  mosquitto, chromium, openssl: the service-backed tests (they skip without
#             them; under CI=true a missing one fails this script)
#   optional  docker-compose, kubectl, systemd: the deployment checks without an engine
#             (`docker-compose config`, `kubectl kustomize`, `systemd-analyze verify`);
#             their tests skip where these are absent
# Needs root and apt-get; elsewhere it says what is missing and how to install it.
# SYSTEM_DEPS_PATH: where to look for the commands (default: PATH, /usr/sbin, /sbin).
set -uo pipefail

search="${SYSTEM_DEPS_PATH:-$PATH:/usr/sbin:/sbin}"
required=(mosquitto:mosquitto chromium:chromium openssl:openssl)
optional=(docker-compose:docker-compose kubectl:kubectl systemd:systemd-analyze)

have() { PATH="$search" command -v "$1" >/dev/null 2>&1; }

hint() {
  case "$1" in
    kubectl) echo "not in Debian's archive: add the Kubernetes apt repository (https://pkgs.k8s.io) or install the kubectl binary" ;;
    *) echo "apt-get install $1" ;;
  esac
}

missing_required=()
missing_optional=()
for entry in "${required[@]}"; do have "${entry#*:}" || missing_required+=("${entry%%:*}"); done
for entry in "${optional[@]}"; do have "${entry#*:}" || missing_optional+=("${entry%%:*}"); done
wanted=("${missing_required[@]}" "${missing_optional[@]}")
[ ${#wanted[@]} -eq 0 ] && exit 0

failed=()
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || echo "system-deps: apt-get update failed; installing from the cached lists" >&2
  log="$(mktemp)"
  for entry in "${required[@]}" "${optional[@]}"; do
    pkg="${entry%%:*}" cmd="${entry#*:}"
    have "$cmd" && continue
    if apt-get install -y -qq --no-install-recommends "$pkg" >"$log" 2>&1 && have "$cmd"; then
      echo "system-deps: installed $pkg"
    else
      why="$(grep -E '^(E|W):' "$log" | tail -n 1)"
      echo "system-deps: could not install $pkg${why:+ ($why)}" >&2
      failed+=("$pkg")
    fi
  done
  rm -f "$log"
else
  failed=("${wanted[@]}")
  echo "system-deps: not root or no apt-get; nothing installed" >&2
fi

status=0
for pkg in "${failed[@]}"; do
  case " ${missing_required[*]} " in
    *" $pkg "*)
      echo "system-deps: missing $pkg (required; $(hint "$pkg")): the tests that need it will skip" >&2
      [ "${CI:-}" = "true" ] && status=1 ;;
    *) echo "system-deps: missing $pkg (optional; $(hint "$pkg")): its checks will skip" >&2 ;;
  esac
done
[ "$status" != 0 ] && echo "system-deps: CI needs every required package" >&2
exit "$status"
