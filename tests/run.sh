#!/usr/bin/env bash
# The one test command:  bash tests/run.sh [pytest arguments...]
#
# 1. Installs the programs the tests start (Dovecot, openssl, gnome-keyring, D-Bus, Chromium,
#    Xvfb with the trayer system tray, xdotool and dunst) and the tools tests/installer builds the
#    installers with, when they are missing, on Debian/Ubuntu (sudo only when not root).
#    Without dpkg it only checks that they are on PATH.
# 2. Creates .venv in the repository and installs the project with its test extras; a
#    second run skips pip unless pyproject.toml changed.
# 3. Runs pytest. With CI=true, a server that cannot start - or any skipped test - fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.mailroom-test-install

say() { printf 'tests/run.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "not root and no sudo: cannot run '$*'"
    fi
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    # Debian 12+/Ubuntu 23.04+ split the old "dbus" package into dbus-daemon and dbus-bin
    local pkgs=() pkg
    for pkg in "$@"; do
        if [[ $pkg == dbus-daemon || $pkg == dbus-bin ]] && ! apt-cache show "$pkg" >/dev/null 2>&1; then
            pkgs+=(dbus)
        else
            pkgs+=("$pkg")
        fi
    done
    say "installing: ${pkgs[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

# ---------------------------------------------------------------- system programs
if command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for pkg in dovecot-pop3d dovecot-imapd openssl gnome-keyring chromium xvfb xdotool trayer dunst; do
        installed "$pkg" || missing+=("$pkg")
    done
    # tests/installer builds the .deb and the Windows installer (installer/build.sh)
    for pkg in binutils patchelf dpkg-dev lintian desktop-file-utils help2man nsis p7zip-full; do
        installed "$pkg" || missing+=("$pkg")
    done
    have dbus-daemon || missing+=(dbus-daemon)
    have dbus-send || missing+=(dbus-bin)
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
fi
for prog in dovecot openssl gnome-keyring-daemon dbus-daemon dbus-send chromium Xvfb xdotool trayer dunst; do
    have "$prog" || die "$prog is not installed (Debian/Ubuntu: dovecot-pop3d dovecot-imapd openssl gnome-keyring dbus-daemon dbus-bin chromium xvfb xdotool trayer dunst)"
done

# ---------------------------------------------------------------- Python
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is $("$PYTHON" -V 2>&1); Mailroom needs Python 3.11 or newer (set PYTHON=...)"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c '' 2>/dev/null; then
    rm -rf "$VENV"
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        command -v dpkg-query >/dev/null 2>&1 || die "$PYTHON cannot create virtual environments (no ensurepip)"
        apt_install python3-venv
    fi
    "$PYTHON" -m venv "$VENV"
fi

if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    # build back-ends talk a lot even with -q: keep it in a log, show it on failure
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip \
            && "$VENV/bin/python" -m pip install -q -e '.[test]'; } >"$VENV/pip.log" 2>&1; then
        cat "$VENV/pip.log" >&2
        die "pip install failed (log: $VENV/pip.log)"
    fi
    touch "$STAMP"
fi

exec "$VENV/bin/python" -m pytest "$@"
