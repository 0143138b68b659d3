#!/usr/bin/env bash
# tests/lab/sid-debs.sh [PACKAGE...]: fetch Debian sid .debs for the lab's upgrade tests,
# WITHOUT installing anything from sid on this machine.
#   Default packages: etcd-server etcd-client (etcd 3.5.x), containerd (2.1.x), kubectl
#   (1.36.x, the real client). They run on the lab's Debian 12 hosts (glibc 2.36): etcd,
#   containerd and kubectl need glibc >= 2.34. (sid's runc needs glibc 2.38: not fetched.)
# How: `apt-get update` + `apt-get download` with a sources list, a lists dir and an empty
# dpkg status of its own (-o Dir::Etc::sourcelist=FILE -o Dir::Etc::sourceparts=-
# -o Dir::State::Lists=DIR -o Dir::State::status=FILE). This machine's apt lists, sources
# and dpkg database are neither read nor written (the empty status also keeps a package
# installed here, such as a non-Debian kubectl, from shadowing sid's candidate).
# Cache: /var/cache/kubeforge-lab/sid-debs (KF_LAB_SID_DEBS); apt's own state in
# CACHE/.apt. Idempotent: a package with a .deb in the cache is not fetched again (no
# network at all when all are there); KF_LAB_SID_REFRESH=1 updates the lists and fetches
# the current sid versions (older .debs of the same package are removed).
# Writes CACHE/versions.txt ("package version file sha256" for every cached .deb) and prints
# the lines of the packages asked for on stdout; progress goes to stderr. Never prompts; stdin is closed.
# Env: KF_LAB_SID_DEBS, KF_LAB_SID_MIRROR (default: the mirror this machine's apt uses for
# bookworm, KF_LAB_MIRROR if set), KF_LAB_SID_SUITE (default sid), KF_LAB_SID_REFRESH.
set -euo pipefail
exec </dev/null
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/lib.sh"

CACHE=${KF_LAB_SID_DEBS:-/var/cache/kubeforge-lab/sid-debs}
SUITE=${KF_LAB_SID_SUITE:-sid}
PKGS=("$@")
((${#PKGS[@]})) || PKGS=(etcd-server etcd-client containerd kubectl)
say() { printf '[sid-debs] %s\n' "$*" >&2; }

mkdir -p "$CACHE/.apt/lists/partial"
exec 9>"$CACHE/.apt/lock.flock"
flock 9 # one fetcher at a time per cache

APTDIR=$CACHE/.apt
SOURCES=$APTDIR/sid.sources
MIRROR=${KF_LAB_SID_MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
cat >"$SOURCES.tmp" <<EOF
# Written by tests/lab/sid-debs.sh: used only through -o Dir::Etc::sourcelist, never
# placed under /etc/apt.
Types: deb
URIs: $MIRROR
Suites: $SUITE
Components: main
Architectures: amd64
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
if cmp -s "$SOURCES.tmp" "$SOURCES"; then rm -f "$SOURCES.tmp"; else mv -f "$SOURCES.tmp" "$SOURCES"; fi
: >>"$APTDIR/status"
APT_OPTS=(
    -o "Dir::Etc::sourcelist=$SOURCES"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::State::status=$APTDIR/status"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    -o "APT::Architectures=amd64"
    -o "Acquire::Languages=none"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "APT::Sandbox::User=root"
    -q
)

have() { compgen -G "$CACHE/${1}_*.deb" >/dev/null; }
missing=()
for p in "${PKGS[@]}"; do
    if [ "${KF_LAB_SID_REFRESH:-0}" = 1 ] || ! have "$p"; then missing+=("$p"); fi
done

if ((${#missing[@]})); then
    lists_age=$(($(date +%s) - $(stat -c %Y "$APTDIR/lists/lock" 2>/dev/null || echo 0)))
    if [ "${KF_LAB_SID_REFRESH:-0}" = 1 ] || ! compgen -G "$APTDIR/lists/*_Packages*" >/dev/null || ((lists_age > 86400)); then
        say "apt-get update ($MIRROR $SUITE) into $APTDIR/lists"
        apt-get "${APT_OPTS[@]}" update >"$APTDIR/update.log" 2>&1 ||
            { cat "$APTDIR/update.log" >&2; say "apt-get update failed"; exit 1; }
        touch "$APTDIR/lists/lock"
    fi
    tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    want=()
    for p in "${missing[@]}"; do
        v=$(apt-cache "${APT_OPTS[@]}" policy "$p" | awk '$1 == "Candidate:" { print $2 }')
        [ -n "$v" ] && [ "$v" != "(none)" ] || { say "$p: not in $SUITE"; exit 1; }
        want+=("$p=$v")
    done
    say "apt-get download ${want[*]}"
    (cd "$tmp" && apt-get "${APT_OPTS[@]}" download "${want[@]}") >"$APTDIR/download.log" 2>&1 ||
        { cat "$APTDIR/download.log" >&2; say "apt-get download failed"; exit 1; }
    for p in "${missing[@]}"; do
        f=$(compgen -G "$tmp/${p}_*.deb" | head -1) || { say "$p: no .deb downloaded"; exit 1; }
        [ "$(dpkg-deb -f "$f" Package)" = "$p" ] || { say "$f is not $p"; exit 1; }
        for old in "$CACHE/${p}"_*.deb; do
            [ -e "$old" ] && [ "${old##*/}" != "${f##*/}" ] && rm -f "$old"
        done
        mv -f "$f" "$CACHE/"
    done
fi

line() { # DEB -> "package version file sha256"
    printf '%s %s %s %s\n' "$(dpkg-deb -f "$1" Package)" "$(dpkg-deb -f "$1" Version)" "$1" "$(sha256sum "$1" | cut -d' ' -f1)"
}
for f in "$CACHE"/*.deb; do [ -e "$f" ] && line "$f"; done >"$CACHE/versions.txt.tmp"
mv -f "$CACHE/versions.txt.tmp" "$CACHE/versions.txt"
for p in "${PKGS[@]}"; do awk -v p="$p" '$1 == p' "$CACHE/versions.txt"; done
