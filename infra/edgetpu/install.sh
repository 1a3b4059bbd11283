#!/usr/bin/env bash
# Install the Edge TPU runtime pair a booth node is supported with (infra/edgetpu/README.md):
#
#   libedgetpu1-std 16.0tf2.17.1-1  (the Edge TPU runtime, built against TensorFlow 2.17.1)
#   tflite-runtime 2.17.1            (the interpreter it is loaded into, same TensorFlow)
#
# Both from community builds, because Coral's own libedgetpu1-std 16.0 (its apt repository)
# is built against TensorFlow 2.5 and crashes in any interpreter newer than about 2.11,
# while this project needs Python >= 3.11, for which no TensorFlow-2.5 interpreter exists.
# The same pair is what Frigate NVR installs in its images.
#
#   sudo infra/edgetpu/install.sh runtime            # the .deb (needs root)
#   infra/edgetpu/install.sh python /opt/dancebooth/venv /opt/dancebooth/src
#                                                     # the wheel into the node's venv
#
# Debian 12 (bookworm) / Raspberry Pi OS bookworm, arm64 or amd64, Python 3.11 only: the
# combinations in the support matrix. Each download is checked against SHA256SUMS next to
# this script; a file not pinned there yet is refused unless --trust-new is given (then
# its digest is printed, to be checked and added to SHA256SUMS).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIBEDGETPU_VERSION="16.0tf2.17.1-1"
LIBEDGETPU_RELEASE="https://github.com/feranick/libedgetpu/releases/download/16.0TF2.17.1-1"
TFLITE_VERSION="2.17.1"
TFLITE_WHEEL_AARCH64="https://github.com/feranick/TFlite-builds/releases/download/v2.17.1/tflite_runtime-2.17.1-cp311-cp311-linux_aarch64.whl"
TFLITE_WHEEL_X86_64="https://github.com/frigate-nvr/TFlite-builds/releases/download/v2.17.1/tflite_runtime-2.17.1-cp311-cp311-linux_x86_64.whl"
FLAVOUR="${EDGETPU_FLAVOUR:-std}"  # std, or max: faster, and the USB stick runs hot
TRUST_NEW=0
PINS="${EDGETPU_PINS:-$HERE/SHA256SUMS}"
OS_RELEASE="${EDGETPU_OS_RELEASE:-/etc/os-release}"

die() { echo "edgetpu install: $*" >&2; exit 1; }

supported_base() {
    local codename arch
    codename="$(. "$OS_RELEASE" && echo "${VERSION_CODENAME:-unknown}")"
    arch="$(dpkg --print-architecture 2>/dev/null || uname -m)"
    [ "$codename" = "bookworm" ] || die "this is ${codename}; the supported pair is built for
  Debian 12 / Raspberry Pi OS bookworm (see infra/edgetpu/README.md for the matrix)"
    case "$arch" in
        arm64 | amd64) echo "$arch" ;;
        *) die "CPU ${arch} is not supported (arm64: Raspberry Pi 4/5; amd64: x86 Linux)" ;;
    esac
}

# fetch URL DEST: download, then keep the file only if SHA256SUMS pins its digest.
fetch() {
    local url="$1" dest="$2" name got want
    name="$(basename "$url")"
    curl -fsSL --retry 3 -o "$dest.part" "$url" || die "could not download $url"
    got="$(sha256sum "$dest.part" | cut -d' ' -f1)"
    want="$(awk -v n="$name" '$2 == n {print $1}' "$PINS" 2>/dev/null || true)"
    if [ -n "$want" ] && [ "$got" != "$want" ]; then
        rm -f "$dest.part"
        die "$name has sha256 $got, $PINS pins $want: refusing it"
    elif [ -z "$want" ]; then
        if [ "$TRUST_NEW" != 1 ]; then
            rm -f "$dest.part"
            die "$name is not pinned in $PINS yet (its sha256 is $got); check it,
  add the line \"$got  $name\" there, or rerun with --trust-new"
        fi
        echo "edgetpu install: $name not pinned yet; its sha256 is $got (add it to SHA256SUMS)" >&2
    fi
    mv "$dest.part" "$dest"
}

install_runtime() {
    local arch deb tmp
    arch="$(supported_base)"
    [ "$(id -u)" = 0 ] || die "installing the .deb needs root: sudo $0 runtime"
    [ "$FLAVOUR" = std ] || [ "$FLAVOUR" = max ] || die "EDGETPU_FLAVOUR is std or max"
    deb="libedgetpu1-${FLAVOUR}_${LIBEDGETPU_VERSION}.bookworm_${arch}.deb"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' RETURN
    fetch "$LIBEDGETPU_RELEASE/$deb" "$tmp/$deb"
    # Coral's packaged runtime would be the TensorFlow-2.5 build: never both.
    apt-get remove -y "libedgetpu1-$([ "$FLAVOUR" = std ] && echo max || echo std)" 2>/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$tmp/$deb"
    echo "edgetpu install: libedgetpu1-${FLAVOUR} ${LIBEDGETPU_VERSION} installed"
}

install_python() {
    local venv="${1:?usage: $0 python VENV SOURCE}" src="${2:?usage: $0 python VENV SOURCE}"
    local arch url wheel tmp
    arch="$(supported_base)"
    [ -x "$venv/bin/python" ] || die "$venv is not a virtual environment"
    "$venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' \
        || die "the tflite-runtime ${TFLITE_VERSION} wheel is for Python 3.11 only"
    url="$TFLITE_WHEEL_X86_64"
    [ "$arch" = arm64 ] && url="$TFLITE_WHEEL_AARCH64"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' RETURN
    wheel="$tmp/$(basename "$url")"
    fetch "$url" "$wheel"
    # constraints.txt keeps NumPy 1.x, which the wheel and Frigate's images run with; the
    # edge extra is resolved again under it (e.g. an OpenCV that accepts NumPy 1.x).
    "$venv/bin/pip" install --constraint "$HERE/constraints.txt" "$wheel" -e "$src[edge]"
    echo "edgetpu install: tflite-runtime ${TFLITE_VERSION} installed in $venv"
}

main() {
    local args=() a
    for a in "$@"; do
        case "$a" in
            --trust-new) TRUST_NEW=1 ;;
            *) args+=("$a") ;;
        esac
    done
    set -- "${args[@]}"
    case "${1:-}" in
        runtime) install_runtime ;;
        python) shift; install_python "$@" ;;
        *) die "usage: $0 runtime | python VENV SOURCE   [--trust-new]" ;;
    esac
}

# Sourced (by the tests), it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
