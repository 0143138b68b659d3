#!/usr/bin/env bash
# tests/lab/files-repo.sh [OUTDIR]: an offline files repository at upstream paths, as an
# air-gapped site keeps one, for the lab's end-to-end tests.
#   REAL binaries from Debian bookworm's packages, repacked into the upstream archive
#   layouts: etcd + etcdctl (etcd-server, etcd-client), containerd + ctr + shim
#   (containerd), runc, the CNI plugins (containernetworking-plugins).
#   STAND-INS, because no registry reachable here ships them: kubeadm, kubelet, kubectl,
#   nerdctl, crictl, cilium-cli. Each is a small script that says so and fails for any
#   real work, so nothing can mistake it for the tool.
# Writes OUTDIR/lab-vars.yml: files_repo, the versions, and artifact_checksums for every
# file built. Idempotent: archives are reproducible (same bytes, same sha256).
# Upgrade set (for day-2 upgrade tests), from Debian sid's packages (tests/lab/sid-debs.sh;
# never installed here): etcd 3.5 (etcd, etcdctl, etcdutl), containerd 2.1 (bin/...), and
# the REAL kubectl 1.36 at the upstream kubectl path under its own version name
# (1.36.4+ds: Debian's build, whose checksum is not upstream's). Stand-ins for kubeadm,
# kubelet and kubectl under a newer stand-in kube version. Writes OUTDIR/lab-vars-upgrade.yml
# (a complete vars file: the upgrade targets plus the unchanged runc, CNI, nerdctl, crictl,
# cilium-cli). KF_LAB_SID=0 skips the upgrade set; if sid cannot be fetched it is skipped
# with a warning (KF_LAB_SID_REQUIRED=1 makes that an error).
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
OUT=${1:-/var/cache/kubeforge-lab/files}
DEBS=${KF_LAB_DEBS:-/var/cache/kubeforge-lab/debs}
ARCH=amd64
# Stand-ins get their own version names: kubeforge refuses a pinned version with another
# checksum, and a stand-in must never pass for the real release.
KUBE_VERSION=${KF_LAB_KUBE_VERSION:-1.36.4-standin}
NERDCTL_VERSION=${KF_LAB_NERDCTL_VERSION:-2.3.0-standin}
CRICTL_VERSION=${KF_LAB_CRICTL_VERSION:-1.36.0-standin}
CILIUM_CLI_VERSION=${KF_LAB_CILIUM_CLI_VERSION:-0.19.7-standin}
# Upgrade set: sid .debs, and the stand-in kube version upgraded to.
SID=${KF_LAB_SID:-1}
SID_DEBS=${KF_LAB_SID_DEBS:-/var/cache/kubeforge-lab/sid-debs}
KUBE_UPGRADE_VERSION=${KF_LAB_KUBE_UPGRADE_VERSION:-1.36.5-standin}
log() { printf '[files-repo] %s\n' "$*" >&2; }

mkdir -p "$OUT" "$DEBS"
# One build at a time per OUTDIR (tests may run this concurrently): the next one waits, then
# finds everything up to date.
exec 8>"$OUT/.files-repo.lock"
flock 8
fetch_debs() {
    local missing=()
    for p in etcd-server etcd-client containerd runc containernetworking-plugins; do
        compgen -G "$DEBS/${p}_*.deb" >/dev/null || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "downloading ${missing[*]}"
    (cd "$DEBS" && apt-get download "${missing[@]}" >/dev/null 2>&1) ||
        { apt-get update -q >/dev/null && (cd "$DEBS" && apt-get download "${missing[@]}" >/dev/null); }
}
fetch_debs
if [ "$SID" = 1 ]; then
    if ! KF_LAB_SID_DEBS=$SID_DEBS bash "$(dirname "$0")/sid-debs.sh" etcd-server etcd-client containerd kubectl >/dev/null; then
        [ "${KF_LAB_SID_REQUIRED:-0}" = 1 ] && { log "sid .debs unavailable (KF_LAB_SID_REQUIRED=1)"; exit 1; }
        log "WARNING: sid .debs unavailable: the upgrade set (lab-vars-upgrade.yml) is not built"
        SID=0
    fi
fi

# Already built from these packages by this very script: nothing to do. The vars files carry
# the script's checksum, so a repository built by another version of this script (another
# checkout on the same machine shares the cache) is rebuilt, whatever the files' times.
STAMP="# files-repo.sh $(sha256sum "$0" | cut -c1-16)"
built() { # VARSFILE DEBDIR
    [ -s "$OUT/$1" ] && grep -qxF "$STAMP" "$OUT/$1" &&
        [ -z "$(find "$2" -maxdepth 1 -name '*.deb' -newer "$OUT/$1" | head -1)" ]
}
if built lab-vars.yml "$DEBS" && { [ "$SID" = 0 ] || built lab-vars-upgrade.yml "$SID_DEBS"; }; then
    log "up to date: $OUT"
    exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
unpack() { # PACKAGE [DEBDIR] -> dir
    local dir=${2:-$DEBS} d
    d="$WORK/unpacked-$(printf %s "$dir" | md5sum | cut -c1-8)/$1"
    mkdir -p "$d"
    dpkg-deb -x "$(compgen -G "$dir/${1}_*.deb" | head -1)" "$d"
    printf '%s\n' "$d"
}
upver() { # PACKAGE [DEBDIR] -> upstream-style version (3.4.23-4+b4 -> 3.4.23, 1.6.20~ds1-1 -> 1.6.20)
    dpkg-deb -f "$(compgen -G "${2:-$DEBS}/${1}_*.deb" | head -1)" Version | sed -E 's/^[0-9]+://; s/[~+-].*$//'
}
# A reproducible tar.gz of DIR's entries (paths relative to DIR).
pack() { # OUTFILE DIR ENTRY...
    local out=$1 dir=$2; shift 2
    mkdir -p "$(dirname "$out")"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf - "$@" | gzip -n -9 > "$out.tmp.$$"
    mv -f "$out.tmp.$$" "$out"
}
put_bin() { # OUTFILE SRC
    mkdir -p "$(dirname "$1")"
    install -m 0755 "$2" "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}
stand_in() { # NAME VERSION OUTFILE
    mkdir -p "$(dirname "$3")"
    cat > "$3" <<EOS
#!/bin/sh
# kubeforge lab stand-in for $1 $2 (not the real binary).
case "\$*" in
  *version*) echo "kubeforge lab stand-in for $1 $2 (not the real binary)"; exit 0;;
  *) echo "kubeforge lab stand-in for $1 $2: cannot '\$*' (not the real binary)" >&2; exit 3;;
esac
EOS
    chmod 0755 "$3"
    touch -d @0 "$3"
}

ETCD_V=$(upver etcd-server)
CONTAINERD_V=$(upver containerd)
RUNC_V=$(upver runc)
CNI_V=$(upver containernetworking-plugins)

# etcd: etcd-vV-linux-ARCH.tar.gz holding etcd-vV-linux-ARCH/{etcd,etcdctl}
e=$(unpack etcd-server); c=$(unpack etcd-client)
d="$WORK/etcd-v$ETCD_V-linux-$ARCH"; mkdir -p "$d"
install -m 0755 "$e/usr/bin/etcd" "$d/etcd"; install -m 0755 "$c/usr/bin/etcdctl" "$d/etcdctl"
touch -d @0 "$d" "$d"/*
ETCD_F="github.com/etcd-io/etcd/releases/download/v$ETCD_V/etcd-v$ETCD_V-linux-$ARCH.tar.gz"
pack "$OUT/$ETCD_F" "$WORK" "etcd-v$ETCD_V-linux-$ARCH"

# containerd: containerd-V-linux-ARCH.tar.gz holding bin/{containerd,containerd-shim-runc-v2,ctr}
k=$(unpack containerd)
d="$WORK/ctd/bin"; mkdir -p "$d"
for b in containerd containerd-shim-runc-v2 ctr; do install -m 0755 "$k/usr/bin/$b" "$d/$b"; done
touch -d @0 "$d" "$d"/*
CONTAINERD_F="github.com/containerd/containerd/releases/download/v$CONTAINERD_V/containerd-$CONTAINERD_V-linux-$ARCH.tar.gz"
pack "$OUT/$CONTAINERD_F" "$WORK/ctd" bin

# runc: a bare binary runc.ARCH
r=$(unpack runc)
RUNC_F="github.com/opencontainers/runc/releases/download/v$RUNC_V/runc.$ARCH"
put_bin "$OUT/$RUNC_F" "$r/usr/sbin/runc"

# CNI plugins: cni-plugins-linux-ARCH-vV.tgz, flat
n=$(unpack containernetworking-plugins)
d="$WORK/cni"; mkdir -p "$d"
cp "$n"/usr/lib/cni/* "$d/"; chmod 0755 "$d"/*; touch -d @0 "$d"/*
CNI_F="github.com/containernetworking/plugins/releases/download/v$CNI_V/cni-plugins-linux-$ARCH-v$CNI_V.tgz"
(cd "$d" && pack "$OUT/$CNI_F" "$d" $(ls))

# Stand-ins.
for b in kubeadm kubelet kubectl; do
    stand_in "$b" "$KUBE_VERSION" "$OUT/dl.k8s.io/release/v$KUBE_VERSION/bin/linux/$ARCH/$b"
done
d="$WORK/si"; mkdir -p "$d"
stand_in nerdctl "$NERDCTL_VERSION" "$d/nerdctl"
NERDCTL_F="github.com/containerd/nerdctl/releases/download/v$NERDCTL_VERSION/nerdctl-$NERDCTL_VERSION-linux-$ARCH.tar.gz"
pack "$OUT/$NERDCTL_F" "$d" nerdctl
stand_in crictl "$CRICTL_VERSION" "$d/crictl"
CRICTL_F="github.com/kubernetes-sigs/cri-tools/releases/download/v$CRICTL_VERSION/crictl-v$CRICTL_VERSION-linux-$ARCH.tar.gz"
pack "$OUT/$CRICTL_F" "$d" crictl
stand_in cilium-cli "$CILIUM_CLI_VERSION" "$d/cilium"
CILIUM_F="github.com/cilium/cilium-cli/releases/download/v$CILIUM_CLI_VERSION/cilium-linux-$ARCH.tar.gz"
pack "$OUT/$CILIUM_F" "$d" cilium

sha() { sha256sum "$OUT/$1" | cut -d' ' -f1; }
# What this files-only lab cannot have: no registry serves images here (the images test,
# tests/lab_images.rs, starts its own and sets download_container: true), and the lab's
# kernel has no ip_vs (kube-proxy's ipvs mode needs it).
lab_settings() {
    echo "download_container: false"
    echo "kube_proxy_mode: iptables"
    # This machine (and so every host) runs cgroup v1.
    echo "kubelet_fail_cgroup_v1: false"
    # Nothing here has CAP_SYS_RESOURCE: pod sandboxes cannot get a negative OOM score.
    echo "containerd_restrict_oom_score_adj: true"
    # nf_conntrack_max is this machine's (read-only inside hosts).
    echo "kube_proxy_conntrack_max_per_core: 0"
    # No CAP_SYS_RESOURCE here, no CAP_SYS_MODULE in the hosts (preinstall checks them).
    echo "cilium_capabilities_drop: [SYS_MODULE, SYS_RESOURCE]"
}
{
    echo "# Written by tests/lab/files-repo.sh. Real: etcd, containerd, runc, cni_plugins (Debian"
    echo "# bookworm packages repacked). Stand-ins: kubeadm, kubelet, kubectl, nerdctl, crictl, cilium_cli."
    echo "$STAMP"
    echo "files_repo: http://10.213.0.1:8080"
    lab_settings
    echo "etcd_version: \"$ETCD_V\""
    echo "containerd_version: \"$CONTAINERD_V\""
    echo "runc_version: \"$RUNC_V\""
    echo "cni_version: \"$CNI_V\""
    echo "kube_version: \"$KUBE_VERSION\""
    echo "nerdctl_version: \"$NERDCTL_VERSION\""
    echo "crictl_version: \"$CRICTL_VERSION\""
    echo "cilium_cli_version: \"$CILIUM_CLI_VERSION\""
    echo "artifact_checksums:"
    echo "  etcd: {\"$ETCD_V\": {amd64: $(sha "$ETCD_F")}}"
    echo "  containerd: {\"$CONTAINERD_V\": {amd64: $(sha "$CONTAINERD_F")}}"
    echo "  runc: {\"$RUNC_V\": {amd64: $(sha "$RUNC_F")}}"
    echo "  cni_plugins: {\"$CNI_V\": {amd64: $(sha "$CNI_F")}}"
    for b in kubeadm kubelet kubectl; do
        echo "  $b: {\"$KUBE_VERSION\": {amd64: $(sha "dl.k8s.io/release/v$KUBE_VERSION/bin/linux/$ARCH/$b")}}"
    done
    echo "  nerdctl: {\"$NERDCTL_VERSION\": {amd64: $(sha "$NERDCTL_F")}}"
    echo "  crictl: {\"$CRICTL_VERSION\": {amd64: $(sha "$CRICTL_F")}}"
    echo "  cilium_cli: {\"$CILIUM_CLI_VERSION\": {amd64: $(sha "$CILIUM_F")}}"
} > "$OUT/lab-vars.yml.tmp.$$"
mv -f "$OUT/lab-vars.yml.tmp.$$" "$OUT/lab-vars.yml"
log "etcd $ETCD_V, containerd $CONTAINERD_V, runc $RUNC_V, cni $CNI_V (real); kube $KUBE_VERSION, nerdctl, crictl, cilium-cli (stand-ins) in $OUT"

[ "$SID" = 1 ] || exit 0

# ---- upgrade set: Debian sid's etcd, containerd and kubectl -------------------------------
SETCD_V=$(upver etcd-server "$SID_DEBS")
SCONTAINERD_V=$(upver containerd "$SID_DEBS")
# kubectl keeps Debian's upstream version (1.36.4+ds-1 -> 1.36.4+ds): it is Debian's build of
# 1.36.4, not the upstream release file, and kubeforge refuses a pinned version (1.36.4)
# with another checksum.
SKUBECTL_V=$(dpkg-deb -f "$(compgen -G "$SID_DEBS/kubectl_*.deb" | head -1)" Version | sed -E 's/^[0-9]+://; s/-[^-]*$//')

# etcd: etcd-vV-linux-ARCH.tar.gz holding etcd-vV-linux-ARCH/{etcd,etcdctl,etcdutl}
e=$(unpack etcd-server "$SID_DEBS"); c=$(unpack etcd-client "$SID_DEBS")
d="$WORK/sid-etcd/etcd-v$SETCD_V-linux-$ARCH"; mkdir -p "$d"
install -m 0755 "$e/usr/bin/etcd" "$d/etcd"; install -m 0755 "$c/usr/bin/etcdctl" "$d/etcdctl"
[ -e "$e/usr/bin/etcdutl" ] && install -m 0755 "$e/usr/bin/etcdutl" "$d/etcdutl"
touch -d @0 "$d" "$d"/*
SETCD_F="github.com/etcd-io/etcd/releases/download/v$SETCD_V/etcd-v$SETCD_V-linux-$ARCH.tar.gz"
pack "$OUT/$SETCD_F" "$WORK/sid-etcd" "etcd-v$SETCD_V-linux-$ARCH"

# containerd: containerd-V-linux-ARCH.tar.gz holding bin/{containerd,containerd-shim-runc-v2,ctr}
k=$(unpack containerd "$SID_DEBS")
d="$WORK/sid-ctd/bin"; mkdir -p "$d"
for b in containerd containerd-shim-runc-v2 ctr; do install -m 0755 "$k/usr/bin/$b" "$d/$b"; done
touch -d @0 "$d" "$d"/*
SCONTAINERD_F="github.com/containerd/containerd/releases/download/v$SCONTAINERD_V/containerd-$SCONTAINERD_V-linux-$ARCH.tar.gz"
pack "$OUT/$SCONTAINERD_F" "$WORK/sid-ctd" bin

# kubectl: the real binary at the upstream kubectl path
k=$(unpack kubectl "$SID_DEBS")
SKUBECTL_F="dl.k8s.io/release/v$SKUBECTL_V/bin/linux/$ARCH/kubectl"
put_bin "$OUT/$SKUBECTL_F" "$k/usr/bin/kubectl"
"$OUT/$SKUBECTL_F" version --client >/dev/null 2>&1 || { log "the sid kubectl does not run here"; exit 1; }

# Stand-ins for the kube version upgraded to (kubectl too: kube_version names it for a
# kubeforge without a kubectl_version variable).
for b in kubeadm kubelet kubectl; do
    stand_in "$b" "$KUBE_UPGRADE_VERSION" "$OUT/dl.k8s.io/release/v$KUBE_UPGRADE_VERSION/bin/linux/$ARCH/$b"
done

{
    echo "# Written by tests/lab/files-repo.sh: the upgrade targets from lab-vars.yml. Real: etcd and"
    echo "# containerd (Debian sid packages repacked), runc and cni_plugins (bookworm, unchanged: sid's"
    echo "# runc needs glibc 2.38), and kubectl $SKUBECTL_V (Debian sid's build of kubectl, see"
    echo "# kubectl_version). Stand-ins: kubeadm, kubelet and kubectl at kube_version, nerdctl, crictl,"
    echo "# cilium_cli. kube_version names kubeadm, kubelet AND kubectl in Kubespray; kubectl_version is"
    echo "# read only by a kubeforge that gives kubectl its own version variable."
    echo "$STAMP"
    echo "files_repo: http://10.213.0.1:8080"
    lab_settings
    echo "etcd_version: \"$SETCD_V\""
    echo "containerd_version: \"$SCONTAINERD_V\""
    echo "runc_version: \"$RUNC_V\""
    echo "cni_version: \"$CNI_V\""
    echo "kube_version: \"$KUBE_UPGRADE_VERSION\""
    echo "kubectl_version: \"$SKUBECTL_V\""
    echo "nerdctl_version: \"$NERDCTL_VERSION\""
    echo "crictl_version: \"$CRICTL_VERSION\""
    echo "cilium_cli_version: \"$CILIUM_CLI_VERSION\""
    echo "artifact_checksums:"
    echo "  etcd: {\"$SETCD_V\": {amd64: $(sha "$SETCD_F")}}"
    echo "  containerd: {\"$SCONTAINERD_V\": {amd64: $(sha "$SCONTAINERD_F")}}"
    echo "  runc: {\"$RUNC_V\": {amd64: $(sha "$RUNC_F")}}"
    echo "  cni_plugins: {\"$CNI_V\": {amd64: $(sha "$CNI_F")}}"
    for b in kubeadm kubelet; do
        echo "  $b: {\"$KUBE_UPGRADE_VERSION\": {amd64: $(sha "dl.k8s.io/release/v$KUBE_UPGRADE_VERSION/bin/linux/$ARCH/$b")}}"
    done
    echo "  kubectl: {\"$KUBE_UPGRADE_VERSION\": {amd64: $(sha "dl.k8s.io/release/v$KUBE_UPGRADE_VERSION/bin/linux/$ARCH/kubectl")}, \"$SKUBECTL_V\": {amd64: $(sha "$SKUBECTL_F")}}"
    echo "  nerdctl: {\"$NERDCTL_VERSION\": {amd64: $(sha "$NERDCTL_F")}}"
    echo "  crictl: {\"$CRICTL_VERSION\": {amd64: $(sha "$CRICTL_F")}}"
    echo "  cilium_cli: {\"$CILIUM_CLI_VERSION\": {amd64: $(sha "$CILIUM_F")}}"
} > "$OUT/lab-vars-upgrade.yml.tmp.$$"
mv -f "$OUT/lab-vars-upgrade.yml.tmp.$$" "$OUT/lab-vars-upgrade.yml"
log "upgrade set: etcd $SETCD_V, containerd $SCONTAINERD_V, kubectl $SKUBECTL_V (real, Debian sid); kube $KUBE_UPGRADE_VERSION (stand-ins) in $OUT/lab-vars-upgrade.yml"
