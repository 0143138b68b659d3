#!/usr/bin/env bash
# Builds the REAL programs kubeforge installs, for the lab, from their Go modules
# (through the Go module proxy), each at a pinned version with the build module
# committed under tests/lab/go/<component>-<version>/ (go.mod + go.sum).
#
#   tests/lab/go-build.sh [COMPONENT...]
#
# COMPONENT is an id such as kubernetes-1.36.4 or a bare name (kubernetes: every
# version of it); none = all (see COMPONENTS below; `--list` prints them).
# Output: one line per component on stdout, "<id><TAB><cache dir>"; the binaries
# are in <cache dir>/bin, with <cache dir>/SHA256SUMS and <cache dir>/build-info.
# Cache: ${KF_LAB_CACHE:-/var/cache/kubeforge-lab}/go/<id>-<recipe hash>/ (and a
# symlink go/<id> to the current one). The recipe hash covers the component's build
# module files, its recipe function below, the shared helpers and the Go version:
# an unchanged recipe is not rebuilt, a changed one is.
# Progress goes to stderr. Root is needed only to install missing Debian packages
# (gcc, libseccomp-dev, pkg-config, binutils). Never prompts.
#
# Env: KF_LAB_CACHE; KF_BUILD_LOCK (default /tmp/kf-build.lock: every compile of a
# component runs holding this flock, shared with other builds on the machine);
# KF_LAB_GO_PARALLEL (go build -p, default: go's own); KF_LAB_GO_REBUILD=1 (ignore
# the cache); KF_LAB_GO_VERIFY=1 (check SHA256SUMS of cached components);
# KF_LAB_GOTOOLCHAIN (default local: the machine's go; every module pinned here
# builds with go1.26.8. Set go1.27.3 if a module ever needs a newer Go: the go
# command then fetches that toolchain from the module proxy).
set -euo pipefail
exec </dev/null

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODS=$HERE/go
CACHE=${KF_LAB_CACHE:-/var/cache/kubeforge-lab}
GOC=$CACHE/go
LOCK=${KF_BUILD_LOCK:-/tmp/kf-build.lock}

# In build order: the Kubernetes set and the small components first, then the
# upgrade set for day-2 tests, Cilium last (the largest).
COMPONENTS=(
  kubernetes-1.36.4
  etcd-3.6.14
  containerd-2.3.4
  runc-1.4.3
  cni-plugins-1.9.1
  crictl-1.36.0
  nerdctl-2.3.1
  coredns-1.14.2
  crane-0.22.1
  helm-3.18.4
  agnhost-2.63.0
  kubernetes-1.35.8
  coredns-1.12.4
  etcd-3.5.36
  containerd-2.1.9
  cilium-1.20.1
)

# Go's own caches live in the lab cache, not in the user's home.
export GOMODCACHE=$GOC/mod GOCACHE=$GOC/build GOPATH=$GOC/path
export GOTOOLCHAIN=${KF_LAB_GOTOOLCHAIN:-local}
# No go env file and no inherited GOFLAGS: a GOFLAGS=-mod=mod in the caller's
# environment would let go.mod/go.sum change under the build; the flags that
# matter are given on each command line below.
export GOENV=off GOFLAGS=
export GOOS=linux GOARCH=amd64

log() { printf 'go-build: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# fail ID REASON: this component failed (build_one runs in a subshell: exits it).
fail() { log "ERROR: $1: $2"; echo "$1 ($2)" >> "$FAILLOG"; exit 1; }

# ---------------------------------------------------------------- shared helpers

# gobuild CGO TAGS LDFLAGS PKG...: build main packages into $OUT/bin (named as go
# names them), pinned by the component's go.mod/go.sum (-mod=readonly).
gobuild() {
  local cgo=$1 tags=$2 ldflags=$3; shift 3
  local -a par=()
  [[ -n ${KF_LAB_GO_PARALLEL:-} ]] && par=(-p "$KF_LAB_GO_PARALLEL")
  log "  go build (CGO_ENABLED=$cgo, tags '$tags') ${*##*/}"
  ( cd "$MODDIR" && CGO_ENABLED=$cgo go build "${par[@]}" -mod=readonly -trimpath \
      -buildvcs=false -tags "$tags" -ldflags "$ldflags" -o "$OUT/bin/" "$@" )
}

# modinfo MODULE VERSION FIELD: a field of the module proxy's .info for it
# (Time: the release time, used as the fixed build date; Hash: the git commit,
# served for some modules only).
modinfo() {
  local f="$GOMODCACHE/cache/download/$1/@v/$2.info"
  [[ -f $f ]] || ( cd "$MODDIR" && go mod download "$1@$2" ) >&2
  case $3 in
    Time) sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$f" ;;
    Hash) sed -n 's/.*"Hash":"\([0-9a-f]*\)".*/\1/p' "$f" ;;
  esac
}

# moddir MODULE VERSION: the module's source in the module cache.
moddir() { printf '%s/%s@%s' "$GOMODCACHE" "$1" "$2"; }

need_debs() {
  local -a missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; }
}

# ---------------------------------------------------------------- recipes
# One function per component name: recipe_<name with _ for ->. Called with V (the
# version, without v), MODDIR (the build module) and OUT (where bin/ goes); sets
# MODULE (the upstream module it builds) and builds into $OUT/bin.

recipe_kubernetes() {
  MODULE=k8s.io/kubernetes
  local minor=${V#*.}; minor=${minor%%.*}
  local commit date src p ld=""
  commit=$(modinfo $MODULE "v$V" Hash) date=$(modinfo $MODULE "v$V" Time)
  # hack/lib/version.sh sets these in both packages; kubeadm compares gitVersion.
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld+=" -X '$p.gitVersion=v$V' -X '$p.gitMajor=1' -X '$p.gitMinor=$minor'"
    ld+=" -X '$p.gitCommit=$commit' -X '$p.gitTreeState=clean' -X '$p.buildDate=$date'"
  done
  # hack/lib/golang.sh: -trimpath, -s -w, tags selinux,notest,grpcnotrace; static
  # (CGO_ENABLED=0) except kubelet, which upstream builds with cgo.
  local tags=selinux,notest,grpcnotrace c=k8s.io/kubernetes/cmd
  gobuild 0 $tags "-s -w$ld" $c/kubeadm $c/kubectl $c/kube-apiserver \
    $c/kube-controller-manager $c/kube-scheduler $c/kube-proxy
  gobuild 1 $tags "-s -w$ld" $c/kubelet
  # pause (C) from build/pause in the same source, as build/pause/Makefile does.
  src=$(moddir $MODULE "v$V")/build/pause
  local tag; tag=$(sed -n 's/^TAG ?= *//p' "$src/Makefile")
  log "  gcc -static pause $tag"
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-k8s.io/kubernetes@v$V" \
    -o "$OUT/bin/pause" "$src/linux/pause.c"
  strip "$OUT/bin/pause"
  echo "pause_version=$tag" >> "$OUT/build-info"
}

recipe_etcd() {
  MODULE=go.etcd.io/etcd/server/v3
  # scripts/build_lib.sh: CGO_ENABLED=0, -trimpath, -X api/v3/version.GitSHA.
  local sha; sha=$(modinfo $MODULE "v$V" Hash)
  gobuild 0 "" "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${sha:0:9}" \
    go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
  mv "$OUT/bin/server" "$OUT/bin/etcd"
}

recipe_containerd() {
  MODULE=github.com/containerd/containerd/v2
  local rev; rev=$(modinfo $MODULE "v$V" Hash)
  local ld="-s -w -X $MODULE/version.Version=v$V -X $MODULE/version.Revision=$rev -X $MODULE/version.Package=$MODULE"
  # Makefile (non-static release): containerd and ctr with cgo; the shim static
  # (SHIM_CGO_ENABLED=0, no_grpc).
  gobuild 1 urfave_cli_no_docs "$ld" $MODULE/cmd/containerd $MODULE/cmd/ctr
  gobuild 0 "urfave_cli_no_docs no_grpc" "$ld -extldflags -static" $MODULE/cmd/containerd-shim-runc-v2
}

recipe_runc() {
  MODULE=github.com/opencontainers/runc
  local commit; commit=$(modinfo $MODULE "v$V" Hash)
  # `make static` on amd64: cgo + libseccomp, static PIE, netgo osusergo.
  # Debian's libseccomp-dev has libseccomp.a, so it links statically here too.
  ( export CGO_ENABLED=1; cd "$MODDIR" && log "  go build (static PIE, seccomp) runc" &&
    go build -mod=readonly -trimpath -buildvcs=false -buildmode=pie \
      -tags "seccomp urfave_cli_no_docs netgo osusergo" \
      -ldflags "-X main.gitCommit=$commit -linkmode external -extldflags -static-pie" \
      -o "$OUT/bin/runc" $MODULE )
}

recipe_cni_plugins() {
  MODULE=github.com/containernetworking/plugins
  # scripts/release.sh: CGO_ENABLED=0, -extldflags -static, BuildVersion.
  local p=$MODULE/plugins
  gobuild 0 "" "-s -w -extldflags -static -X $MODULE/pkg/utils/buildversion.BuildVersion=v$V" \
    $p/main/bridge $p/main/loopback $p/main/ptp $p/main/vlan $p/main/macvlan \
    $p/main/ipvlan $p/main/host-device $p/main/tap $p/main/dummy \
    $p/ipam/host-local $p/ipam/dhcp $p/ipam/static \
    $p/meta/portmap $p/meta/bandwidth $p/meta/firewall $p/meta/tuning $p/meta/sbr $p/meta/vrf
}

recipe_crictl() {
  MODULE=sigs.k8s.io/cri-tools
  # Makefile: CGO_ENABLED=0, -X pkg/version.Version (VERSION without the v).
  gobuild 0 "" "-s -w -X $MODULE/pkg/version.Version=$V" $MODULE/cmd/crictl
}

recipe_nerdctl() {
  MODULE=github.com/containerd/nerdctl/v2
  local rev; rev=$(modinfo $MODULE "v$V" Hash)
  # Makefile: CGO_ENABLED=0, -s -w, pkg/version.Version/Revision.
  gobuild 0 "" "-s -w -X $MODULE/pkg/version.Version=v$V -X $MODULE/pkg/version.Revision=$rev" \
    $MODULE/cmd/nerdctl
}

recipe_coredns() {
  MODULE=github.com/coredns/coredns
  local commit; commit=$(modinfo $MODULE "v$V" Hash)
  # Makefile: CGO_ENABLED=0, tags grpcnotrace, -s -w, coremain.GitCommit.
  gobuild 0 grpcnotrace "-s -w -X $MODULE/coremain.GitCommit=${commit:0:7}" $MODULE
}

recipe_crane() {
  MODULE=github.com/google/go-containerregistry
  # .goreleaser.yml: CGO_ENABLED=0, -s -w, crane/cmd.Version and transport.Version.
  gobuild 0 "" "-s -w -X $MODULE/cmd/crane/cmd.Version=v$V -X $MODULE/pkg/v1/remote/transport.Version=v$V" \
    $MODULE/cmd/crane
}

recipe_agnhost() {
  MODULE=k8s.io/kubernetes
  # test/images/agnhost/Makefile + image-util.sh bin: a static binary (CGO_ENABLED=0),
  # -X main.Version from the VERSION file beside it (checked: the component id names it).
  local kv src
  kv=$(sed -nE 's/^\s*k8s.io\/kubernetes (v[0-9.]+).*/\1/p' "$MODDIR/go.mod" | head -1)
  src=$(moddir $MODULE "$kv")/test/images/agnhost
  [[ $(cat "$src/VERSION") == "$V" ]] || fail "agnhost-$V" "$src/VERSION is not $V"
  gobuild 0 "" "-s -w -X 'main.Version=$V'" $MODULE/test/images/agnhost
}

recipe_helm() {
  MODULE=helm.sh/helm/v3
  # Makefile: CGO_ENABLED=0, -trimpath, -w -s, internal/version.{version,metadata,
  # gitCommit,gitTreeState} (metadata empty on a tag; the proxy gives no commit), and
  # the Kubernetes version chartutil and lint assume: client-go's v0.X.Y -> 1.X.
  local p=$MODULE/internal/version cg
  cg=$(sed -nE 's/^\s*k8s.io\/client-go v0\.([0-9]+)\..*/\1/p' "$MODDIR/go.mod")
  [[ -n $cg ]] || fail "helm-$V" "no k8s.io/client-go in $MODDIR/go.mod"
  local ld="-w -s -X $p.version=v$V -X $p.metadata= -X $p.gitTreeState=clean"
  for p in $MODULE/pkg/lint/rules $MODULE/pkg/chartutil; do
    ld+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$cg"
  done
  gobuild 0 "" "$ld" $MODULE/cmd/helm
}

recipe_cilium() {
  MODULE=github.com/cilium/cilium
  local commit date envoy df src
  commit=$(modinfo $MODULE "v$V" Hash) date=$(modinfo $MODULE "v$V" Time)
  src=$(moddir $MODULE "v$V")
  # Makefile.defs: CGO_ENABLED=0, tags osusergo, -X pkg/version.ciliumVersion=
  # "VERSION shorthash date", -X pkg/envoy.requiredEnvoyVersionSHA from the envoy
  # image in images/cilium/Dockerfile; hubble/Makefile adds hubble/pkg.Version.
  envoy=$(sed -nE 's/^ARG CILIUM_ENVOY_IMAGE=[^ ]*[:-]([0-9a-f]{40})@.*/\1/p' "$src/images/cilium/Dockerfile" | head -1)
  local ld="-s -w -X '$MODULE/pkg/version.ciliumVersion=$V ${commit:0:10} $date'"
  ld+=" -X $MODULE/pkg/envoy.requiredEnvoyVersionSHA=$envoy"
  ld+=" -X $MODULE/hubble/pkg.Version=v$V -X $MODULE/hubble/pkg.GitHash=${commit:0:7}"
  # What `make build-container` builds for the agent image (SUBDIRS_CILIUM_CONTAINER).
  gobuild 0 osusergo "$ld" $MODULE/daemon $MODULE/cilium-dbg $MODULE/cilium-health \
    $MODULE/cilium-health/responder $MODULE/plugins/cilium-cni $MODULE/tools/mount \
    $MODULE/tools/sysctlfix $MODULE/tools/envoy-bootstrap-locality $MODULE/bugtool \
    $MODULE/hubble
  # operator/Makefile: cilium-operator-generic is the operator with tags
  # ipam_provider_operator (the build module stands in for sigs.k8s.io/mcs-api/controllers,
  # which the proxy refuses; see its go.mod).
  gobuild 0 osusergo,ipam_provider_operator "$ld" $MODULE/operator
  mv "$OUT/bin/operator" "$OUT/bin/cilium-operator-generic"
  mv "$OUT/bin/daemon" "$OUT/bin/cilium-agent"
  mv "$OUT/bin/responder" "$OUT/bin/cilium-health-responder"
  mv "$OUT/bin/mount" "$OUT/bin/cilium-mount"
  mv "$OUT/bin/sysctlfix" "$OUT/bin/cilium-sysctlfix"
  mv "$OUT/bin/envoy-bootstrap-locality" "$OUT/bin/cilium-envoy-bootstrap-locality"
  mv "$OUT/bin/bugtool" "$OUT/bin/cilium-bugtool"
  # The agent compiles its datapath at run time from the module's bpf/ sources:
  # `make install-bpf` copies every file of bpf/ to /var/lib/cilium/bpf (0644).
  # Kept beside bin/ (images.sh puts them there in the agent image).
  cp -r "$src/bpf" "$OUT/bpf"
  chmod -R u+w,go-w "$OUT/bpf"
  find "$OUT/bpf" -type f -exec chmod 0644 {} +
  echo "bpf_tree_sha256=$(cd "$OUT/bpf" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-64)" >> "$OUT/build-info"
}

# ---------------------------------------------------------------- driver

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

recipe_fn() { local n=${1%-*}; printf 'recipe_%s' "${n//-/_}"; }

# The recipe hash: this component's build module files, its recipe, the shared
# helpers it uses, the Go version and the toolchain setting.
recipe_hash() {
  local id=$1 f
  {
    echo "go-build recipe v1 $GOTOOLCHAIN $GOOS/$GOARCH"
    (cd "$MODS/$id" && go env GOVERSION)
    declare -f "$(recipe_fn "$id")" gobuild modinfo moddir
    for f in $(cd "$MODS/$id" && find . -type f | LC_ALL=C sort); do
      echo "== $f"; cat "$MODS/$id/$f"
    done
  } | sha256sum | cut -c1-12
}

# ELF facts per binary: static or dynamic, and the newest glibc symbol it needs.
linkage() {
  local b=$1 g
  if readelf -l "$b" 2>/dev/null | grep -q 'program interpreter'; then
    g=$(objdump -T "$b" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)
    echo "dynamic${g:+ (needs $g)}"
  else
    echo static
  fi
}

build_one() {
  local id=$1 hash dir tmp t0 t1 t2 t3 fn
  V=${id##*-} MODDIR=$MODS/$id fn=$(recipe_fn "$id")
  [[ -f $MODDIR/go.mod ]] || fail "$id" "no build module $MODDIR/go.mod"
  declare -F "$fn" >/dev/null || fail "$id" "no recipe $fn"
  hash=$(recipe_hash "$id")
  dir=$GOC/$id-$hash
  if [[ -f $dir/SHA256SUMS && -f $dir/build-info && ${KF_LAB_GO_REBUILD:-0} != 1 ]]; then
    if [[ ${KF_LAB_GO_VERIFY:-0} == 1 ]]; then
      (cd "$dir/bin" && sha256sum --quiet -c ../SHA256SUMS) >&2 ||
        fail "$id" "cached binaries do not match $dir/SHA256SUMS"
    fi
    log "$id: cached ($dir)"
  else
    log "$id: building (recipe $hash)"
    tmp=$dir.tmp.$$
    # partial output of earlier failed builds of this id (their process is gone)
    local old
    for old in "$GOC/$id"-*.tmp.*; do
      [[ -d $old ]] && ! kill -0 "${old##*.tmp.}" 2>/dev/null && rm -rf "$old"
    done
    rm -rf "$tmp"; mkdir -p "$tmp/bin"
    OUT=$tmp
    t0=$(date +%s.%N)
    # Module downloads: network only, no build lock. Tolerant: a module that only
    # some test of a dependency needs may be refused by the proxy; the build below
    # then says what is really missing.
    log "  go mod download"
    (cd "$MODDIR" && go mod download) >&2 2>/dev/null || log "  (some modules not downloadable; only needed ones matter)"
    t1=$(date +%s.%N)
    exec 9>"$LOCK"
    flock 9
    t2=$(date +%s.%N)
    # Another run may have built it while this one waited for the lock.
    if [[ -f $dir/SHA256SUMS && -f $dir/build-info && ${KF_LAB_GO_REBUILD:-0} != 1 ]]; then
      flock -u 9; exec 9>&-
      rm -rf "$tmp"
      log "$id: built meanwhile by another run ($dir)"
      ln -sfn "$id-$hash" "$GOC/$id"
      printf '%s\t%s\n' "$id" "$dir"
      return 0
    fi
    local rc=0
    set +e
    ( set -e; "$fn"; echo "module=$MODULE" >> "$OUT/build-info" )
    rc=$?
    set -e
    if ((rc != 0)); then
      flock -u 9; exec 9>&-
      fail "$id" "build failed (exit $rc; the go output is above; partial output in $tmp)"
    fi
    t3=$(date +%s.%N)
    (cd "$tmp/bin" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum) > "$tmp/SHA256SUMS"
    {
      echo "component=${id%-*}"
      echo "version=v$V"
      echo "build_module=tests/lab/go/$id"
      echo "recipe_hash=$hash"
      echo "go_version=$(cd "$MODDIR" && go env GOVERSION)"
      echo "download_seconds=$(secs "$t0" "$t1")"
      echo "lock_wait_seconds=$(secs "$t1" "$t2")"
      echo "build_seconds=$(secs "$t2" "$t3")"
      echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
      local b
      for b in "$tmp"/bin/*; do echo "linkage.${b##*/}=$(linkage "$b")"; done
    } >> "$tmp/build-info"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    # released only now: a run waiting for the lock then finds the finished build
    flock -u 9; exec 9>&-
    # older builds of the same component (other recipe hashes) are stale
    find "$GOC" -maxdepth 1 -name "$id-*" ! -name "$id-$hash" ! -name '*.tmp.*' -type d \
      -exec rm -rf {} + 2>/dev/null || true
    log "$id: done in $(secs "$t0" "$t3") s (download $(secs "$t0" "$t1") s, lock wait $(secs "$t1" "$t2") s, build $(secs "$t2" "$t3") s)"
  fi
  ln -sfn "$id-$hash" "$GOC/$id"
  printf '%s\t%s\n' "$id" "$dir"
}

main() {
  if [[ ${1:-} == --list ]]; then printf '%s\n' "${COMPONENTS[@]}"; return; fi
  local -a want=() ; local a c found
  for a in "$@"; do
    found=0
    for c in "${COMPONENTS[@]}"; do
      if [[ $c == "$a" || ${c%-*} == "$a" ]]; then want+=("$c"); found=1; fi
    done
    ((found)) || die "unknown component '$a' (known: ${COMPONENTS[*]})"
  done
  ((${#want[@]})) || want=("${COMPONENTS[@]}")
  command -v go >/dev/null || die "go is not installed"
  need_debs gcc libc6-dev binutils pkg-config libseccomp-dev
  mkdir -p "$GOC"
  # A component that fails does not stop the others (each one built is cached and
  # useful on its own); the run still fails at the end, naming every failed one.
  # Each build runs in a subshell with set -e in force (not under `||`, where bash
  # would ignore set -e inside it); its reason for failing goes to FAILLOG.
  local t0=$SECONDS rc
  local -a failed=()
  FAILLOG=$(mktemp)
  for c in "${want[@]}"; do
    : > "$FAILLOG"
    set +e
    ( set -e; build_one "$c" )
    rc=$?
    set -e
    ((rc == 0)) || failed+=("$(cat "$FAILLOG" | head -1 | grep . || echo "$c (exit $rc)")")
  done
  rm -f "$FAILLOG"
  if ((${#failed[@]})); then
    log "FAILED: ${#failed[@]} of ${#want[@]} component(s), in $((SECONDS - t0)) s:"
    for c in "${failed[@]}"; do log "  FAILED $c"; done
    exit 1
  fi
  log "done: ${#want[@]} component(s) in $((SECONDS - t0)) s"
}

main "$@"
