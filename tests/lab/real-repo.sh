#!/usr/bin/env bash
# tests/lab/real-repo.sh [OUTDIR]: the lab's files repository of REAL programs, built from
# their Go modules by tests/lab/go-build.sh (pinned, cached), packed at upstream paths in
# the upstream archive layouts, as an air-gapped site keeps them:
#   etcd-vV-linux-amd64.tar.gz (etcd, etcdctl, etcdutl), containerd-V-linux-amd64.tar.gz
#   (bin/containerd, ctr, containerd-shim-runc-v2), runc.amd64, cni-plugins-linux-amd64-vV.tgz,
#   dl.k8s.io/release/vV/bin/linux/amd64/{kubeadm,kubelet,kubectl},
#   crictl-vV-linux-amd64.tar.gz, nerdctl-V-linux-amd64.tar.gz.
#   get.helm.sh/helm-vV-linux-amd64.tar.gz (linux-amd64/helm), and Cilium's Helm chart from
#   its module (install/kubernetes/cilium) as helm.cilium.io/cilium-V.tgz with an index.yaml
#   of relative URLs (the hosts fetch the chart from this mirror).
# Not cilium-cli: it cannot be built from the module proxy this machine reaches (its
# module needs a pseudo-version of github.com/cilium/cilium the proxy refuses), so the lab
# installs Cilium with cilium_install_method: helm.
# Default OUTDIR /var/cache/kubeforge-lab/files/real (served by files-server.sh as
# http://10.213.0.1:8080/real). Writes OUTDIR/lab-vars.yml: files_repo, the versions, the
# checksums of these files, and artifacts_built_locally (these are our own builds of the
# upstream versions, so their checksums replace kubeforge's pins for upstream's files).
# KF_LAB_SET=default (the versions kubeforge installs by default) or old (the versions
# the upgrade tests install first: Kubernetes 1.35, etcd 3.5, containerd 2.1), written to
# lab-vars.yml / lab-vars-old.yml. Idempotent: archives are reproducible.
set -euo pipefail
exec </dev/null
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-/var/cache/kubeforge-lab/files/real}
SET=${KF_LAB_SET:-default}
ARCH=amd64
log() { printf '[real-repo] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case $SET in
default)
    KUBE=1.36.4 ETCD=3.6.14 CONTAINERD=2.3.4 VARS=lab-vars.yml ;;
old)
    KUBE=1.35.8 ETCD=3.5.36 CONTAINERD=2.1.9 VARS=lab-vars-old.yml ;;
*) die "KF_LAB_SET is default or old, not '$SET'" ;;
esac
RUNC=1.4.3 CNI=1.9.1 CRICTL=1.36.0 NERDCTL=2.3.1 HELM=3.18.4 CILIUM=1.20.1

mkdir -p "$OUT"
exec 8>"$OUT/.real-repo.lock"
flock 8

# Build (or find cached) each component; go-build.sh prints "<id>\t<dir>".
declare -A DIR
want=(kubernetes-$KUBE etcd-$ETCD containerd-$CONTAINERD runc-$RUNC cni-plugins-$CNI
      crictl-$CRICTL nerdctl-$NERDCTL helm-$HELM)
while IFS=$'\t' read -r id dir; do DIR[$id]=$dir; done < <("$HERE/go-build.sh" "${want[@]}")
for c in "${want[@]}"; do
    [ -n "${DIR[$c]:-}" ] && [ -d "${DIR[$c]}/bin" ] || die "go-build.sh gave no binaries for $c"
done
bin() { printf '%s/bin/%s' "${DIR[$1]}" "$2"; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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
stage() { # SUBDIR SRC... -> copies into $WORK/SUBDIR with fixed times
    local d="$WORK/$1"; shift
    mkdir -p "$d"
    install -m 0755 "$@" "$d/"
    touch -d @0 "$d" "$d"/*
}

E=etcd-v$ETCD-linux-$ARCH
stage "$E" "$(bin etcd-$ETCD etcd)" "$(bin etcd-$ETCD etcdctl)" "$(bin etcd-$ETCD etcdutl)"
ETCD_F=github.com/etcd-io/etcd/releases/download/v$ETCD/$E.tar.gz
pack "$OUT/$ETCD_F" "$WORK" "$E"

stage ctd/bin "$(bin containerd-$CONTAINERD containerd)" "$(bin containerd-$CONTAINERD ctr)" \
    "$(bin containerd-$CONTAINERD containerd-shim-runc-v2)"
CONTAINERD_F=github.com/containerd/containerd/releases/download/v$CONTAINERD/containerd-$CONTAINERD-linux-$ARCH.tar.gz
pack "$OUT/$CONTAINERD_F" "$WORK/ctd" bin

RUNC_F=github.com/opencontainers/runc/releases/download/v$RUNC/runc.$ARCH
put_bin "$OUT/$RUNC_F" "$(bin runc-$RUNC runc)"

mapfile -t plugins < <(ls "${DIR[cni-plugins-$CNI]}/bin")
stage cni "${plugins[@]/#/${DIR[cni-plugins-$CNI]}/bin/}"
CNI_F=github.com/containernetworking/plugins/releases/download/v$CNI/cni-plugins-linux-$ARCH-v$CNI.tgz
pack "$OUT/$CNI_F" "$WORK/cni" "${plugins[@]}"

for b in kubeadm kubelet kubectl; do
    put_bin "$OUT/dl.k8s.io/release/v$KUBE/bin/linux/$ARCH/$b" "$(bin kubernetes-$KUBE $b)"
done

stage crictl "$(bin crictl-$CRICTL crictl)"
CRICTL_F=github.com/kubernetes-sigs/cri-tools/releases/download/v$CRICTL/crictl-v$CRICTL-linux-$ARCH.tar.gz
pack "$OUT/$CRICTL_F" "$WORK/crictl" crictl

stage nerdctl "$(bin nerdctl-$NERDCTL nerdctl)"
NERDCTL_F=github.com/containerd/nerdctl/releases/download/v$NERDCTL/nerdctl-$NERDCTL-linux-$ARCH.tar.gz
pack "$OUT/$NERDCTL_F" "$WORK/nerdctl" nerdctl

stage helm/linux-$ARCH "$(bin helm-$HELM helm)"
HELM_F=get.helm.sh/helm-v$HELM-linux-$ARCH.tar.gz
pack "$OUT/$HELM_F" "$WORK/helm" linux-$ARCH

# The chart as upstream packs it: cilium/ at the top of the archive.
CHART_SRC=${KF_LAB_CACHE:-/var/cache/kubeforge-lab}/go/mod/github.com/cilium/cilium@v$CILIUM/install/kubernetes/cilium
[ -f "$CHART_SRC/Chart.yaml" ] || "$HERE/go-build.sh" cilium-$CILIUM > /dev/null
[ -f "$CHART_SRC/Chart.yaml" ] || die "no Cilium chart at $CHART_SRC"
grep -qx "version: $CILIUM" "$CHART_SRC/Chart.yaml" || die "$CHART_SRC/Chart.yaml is not version $CILIUM"
mkdir -p "$WORK/chart"
cp -r "$CHART_SRC" "$WORK/chart/cilium"
chmod -R u+w,go-w,a+rX "$WORK/chart"
find "$WORK/chart" -exec touch -h -d @0 {} +
mkdir -p "$OUT/helm.cilium.io"
pack "$OUT/helm.cilium.io/cilium-$CILIUM.tgz" "$WORK/chart" cilium
# index.yaml with relative URLs: helm resolves them against the repository URL it was given.
"$(bin helm-$HELM helm)" repo index "$OUT/helm.cilium.io" >&2

sha() { sha256sum "$OUT/$1" | cut -d' ' -f1; }
{
    echo "# Written by tests/lab/real-repo.sh ($SET set): REAL programs built from their Go"
    echo "# modules by tests/lab/go-build.sh, at upstream paths. Our builds, not upstream's files:"
    echo "# artifacts_built_locally lets their checksums replace kubeforge's pins."
    echo "files_repo: http://10.213.0.1:8080/$(basename "$OUT")"
    echo "# This machine (and so every lab host) runs cgroup v1."
    echo "kubelet_fail_cgroup_v1: false"
    # Nothing here has CAP_SYS_RESOURCE: pod sandboxes cannot get a negative OOM score.
    echo "containerd_restrict_oom_score_adj: true"
    # ... nor CAP_SYS_MODULE (the lab's nspawn drops it): Cilium's pods run without both.
    echo "cilium_capabilities_drop: [SYS_MODULE, SYS_RESOURCE]"
    # The lab hosts share this machine's disk, often more than 90 % full (other builds'
    # caches): the kubelet's default nodefs/imagefs thresholds (10 %, 15 %) would taint
    # every node with disk-pressure and evict its pods.
    echo "eviction_hard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}"
    # nf_conntrack_max is this machine's (read-only inside hosts).
    echo "kube_proxy_conntrack_max_per_core: 0"
    echo "kube_version: \"$KUBE\""
    echo "etcd_version: \"$ETCD\""
    echo "containerd_version: \"$CONTAINERD\""
    echo "runc_version: \"$RUNC\""
    echo "cni_version: \"$CNI\""
    echo "crictl_version: \"$CRICTL\""
    echo "nerdctl_version: \"$NERDCTL\""
    echo "helm_version: \"$HELM\""
    echo "cilium_version: \"$CILIUM\""
    echo "# cilium-cli cannot be built here (see tests/lab/real-repo.sh): helm installs the chart."
    echo "cilium_install_method: helm"
    echo "artifacts_built_locally: [etcd, containerd, runc, cni_plugins, kubeadm, kubelet, kubectl, crictl, nerdctl, helm]"
    echo "artifact_checksums:"
    echo "  etcd: {\"$ETCD\": {amd64: $(sha "$ETCD_F")}}"
    echo "  containerd: {\"$CONTAINERD\": {amd64: $(sha "$CONTAINERD_F")}}"
    echo "  runc: {\"$RUNC\": {amd64: $(sha "$RUNC_F")}}"
    echo "  cni_plugins: {\"$CNI\": {amd64: $(sha "$CNI_F")}}"
    for b in kubeadm kubelet kubectl; do
        echo "  $b: {\"$KUBE\": {amd64: $(sha "dl.k8s.io/release/v$KUBE/bin/linux/$ARCH/$b")}}"
    done
    echo "  crictl: {\"$CRICTL\": {amd64: $(sha "$CRICTL_F")}}"
    echo "  nerdctl: {\"$NERDCTL\": {amd64: $(sha "$NERDCTL_F")}}"
    echo "  helm: {\"$HELM\": {amd64: $(sha "$HELM_F")}}"
} > "$OUT/$VARS.tmp.$$"
mv -f "$OUT/$VARS.tmp.$$" "$OUT/$VARS"
log "kubernetes $KUBE, etcd $ETCD, containerd $CONTAINERD, runc $RUNC, cni $CNI, crictl $CRICTL, nerdctl $NERDCTL, helm $HELM, Cilium chart $CILIUM: $OUT/$VARS"
printf '%s\n' "$OUT/$VARS"
