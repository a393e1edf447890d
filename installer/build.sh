#!/usr/bin/env bash
# Build Mailroom's installers with one command:
#
#     bash installer/build.sh [bundle|deb|nsis|all]        (default: all = deb + nsis)
#
#   bundle  the PyInstaller one-folder bundle of this machine  -> installer/build/dist/mailroom/
#   deb     that bundle as a Debian package, lintian-clean      -> installer/dist/mailroom_VERSION_ARCH.deb
#   nsis    the Windows installer, compiled with Debian's makensis against a stand-in
#           folder laid out like PyInstaller's Windows output   -> installer/dist/Mailroom-Setup-VERSION.exe
#           (a Windows bundle cannot be built here: see installer/README.md for the real one)
#
# On Debian/Ubuntu it installs the programs it lacks (sudo when not root): binutils and
# python3-venv for PyInstaller, dpkg-dev, lintian, desktop-file-utils and help2man for
# the .deb, nsis for the Windows installer. PyInstaller and the app's dependencies go in
# a build venv, installer/build/venv (made with $PYTHON, default python3; reused until
# pyproject.toml changes). The app's code is taken from this source tree.
# Each step prints how long it took and how big its output is.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TARGET=${1:-all}
PYTHON=${PYTHON:-python3}
BUILD=installer/build
DIST=installer/dist
VENV=$BUILD/venv
BUNDLE=$BUILD/dist/mailroom

say() { printf 'installer/build.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "not root and no sudo: cannot run '$*'"
    fi
}

# need PROGRAM PACKAGE...: install the Debian packages when PROGRAM is missing
apt_updated=
need() {
    local program=$1; shift
    command -v "$program" >/dev/null 2>&1 && return
    command -v apt-get >/dev/null 2>&1 || die "$program is missing (Debian/Ubuntu package: $*)"
    if [ -z "$apt_updated" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    say "installing $* (for $program)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    command -v "$program" >/dev/null 2>&1 || die "$program is still missing after installing $*"
}

step_start() { STEP_NAME=$1; STEP_T0=$SECONDS; say "$1 ..."; }
step_done() { say "$STEP_NAME: done in $((SECONDS - STEP_T0)) s${1:+, $1}"; }
size_of() { du -sh --apparent-size "$1" | cut -f1; }

# ---------------------------------------------------------------- build venv
venv() {
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); Mailroom needs Python 3.11 or newer (set PYTHON=...)"
    local stamp=$VENV/.mailroom-build
    if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && "$VENV/bin/python" -c '' 2>/dev/null; then
        return
    fi
    step_start "build venv ($VENV)"
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        command -v apt-get >/dev/null 2>&1 || die "$PYTHON cannot create virtual environments (no ensurepip)"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # the app's dependencies and the [bundle] extra (PyInstaller), read from pyproject.toml;
    # not the project itself: the spec takes our packages from this source tree
    "$VENV/bin/python" - >"$BUILD/requirements.txt" <<'EOF'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["bundle"]))
EOF
    if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$BUILD/requirements.txt" \
            >"$BUILD/pip.log" 2>&1; then
        cat "$BUILD/pip.log" >&2
        die "pip install failed (log: $BUILD/pip.log)"
    fi
    touch "$stamp"
    step_done
}

version() {
    "$VENV/bin/python" -c 'import sys; sys.path.insert(0, "."); from mailroom import __version__; print(__version__)'
}

icons() {
    "$VENV/bin/python" installer/icons.py "$BUILD/icons" >/dev/null
}

# ---------------------------------------------------------------- bundle
is_elf() { [ "$(head -c 4 "$1" | tr -d '\0')" = $'\x7fELF' ]; }

# A library built by a Python installed in a home folder (pyenv, a source build) records
# that folder as RUNPATH: the bundle must not look there on a user's machine. Only
# $ORIGIN-relative entries (wheels' bundled libraries) are kept.
drop_build_machine_runpaths() {
    local file runpath kept entry
    while IFS= read -r -d '' file; do
        is_elf "$file" || continue
        runpath=$(patchelf --print-rpath "$file") || die "patchelf cannot read $file"
        [ -n "$runpath" ] || continue
        kept=
        for entry in ${runpath//:/ }; do
            [[ $entry == '$ORIGIN'* ]] && kept=${kept:+$kept:}$entry
        done
        [ "$kept" = "$runpath" ] && continue
        if [ -n "$kept" ]; then patchelf --set-rpath "$kept" "$file"; else patchelf --remove-rpath "$file"; fi
    done < <(find "$BUNDLE/_internal" -type f -name '*.so*' -print0)
}

bundle() {
    if [ "$(uname -s)" = Linux ]; then
        need objdump binutils  # PyInstaller reads shared libraries' dependencies with it
        need patchelf patchelf
    fi
    step_start "PyInstaller bundle"
    rm -rf "$BUNDLE"
    if ! "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
            --distpath "$BUILD/dist" --workpath "$BUILD/work" installer/mailroom.spec >"$BUILD/pyinstaller.log" 2>&1; then
        cat "$BUILD/pyinstaller.log" >&2
        die "PyInstaller failed (log: $BUILD/pyinstaller.log)"
    fi
    if [ "$(uname -s)" = Linux ]; then
        drop_build_machine_runpaths
    fi
    "$BUNDLE/mailroom" --version >/dev/null || die "the bundle does not start: $BUNDLE/mailroom --version"
    step_done "$(size_of "$BUNDLE") in $BUNDLE"
}

# ---------------------------------------------------------------- .deb
# PEP 440 pre-releases sort before the release in Debian only with a tilde: 0.2.0rc1 -> 0.2.0~rc1
debian_version() { sed -E 's/\.?(a|b|rc|dev)([0-9]+)/~\1\2/' <<<"$1"; }

deb() {
    need dpkg-shlibdeps dpkg-dev
    need lintian lintian
    need desktop-file-validate desktop-file-utils
    need help2man help2man
    step_start ".deb"
    local version debversion arch pkgroot stage out maintainer date
    version=$(version)
    debversion=$(debian_version "$version")
    arch=$(dpkg --print-architecture)
    maintainer="Mailroom maintainers <maintainers@mailroom.example>"
    # dpkg-shlibdeps wants the package's files under debian/PACKAGE/
    pkgroot=$BUILD/deb
    stage=$pkgroot/debian/mailroom
    rm -rf "$pkgroot"
    mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
        "$stage/usr/share/doc/mailroom" "$stage/usr/share/man/man1" "$stage/usr/share/lintian/overrides"

    cp -a "$BUNDLE" "$stage/opt/mailroom"
    ln -s /opt/mailroom/mailroom "$stage/usr/bin/mailroom"
    install -m 644 installer/linux/mailroom.desktop "$stage/usr/share/applications/mailroom.desktop"
    desktop-file-validate "$stage/usr/share/applications/mailroom.desktop"
    icons
    local size
    for size in 16 22 24 32 48 64 128 256 512; do
        install -D -m 644 "$BUILD/icons/mailroom-$size.png" "$stage/usr/share/icons/hicolor/${size}x${size}/apps/mailroom.png"
    done

    date=$(git log -1 --format=%aD 2>/dev/null || date -R)
    printf 'mailroom (%s) unstable; urgency=medium\n\n  * Mailroom %s.\n\n -- %s  %s\n' \
        "$debversion" "$version" "$maintainer" "$date" | gzip -9n >"$stage/usr/share/doc/mailroom/changelog.gz"
    install -m 644 installer/linux/copyright "$stage/usr/share/doc/mailroom/copyright"
    help2man --no-info --version-string="$version" --name="files client email, opens tasks and sends auto-replies" \
        --section=1 "$BUNDLE/mailroom" | gzip -9n >"$stage/usr/share/man/man1/mailroom.1.gz"
    install -m 644 installer/linux/lintian-overrides "$stage/usr/share/lintian/overrides/mailroom"
    install -m 755 installer/linux/postrm "$stage/DEBIAN/postrm"

    # what PyInstaller left is readable by all and executable only where it should be
    find "$stage" -type d -exec chmod 755 {} +
    find "$stage/opt" -type f -exec chmod 644 {} +
    chmod 755 "$stage/opt/mailroom/mailroom"

    # Depends: only on the system libraries the bundle does not carry itself (libc, ...)
    local elf=() excluded=() lib owner
    while IFS= read -r -d '' file; do
        is_elf "$file" && elf+=("${file#"$pkgroot"/}")
    done < <(find "$stage/opt" -type f -print0)
    for lib in "$stage"/opt/mailroom/_internal/lib*.so*; do
        owner=$(dpkg -S "*/$(basename "$lib")" 2>/dev/null | head -n 1 | cut -d: -f1) || true
        [ -n "$owner" ] && excluded+=("-x$owner")
    done
    printf 'Source: mailroom\n\nPackage: mailroom\nArchitecture: any\n' >"$pkgroot/debian/control"
    (cd "$pkgroot" && dpkg-shlibdeps -O "${excluded[@]}" "${elf[@]}" 2>/dev/null) >"$pkgroot/substvars"
    local depends
    depends=$(sed -n 's/^shlibs:Depends=//p' "$pkgroot/substvars")
    [ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies"

    cat >"$stage/DEBIAN/control" <<EOF
Package: mailroom
Version: $debversion
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Recommends: gnome-keyring | keepassxc | kwalletmanager
Section: mail
Priority: optional
Description: files client email, opens tasks and sends auto-replies
 Mailroom reads POP3 mailboxes, files every client email against the
 client, opens a task for the right person when a new conversation
 starts, and answers it with an auto-reply. Passwords are kept in the
 desktop's keyring (Secret Service).
 .
 This package holds a self-contained build of Mailroom, with Python and
 its libraries, in /opt/mailroom.
EOF
    (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
        | xargs -0 md5sum) >"$pkgroot/md5sums"
    install -m 644 "$pkgroot/md5sums" "$stage/DEBIAN/md5sums"

    mkdir -p "$DIST"
    out=$DIST/mailroom_${debversion}_${arch}.deb
    rm -f "$out"
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
    step_done "$(size_of "$out") in $out"

    step_start "lintian"
    lintian --fail-on error,warning "$out" || die "lintian reported errors or warnings on $out"
    step_done
}

# ---------------------------------------------------------------- Windows installer
nsis() {
    need makensis nsis
    step_start "NSIS installer"
    local version standin out
    version=$(version)
    icons
    # Stand-in for PyInstaller's Windows output (installer/mailroom.spec): same names
    # and layout, placeholder contents. On Windows, pass the real folder instead.
    standin=$BUILD/nsis-standin
    rm -rf "$standin"
    mkdir -p "$standin/_internal/mailroom/store/migrations" "$standin/_internal/static"
    local stub
    for stub in Mailroom.exe mailroom-cli.exe _internal/python311.dll _internal/base_library.zip; do
        printf 'stand-in for %s of a Windows build of Mailroom %s\n' "$stub" "$version" >"$standin/$stub"
    done
    cp -r mailroom/store/migrations/. "$standin/_internal/mailroom/store/migrations/"
    find "$standin" -name __pycache__ -prune -exec rm -rf {} +
    mkdir -p "$DIST"
    out=$DIST/Mailroom-Setup-$version.exe
    makensis -WX -V2 -DVERSION="$version" -DSOURCE_DIR="$ROOT/$standin" -DICON="$ROOT/$BUILD/icons/mailroom.ico" \
        -DOUTFILE="$ROOT/$out" installer/windows/mailroom.nsi >"$BUILD/makensis.log" 2>&1 \
        || { cat "$BUILD/makensis.log" >&2; die "makensis failed (log: $BUILD/makensis.log)"; }
    step_done "$(size_of "$out") in $out"
}

case $TARGET in
    bundle) venv; bundle ;;
    deb) venv; bundle; deb ;;
    nsis) venv; nsis ;;
    all) venv; bundle; deb; nsis ;;
    *) die "usage: bash installer/build.sh [bundle|deb|nsis|all]" ;;
esac
