#!/usr/bin/env bash
# tests/lab/images.sh [push|build|list] [IMAGE...]
#   REAL container images for the lab, built from the binaries tests/lab/go-build.sh makes
#   from their Go modules, under the names kubeforge's image table asks for, pushed into
#   the lab registry (tests/lab/registry.sh; 10.213.0.1:5000, plain HTTP) below the mirror
#   path a site uses: the upstream registry is replaced by the mirror, the path is kept
#   (registry.k8s.io/kube-apiserver:v1.36.4 -> 10.213.0.1:5000/kube-apiserver:v1.36.4,
#   quay.io/cilium/cilium:v1.20.1 -> 10.213.0.1:5000/cilium/cilium:v1.20.1).
#
#   push (default): build what is not cached, then push every image (or each IMAGE given:
#     a mirror path with or without tag, or an upstream name) into the running lab
#     registry; prints one line per image:
#     `image 10.213.0.1:5000/PATH:TAG sha256:<manifest digest> <size> from <module>@<version>`
#   build: build and cache only (no registry needed; the lab need not be up).
#   list: the images, as `UPSTREAM-NAME MIRROR-PATH:TAG COMPONENT`.
#
# How an image is made: its layers are reproducible tarballs (sorted, mtime 0, gzip -n):
# a small static base (ca-certificates from Debian, passwd/group/nsswitch, /tmp) or a
# Debian bookworm base made of .deb packages (`apt-get download`, then `dpkg-deb -x`:
# nothing is installed on this machine), and one layer with the component's binaries.
# `crane append` (onto an empty OCI base) and `crane mutate` (platform, entrypoint or cmd,
# env, workdir, user, labels) assemble it in a throwaway registry of crane's own
# (`crane registry serve` on 127.0.0.1); `crane pull --format oci` keeps it in the cache;
# `crane push --insecure` puts it into the lab registry. Labels name where each came from:
# org.opencontainers.image.source/.version/.revision and org.kubeforge.lab.module,
# .module-version, .build-module, .recipe (go-build.sh's recipe hash), .debian-packages.
#
# Cache: ${KF_LAB_CACHE:-/var/cache/kubeforge-lab}/images/
#   debs/                       the .deb files (apt-get download), reused
#   layers/<name>-<key>.tar.gz  base layers; key = the resolved Debian package versions
#                               and the layer's recipe (+ .diff_id, .packages)
#   oci/<path>_<tag>-<key>/     each image as an OCI layout (+ digest, size, inputs); key =
#                               the binaries' sha256 (go-build.sh's SHA256SUMS, the cilium
#                               bpf/ tree), the base layers' digests and the image recipe:
#                               a second run builds nothing and only pushes.
# Env: KF_LAB_CACHE, KF_LAB_REGISTRY_ADDR (default 10.213.0.1:5000), KF_LAB_IMAGES_REBUILD=1
# (ignore the cache). Root is needed (dpkg-deb -x keeps owners; ldconfig -r; chroot smoke
# test of the Debian bases). Progress on stderr; never prompts.
set -euo pipefail
exec </dev/null
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${KF_LAB_CACHE:-/var/cache/kubeforge-lab}
IMG=$CACHE/images
ADDR=${KF_LAB_REGISTRY_ADDR:-10.213.0.1:5000}
KEYVER=images-v1

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
sha() { sha256sum | cut -c1-64; }

# ------------------------------------------------------------------ the images
# MIRROR-PATH:TAG  UPSTREAM-REGISTRY  COMPONENT  KIND
# (the names and tags of kubeforge's image table, src/artifacts.yml and
# roles/kubeforge_defaults: kube_version 1.36.4 and the upgrade tests' 1.35.8, the pause
# and CoreDNS tags pinned per Kubernetes minor, etcd_version 3.6.14, cilium_version 1.20.1)
IMAGES=(
  "kube-apiserver:v1.36.4            registry.k8s.io kubernetes-1.36.4 kube"
  "kube-controller-manager:v1.36.4   registry.k8s.io kubernetes-1.36.4 kube"
  "kube-scheduler:v1.36.4            registry.k8s.io kubernetes-1.36.4 kube"
  "kube-proxy:v1.36.4                registry.k8s.io kubernetes-1.36.4 kube-proxy"
  "pause:3.10.2                      registry.k8s.io kubernetes-1.36.4 pause"
  "coredns/coredns:v1.14.2           registry.k8s.io coredns-1.14.2    coredns"
  "kube-apiserver:v1.35.8            registry.k8s.io kubernetes-1.35.8 kube"
  "kube-controller-manager:v1.35.8   registry.k8s.io kubernetes-1.35.8 kube"
  "kube-scheduler:v1.35.8            registry.k8s.io kubernetes-1.35.8 kube"
  "kube-proxy:v1.35.8                registry.k8s.io kubernetes-1.35.8 kube-proxy"
  "pause:3.10.1                      registry.k8s.io kubernetes-1.35.8 pause"
  "coredns/coredns:v1.12.4           registry.k8s.io coredns-1.12.4    coredns"
  "coreos/etcd:v3.6.14               quay.io         etcd-3.6.14       etcd"
  "cilium/cilium:v1.20.1             quay.io         cilium-1.20.1     cilium"
  "cilium/operator-generic:v1.20.1   quay.io         cilium-1.20.1     cilium-operator"
  "e2e-test-images/agnhost:2.63.0    registry.k8s.io agnhost-2.63.0    agnhost"
  "library/nginx:1.30.1-alpine       docker.io       debian            nginx"
)
# nginx (kubeforge's local API load balancer) is no Go module: the lab's image is Debian
# bookworm's nginx 1.22 with its stream module, under the name and tag kubeforge asks for
# (component "debian": no go-build.sh component; labels say which packages).

# Where each module's source lives (org.opencontainers.image.source).
source_url() {
  case $1 in
    k8s.io/kubernetes) echo https://github.com/kubernetes/kubernetes ;;
    go.etcd.io/etcd/*) echo https://github.com/etcd-io/etcd ;;
    github.com/*) local p=${1#github.com/}; p=${p%%/v[0-9]*}; echo "https://github.com/${p%%/*}/$(cut -d/ -f2 <<<"$p")" ;;
    *) echo "https://$1" ;;
  esac
}

# ------------------------------------------------------------------ Debian bases

# Packages of the Debian bookworm bases (apt resolves their dependencies).
# debian-net: what kube-proxy and the Cilium agent run besides their own binaries:
#   a shell and coreutils (the chart's init containers run sh, cp, mount, nsenter),
#   iproute2, iptables/ip6tables and nftables, ipset, conntrack, kmod, ca-certificates.
# cilium-tools: clang 19 (the agent compiles its BPF programs from bpf/ at run time with
#   `clang --target=bpf`; upstream's image has LLVM 19.1.7 too, Debian's clang-19 is
#   1:19.1.7), bpftool (cilium-bugtool), libatomic1 (as upstream's runtime image).
#   Not llvm-19: Cilium 1.20 runs clang only (pkg/datapath/loader/compile.go), no llc.
DEBIAN_NET=(base-files base-passwd bash dash coreutils util-linux mount grep sed findutils
  iproute2 iptables nftables ipset conntrack kmod ca-certificates)
CILIUM_TOOLS=(clang-19 bpftool libatomic1)

APTSIM=$IMG/apt
# resolve PKG...: "name version" lines, the packages apt would install on an empty system
# (this machine's apt lists; an empty dpkg status of our own; nothing installed).
# Remembered per package list and state of the apt lists (apt-get -s takes 3-4 s).
resolve() {
  mkdir -p "$APTSIM"; : > "$APTSIM/status"
  local key
  key=$( { echo "$*"; stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* 2>/dev/null; } | sha | cut -c1-16)
  if [[ ! -s $APTSIM/resolved-$key ]]; then
    apt-get -s -q -o Dir::State::status="$APTSIM/status" -o Debug::NoLocking=1 \
      --no-install-recommends install "$@" 2>&1 |
      awk '$1 == "Inst" { v = $3; gsub(/[()]/, "", v); print $2, v }' | sort > "$APTSIM/resolved-$key.tmp"
    mv "$APTSIM/resolved-$key.tmp" "$APTSIM/resolved-$key"
  fi
  cat "$APTSIM/resolved-$key"
}

# fetch "name version"...: the .debs into $IMG/debs (apt-get download; apt-get update once
# if the lists are older than the archive).
fetch_debs() {
  mkdir -p "$IMG/debs"
  local -a want=() ; local n v f
  while read -r n v; do
    f=$(deb_file "$n" "$v" || true)
    [[ -n $f ]] || want+=("$n=$v")
  done
  ((${#want[@]})) || return 0
  log "apt-get download ${#want[@]} package(s)"
  (cd "$IMG/debs" && apt-get download -q "${want[@]}" >/dev/null 2>&1) ||
    { apt-get update -q >&2 && (cd "$IMG/debs" && apt-get download -q "${want[@]}" >&2); }
}

# deb_file NAME VERSION: the .deb (apt-get download writes an epoch's colon as %3a).
deb_file() {
  local f
  for f in "$IMG/debs/${1}_${2/:/%3a}_"*.deb "$IMG/debs/${1}_${2#*:}_"*.deb; do
    [[ -f $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

# extract ROOT "name version"...: dpkg-deb -x each into ROOT (maintainer scripts are not
# run: what they would do that matters is done by fixup_root).
extract() {
  local root=$1 n v
  local f
  while read -r n v; do
    f=$(deb_file "$n" "$v") || die "no .deb for $n $v in $IMG/debs"
    dpkg-deb -x "$f" "$root"
  done
}

# fixup_root ROOT: what the packages' maintainer scripts would have done that a container
# needs: /etc/passwd and /etc/group (base-passwd's masters), the alternatives (iptables
# and ip6tables -> nft, as Debian 12 and the lab hosts default; awk -> mawk), the CA bundle
# (update-ca-certificates), /bin/sh, /var/run -> /run, /tmp, the ld.so cache.
fixup_root() {
  local r=$1 t
  [[ -f $r/usr/share/base-passwd/passwd.master ]] && {
    cp "$r/usr/share/base-passwd/passwd.master" "$r/etc/passwd"
    cp "$r/usr/share/base-passwd/group.master" "$r/etc/group"
  }
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    [[ -e $r/usr/sbin/${t/tables/tables-nft} ]] && ln -sfn "${t/tables/tables-nft}" "$r/usr/sbin/$t"
  done
  [[ -e $r/usr/bin/mawk && ! -e $r/usr/bin/awk ]] && ln -s mawk "$r/usr/bin/awk"
  if [[ -d $r/usr/share/ca-certificates/mozilla ]]; then
    mkdir -p "$r/etc/ssl/certs"
    find "$r/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort | xargs cat > "$r/etc/ssl/certs/ca-certificates.crt"
  fi
  [[ -e $r/bin/sh ]] || ln -s dash "$r/bin/sh"
  [[ -e $r/var/run ]] || ln -s /run "$r/var/run"
  mkdir -p "$r/run" "$r/tmp" "$r/root" && chmod 1777 "$r/tmp" && chmod 0700 "$r/root"
  printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf.kf" && mv -f "$r/etc/nsswitch.conf.kf" "$r/etc/nsswitch.conf"
  ldconfig -r "$r"
  rm -f "$r/var/cache/ldconfig/aux-cache"   # inode numbers and times: not reproducible
}

# mklayer DIR OUT: a reproducible gzip layer of DIR's contents; writes OUT, OUT.diff_id.
# OWNER=keep keeps numeric owners (Debian packages), else everything is root's.
mklayer() {
  local dir=$1 out=$2 t
  local -a own=(--owner=0 --group=0)
  [[ ${OWNER:-} == keep ]] && own=()
  t=$out.tmp.$$
  (cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
    tar --sort=name --mtime=@0 "${own[@]}" --numeric-owner -cf "$t.tar" -T -)
  sha256sum "$t.tar" | cut -c1-64 > "$t.diff_id"
  gzip -n -6 -c "$t.tar" > "$t.gz"
  rm -f "$t.tar"
  mv "$t.diff_id" "$out.diff_id"; mv "$t.gz" "$out"
}

# debian_layer NAME PKG...: the layer NAME (debian-net, debian-tools) with the Debian
# packages PKG need beyond those of the Debian layers made before it (BELOW_PKGS asked
# for, BELOW_ALL resolved). Sets LAYER_OUT[NAME].
debian_layer() {
  local name=$1; shift
  local -a pkgs=("$@")
  local all mine key out
  all=$(resolve "${BELOW_PKGS[@]}" "${pkgs[@]}")
  [[ -n $all ]] || die "apt resolves nothing for ${pkgs[*]} (apt-get -s install with an empty status)"
  mine=$(comm -23 <(echo "$all") <(printf '%s' "$BELOW_ALL" | grep . | sort || true))
  key=$( { echo "$KEYVER $name"; echo "$all"; echo "== mine"; echo "$mine";
           declare -f debian_layer fixup_root mklayer extract smoke_test; } | sha | cut -c1-16)
  out=$IMG/layers/$name-$key.tar.gz
  if [[ -s $out && -s $out.diff_id && ${KF_LAB_IMAGES_REBUILD:-0} != 1 ]]; then
    log "layer $name: cached ($(wc -l <<<"$mine") Debian packages)"
  else
    local t0 tmp layer; t0=$(date +%s.%N)
    log "layer $name: $(wc -l <<<"$mine") Debian packages"
    echo "$all" | fetch_debs
    mkdir -p "$IMG/layers"
    tmp=$(mktemp -d "$IMG/layers/.build.XXXXXX")
    # the whole root (the lower layers' packages and this one's): ldconfig, smoke test
    mkdir -p "$tmp/all"
    echo "$all" | extract "$tmp/all"
    fixup_root "$tmp/all"
    smoke_test "$name" "$tmp/all"
    if [[ -z $BELOW_ALL ]]; then
      layer=$tmp/all
    else
      # the files of this layer's own packages, and the ld.so cache of the whole root
      layer=$tmp/mine
      mkdir -p "$layer/etc"
      echo "$mine" | extract "$layer"
      cp "$tmp/all/etc/ld.so.cache" "$layer/etc/ld.so.cache"
    fi
    mkdir -p "$layer/usr/share/kubeforge-lab"
    echo "$mine" > "$layer/usr/share/kubeforge-lab/debian-packages-$name"
    OWNER=keep mklayer "$layer" "$out"
    echo "$mine" > "$out.packages"
    rm -rf "$tmp"
    find "$IMG/layers" -maxdepth 1 -name "$name-*" ! -name "$name-$key.tar.gz*" -delete
    log "layer $name: built in $(secs "$t0") s ($(du -m "$out" | cut -f1) MB gzip)"
  fi
  BELOW_PKGS+=("${pkgs[@]}")
  BELOW_ALL=$all
  LAYER_OUT[$name]=$out
}
declare -a BELOW_PKGS=()
BELOW_ALL=""
declare -A LAYER_OUT=()

# smoke_test NAME ROOT: the base really works (chroot into it: no network, nothing kept).
smoke_test() {
  local name=$1 r=$2
  case $name in
    debian-net)
      chroot "$r" /bin/sh -ec 'iptables --version; ip6tables --version; nft --version; ip -V;
        ipset version; conntrack --version; kmod --version; nsenter --version; mount --version;
        test -s /etc/ssl/certs/ca-certificates.crt' > "$r.smoke" 2>&1 ||
        die "the debian-net base does not run its tools (chroot $r): $(cat "$r.smoke")" ;;
    debian-nginx)
      chroot "$r" /usr/sbin/nginx -V > "$r.smoke" 2>&1 &&
        test -s "$r/usr/lib/nginx/modules/ngx_stream_module.so" ||
        die "the debian-nginx base has no working nginx with its stream module (chroot $r): $(cat "$r.smoke")" ;;
    debian-tools)
      printf 'int f(int x) { return x + 1; }\n' > "$r/tmp/t.c"
      chroot "$r" /bin/sh -ec '/usr/lib/llvm-19/bin/clang --version; bpftool version;
        /usr/lib/llvm-19/bin/clang -O2 --target=bpf -c /tmp/t.c -o /tmp/t.o' > "$r.smoke" 2>&1 ||
        die "the debian-tools base cannot compile BPF (chroot $r): $(cat "$r.smoke")"
      rm -f "$r/tmp/t.c" "$r/tmp/t.o" ;;
  esac
}

# The static base (distroless-like, for static binaries): /etc/passwd, group (root,
# nobody, nonroot 65532), nsswitch.conf, the CA bundle from Debian's ca-certificates, /tmp.
static_layer() {
  local ca key out t
  ca=$(resolve ca-certificates | awk '$1 == "ca-certificates"')
  key=$( { echo "$KEYVER static"; echo "$ca"; declare -f static_layer mklayer; } | sha | cut -c1-16)
  out=$IMG/layers/static-$key.tar.gz
  if [[ -s $out && -s $out.diff_id && ${KF_LAB_IMAGES_REBUILD:-0} != 1 ]]; then
    log "layer static: cached"
  else
    echo "$ca" | fetch_debs
    mkdir -p "$IMG/layers"
    t=$(mktemp -d "$IMG/layers/.build.XXXXXX")
    mkdir -p "$t/deb" "$t/root/etc/ssl/certs" "$t/root/tmp" "$t/root/root" "$t/root/home/nonroot"
    echo "$ca" | extract "$t/deb"
    find "$t/deb/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort | xargs cat > "$t/root/etc/ssl/certs/ca-certificates.crt"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$t/root/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$t/root/etc/group"
    printf 'hosts: files dns\n' > "$t/root/etc/nsswitch.conf"
    chmod 1777 "$t/root/tmp"; chmod 0700 "$t/root/root"; chown 65532:65532 "$t/root/home/nonroot"
    OWNER=keep mklayer "$t/root" "$out"
    rm -rf "$t"
    find "$IMG/layers" -maxdepth 1 -name 'static-*' ! -name "static-$key.*" ! -name "static-$key.tar.gz" -delete
    log "layer static: built"
  fi
  LAYER_OUT[static]=$out
}

# ------------------------------------------------------------------ the images' contents
# stage_KIND DIR: the image's own files (its top layer) from the component's build
# output $C (bin/, build-info) into DIR; sets BASES (layer names below it) and CONF
# (crane mutate flags).

PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# kube-apiserver, kube-controller-manager, kube-scheduler: the static binary in
# /usr/local/bin (as upstream's images; kubeadm's static pods run it by name).
stage_kube() {
  install -D -m 0755 "$C/bin/$BIN" "$1/usr/local/bin/$BIN"
  BASES=(static); CONF=(--entrypoint "/usr/local/bin/$BIN" --env "$PATH_ENV")
}
# kube-proxy: needs iptables/nftables, conntrack and ipset beside it (upstream: a
# distroless image with those): the debian-net base.
stage_kube_proxy() {
  install -D -m 0755 "$C/bin/kube-proxy" "$1/usr/local/bin/kube-proxy"
  BASES=(debian-net); CONF=(--entrypoint /usr/local/bin/kube-proxy --env "$PATH_ENV")
}
# pause: upstream's image is FROM scratch with /pause, USER 65535:65535.
stage_pause() {
  local v; v=$(sed -n 's/^pause_version=//p' "$C/build-info")
  [[ $v == "$TAG" ]] || die "pause: $COMP builds pause $v, the image asks for $TAG"
  install -D -m 0755 "$C/bin/pause" "$1/pause"
  BASES=(); CONF=(--entrypoint /pause --user 65535:65535)
}
# CoreDNS: upstream's image is /coredns on a static base with CA certificates, entrypoint
# /coredns. Not set: upstream's USER nonroot with a file capability to bind :53; here it
# runs as root (kubeadm's Deployment drops all capabilities but NET_BIND_SERVICE).
stage_coredns() {
  install -D -m 0755 "$C/bin/coredns" "$1/coredns"
  BASES=(static); CONF=(--entrypoint /coredns)
}
# agnhost (the tests' workload, not one of kubeforge's images): upstream's image has
# /agnhost as its entrypoint (test/images/agnhost/Dockerfile); `netexec` serves HTTP.
stage_agnhost() {
  install -D -m 0755 "$C/bin/agnhost" "$1/agnhost"
  BASES=(static); CONF=(--entrypoint /agnhost)
}
# nginx: Debian's nginx, the stream module loaded by -g (parsed before the configuration
# file, so kubeforge's nginx.conf, mounted over /etc/nginx, can use `stream`), in the
# foreground as upstream's CMD; the directories Debian's postinst would make.
stage_nginx() {
  mkdir -p "$1/var/lib/nginx/body" "$1/var/lib/nginx/proxy" "$1/var/lib/nginx/fastcgi" \
    "$1/var/lib/nginx/uwsgi" "$1/var/lib/nginx/scgi" "$1/var/log/nginx" "$1/run"
  BASES=(debian-nginx)
  CONF=(--entrypoint "/usr/sbin/nginx,-g,load_module /usr/lib/nginx/modules/ngx_stream_module.so; daemon off;" --env "$PATH_ENV")
}
# etcd: upstream's image has etcd, etcdctl, etcdutl in /usr/local/bin, workdir
# /var/lib/etcd, CMD ["/usr/local/bin/etcd"] (no entrypoint; kubeadm runs `etcd ...`).
stage_etcd() {
  local b
  for b in etcd etcdctl etcdutl; do install -D -m 0755 "$C/bin/$b" "$1/usr/local/bin/$b"; done
  mkdir -p "$1/var/etcd" "$1/var/lib/etcd"
  BASES=(static); CONF=(--cmd /usr/local/bin/etcd --workdir /var/lib/etcd --env "$PATH_ENV")
}
# Cilium agent, as images/cilium/Dockerfile lays it out: the binaries of
# SUBDIRS_CILIUM_CONTAINER in /usr/bin (cilium -> cilium-dbg), cilium-cni in /opt/cni/bin,
# the CNI loopback plugin in /cni (install-plugin.sh copies it to the host), the scripts
# the chart's init containers run (/init-container.sh, /install-plugin.sh,
# /cni-uninstall.sh, from the module), the BPF sources in /var/lib/cilium/bpf (make
# install-bpf), clang and bpftool in /usr/local/bin as upstream's runtime image has them;
# env HUBBLE_SERVER and INITSYSTEM, workdir /home/cilium, CMD ["/usr/bin/cilium-dbg"]
# (no entrypoint: the chart names the command of every container).
stage_cilium() {
  local d=$1 b src
  src=$(go_moddir github.com/cilium/cilium "v${COMP##*-}")
  for b in cilium-agent cilium-dbg cilium-health cilium-health-responder cilium-bugtool \
    cilium-mount cilium-sysctlfix cilium-envoy-bootstrap-locality hubble; do
    install -D -m 0755 "$C/bin/$b" "$d/usr/bin/$b"
  done
  ln -s cilium-dbg "$d/usr/bin/cilium"
  install -D -m 0755 "$C/bin/cilium-cni" "$d/opt/cni/bin/cilium-cni"
  install -D -m 0755 "$LOOPBACK" "$d/cni/loopback"
  install -m 0755 "$src/images/cilium/init-container.sh" "$d/init-container.sh"
  install -m 0755 "$src/plugins/cilium-cni/install-plugin.sh" "$d/install-plugin.sh"
  install -m 0755 "$src/plugins/cilium-cni/cni-uninstall.sh" "$d/cni-uninstall.sh"
  mkdir -p "$d/var/lib/cilium" "$d/home/cilium" "$d/usr/local/bin"
  chmod 0750 "$d/var/lib/cilium"
  cp -r "$C/bpf" "$d/var/lib/cilium/bpf"
  ln -s /usr/lib/llvm-19/bin/clang "$d/usr/local/bin/clang"
  ln -s /usr/sbin/bpftool "$d/usr/local/bin/bpftool"
  BASES=(debian-net debian-tools)
  CONF=(--cmd /usr/bin/cilium-dbg --workdir /home/cilium --env "$PATH_ENV"
    --env HUBBLE_SERVER=unix:///var/run/cilium/hubble.sock --env INITSYSTEM=SYSTEMD
    --label "org.kubeforge.lab.cni-loopback=github.com/containernetworking/plugins@$LOOPBACK_VERSION")
}
# Cilium operator (generic): upstream's image is the binary in /usr/bin on scratch with CA
# certificates; no entrypoint (the chart runs cilium-operator-generic); here the entrypoint
# is the binary, so the image also runs without a command.
stage_cilium_operator() {
  install -D -m 0755 "$C/bin/cilium-operator-generic" "$1/usr/bin/cilium-operator-generic"
  BASES=(static); CONF=(--entrypoint /usr/bin/cilium-operator-generic --env "$PATH_ENV")
}

go_moddir() { printf '%s/%s@%s' "$GOMODCACHE" "$1" "$2"; }

# ------------------------------------------------------------------ assembly

CRANE=""
BUILD_REG=""
BUILD_REG_PID=""
start_build_registry() {
  [[ -n $BUILD_REG ]] && return 0
  local d=$IMG/.build-registry.$$ port=""
  rm -rf "$d"; mkdir -p "$d/blobs"
  setsid "$CRANE" registry serve --address 127.0.0.1:0 --disk "$d/blobs" > "$d/log" 2>&1 < /dev/null &
  BUILD_REG_PID=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$d/log" | head -1)
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || die "crane registry serve did not start: $(cat "$d/log")"
  BUILD_REG=127.0.0.1:$port
  log "build registry: crane registry serve on $BUILD_REG (pid $BUILD_REG_PID)"
}
stop_build_registry() {
  if [[ -n $BUILD_REG_PID ]]; then kill "$BUILD_REG_PID" 2>/dev/null || true; wait "$BUILD_REG_PID" 2>/dev/null || true; fi
  rm -rf "$IMG/.build-registry.$$"
}
trap stop_build_registry EXIT

# build_image SPEC...: the image's OCI layout in the cache (built unless cached). Sets
# LAYOUT, DIGEST, SIZE, FROM.
build_image() {
  local ref=$1 upreg=$2 comp=$3 kind=$4
  local path=${ref%:*} tag=${ref##*:}
  COMP=$comp TAG=$tag C=${COMPDIR[$comp]:-}
  local module version recipe commit
  if [[ $comp == debian ]]; then
    # Debian's package of it: the version apt resolved for the layer.
    module="debian bookworm $kind"
    version=$(awk -v p="$kind" '$1 == p {print $2}' "${LAYER_OUT[debian-$kind]}.packages")
    recipe=debian commit=""
  else
    module=$(sed -n 's/^module=//p' "$C/build-info")
    version=$(sed -n 's/^version=//p' "$C/build-info")
    recipe=$(sed -n 's/^recipe_hash=//p' "$C/build-info")
    commit=$(sed -n 's/.*"Hash":"\([0-9a-f]*\)".*/\1/p' "$GOMODCACHE/cache/download/$module/@v/$version.info" 2>/dev/null || true)
  fi
  FROM="$module@$version"
  case $kind in
    kube) BIN=${path%%:*} ;;
  esac
  local stage fn=stage_${kind//-/_}
  stage=$(mktemp -d "$IMG/.stage.XXXXXX")
  "$fn" "$stage/root"
  local -a labels=(
    --label "org.opencontainers.image.title=$upreg/$path"
    --label "org.opencontainers.image.version=$tag"
    --label "org.opencontainers.image.source=$( [[ $comp == debian ]] && echo "https://packages.debian.org/bookworm/$kind" || source_url "$module")"
    --label "org.kubeforge.lab.module=$module"
    --label "org.kubeforge.lab.module-version=$version"
    --label "org.kubeforge.lab.build-module=tests/lab/go/$comp"
    --label "org.kubeforge.lab.recipe=$recipe"
    --label "org.kubeforge.lab.built-by=tests/lab/images.sh"
  )
  [[ -n $commit ]] && labels+=(--label "org.opencontainers.image.revision=$commit")
  local b layers_in="" 
  for b in "${BASES[@]}"; do
    layers_in+="$b $(cat "${LAYER_OUT[$b]}.diff_id")"$'\n'
    case $b in debian-*) labels+=(--label "org.kubeforge.lab.debian-packages=bookworm: $(wc -l < "${LAYER_OUT[$b]}.packages") in the $b layer (list: /usr/share/kubeforge-lab/debian-packages-$b)") ;; esac
  done
  # the key: this image's files (their checksums), its bases, its config, its recipe
  local key
  key=$( {
    echo "$KEYVER $ref $upreg $comp $kind"
    (cd "$stage/root" && find . -printf '%P %y %m %l\n' | LC_ALL=C sort)
    (cd "$stage/root" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
    echo "$layers_in"
    printf '%s\n' "${CONF[@]}" "${labels[@]}"
    declare -f "$fn" build_image mklayer
  } | sha | cut -c1-16)
  local dir=$IMG/oci/${path//\//_}_$tag-$key
  if [[ -s $dir/digest && -d $dir/layout && ${KF_LAB_IMAGES_REBUILD:-0} != 1 ]]; then
    log "$ref: cached ($(basename "$dir"))"
  else
    local t0; t0=$(date +%s.%N)
    log "$ref: building from $FROM (${BASES[*]:-no base} + own layer)"
    mkdir -p "$IMG/oci"
    local tmp=$dir.tmp.$$
    rm -rf "$tmp"; mkdir -p "$tmp"
    mklayer "$stage/root" "$tmp/own.tar.gz"
    local -a files=()
    for b in "${BASES[@]}"; do files+=(-f "${LAYER_OUT[$b]}"); done
    files+=(-f "$tmp/own.tar.gz")
    start_build_registry
    local bref=$BUILD_REG/$path:build-$key
    "$CRANE" append --oci-empty-base "${files[@]}" -t "$bref" >/dev/null 2>"$tmp/crane.log" ||
      die "$ref: crane append failed: $(cat "$tmp/crane.log")"
    "$CRANE" mutate "$bref" --set-platform linux/amd64 "${CONF[@]}" "${labels[@]}" \
      -t "$BUILD_REG/$path:$tag" >/dev/null 2>"$tmp/crane.log" ||
      die "$ref: crane mutate failed: $(cat "$tmp/crane.log")"
    "$CRANE" pull --format oci "$BUILD_REG/$path:$tag" "$tmp/layout" 2>"$tmp/crane.log" ||
      die "$ref: crane pull failed: $(cat "$tmp/crane.log")"
    "$CRANE" digest "$BUILD_REG/$path:$tag" > "$tmp/digest"
    "$CRANE" manifest "$BUILD_REG/$path:$tag" |
      python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["config"]["size"] + sum(l["size"] for l in m["layers"]))' > "$tmp/size"
    printf '%s\n' "$FROM" > "$tmp/from"
    rm -f "$tmp/own.tar.gz" "$tmp/crane.log"
    rm -rf "$dir"; mv "$tmp" "$dir"
    find "$IMG/oci" -maxdepth 1 -name "${path//\//_}_$tag-*" ! -name "$(basename "$dir")" ! -name '*.tmp.*' -exec rm -rf {} +
    log "$ref: built in $(secs "$t0") s"
  fi
  rm -rf "$stage"
  LAYOUT=$dir/layout DIGEST=$(cat "$dir/digest") SIZE=$(cat "$dir/size")
}

human() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

matches() { # SPEC-REF UPSTREAM-REGISTRY FILTER...
  local ref=$1 up=$2; shift 2
  (($# == 0)) && return 0
  local f
  for f in "$@"; do
    [[ $f == "$ref" || $f == "${ref%:*}" || $f == "$up/$ref" || $f == "$up/${ref%:*}" ||
       $f == "$ADDR/$ref" ]] && return 0
  done
  return 1
}

main() {
  local cmd=push
  case ${1:-} in push|build|list) cmd=$1; shift ;; -h|--help) sed -n '2,40p' "$0"; return ;; esac
  local -a want=() ; local s ref up comp kind
  for s in "${IMAGES[@]}"; do
    read -r ref up comp kind <<<"$s"
    matches "$ref" "$up" "$@" && want+=("$s")
  done
  ((${#want[@]})) || die "no image matches: $* (images.sh list)"
  if [[ $cmd == list ]]; then
    for s in "${want[@]}"; do read -r ref up comp kind <<<"$s"; echo "$up/$ref $ref $comp"; done
    return
  fi
  [[ $(id -u) == 0 ]] || die "must run as root"
  local t0; t0=$(date +%s.%N)
  mkdir -p "$IMG"
  exec 7>"$IMG/.lock"; flock 7

  # the components (go-build.sh: cached, or built now)
  local -a comps=(crane-0.22.1)
  for s in "${want[@]}"; do read -r ref up comp kind <<<"$s"; [[ $comp == debian ]] || comps+=("$comp"); [[ $kind == cilium ]] && comps+=(cni-plugins-1.9.1); done
  mapfile -t comps < <(printf '%s\n' "${comps[@]}" | awk '!seen[$0]++')
  declare -gA COMPDIR=()
  local line
  while IFS=$'\t' read -r comp line; do COMPDIR[$comp]=$line; done < <("$HERE/go-build.sh" "${comps[@]}")
  for comp in "${comps[@]}"; do [[ -n ${COMPDIR[$comp]:-} ]] || die "go-build.sh gave no $comp"; done
  CRANE=${COMPDIR[crane-0.22.1]}/bin/crane
  GOMODCACHE=$CACHE/go/mod
  LOOPBACK=${COMPDIR[cni-plugins-1.9.1]:-}/bin/loopback
  LOOPBACK_VERSION=$(sed -n 's/^version=//p' "${COMPDIR[cni-plugins-1.9.1]:-/dev/null}/build-info" 2>/dev/null || true)

  # the base layers the wanted images need
  local need_static=0 need_net=0 need_tools=0
  for s in "${want[@]}"; do
    read -r ref up comp kind <<<"$s"
    case $kind in kube|coredns|etcd|cilium-operator|agnhost) need_static=1 ;; kube-proxy) need_net=1 ;; cilium) need_net=1 need_tools=1 ;; esac
  done
  ((need_static)) && static_layer
  ((need_net)) && debian_layer debian-net "${DEBIAN_NET[@]}"
  ((need_tools)) && debian_layer debian-tools "${CILIUM_TOOLS[@]}"
  # nginx's base stands alone (not on debian-net): a fresh stack of layers.
  local need_nginx=0
  for s in "${want[@]}"; do read -r ref up comp kind <<<"$s"; [[ $kind == nginx ]] && need_nginx=1; done
  if ((need_nginx)); then
    BELOW_PKGS=() BELOW_ALL=""
    debian_layer debian-nginx base-files base-passwd nginx libnginx-mod-stream
  fi

  local -a lines=()
  for s in "${want[@]}"; do
    read -r ref up comp kind <<<"$s"
    build_image "$ref" "$up" "$comp" "$kind"
    lines+=("$ref $LAYOUT $DIGEST $SIZE $FROM")
  done
  stop_build_registry
  log "built/cached ${#want[@]} image(s) in $(secs "$t0") s"
  [[ $cmd == build ]] && { for s in "${lines[@]}"; do read -r ref _ d z f <<<"$s"; echo "image $ref $d $(human "$z") from $f (cached, not pushed)"; done; return; }

  curl -fsS -o /dev/null "http://$ADDR/v2/" 2>/dev/null ||
    die "no registry answers on $ADDR (tests/lab/registry.sh start)"
  local t1 pushed; t1=$(date +%s.%N)
  for s in "${lines[@]}"; do
    read -r ref layout d z f <<<"$s"
    pushed=$("$CRANE" push --insecure "$layout" "$ADDR/$ref" 2>"$IMG/.push.log") ||
      die "$ref: crane push failed: $(cat "$IMG/.push.log")"
    [[ ${pushed##*@} == "$d" ]] || die "$ref: pushed ${pushed##*@}, the cache says $d"
    echo "image $ADDR/$ref $d $(human "$z") from $f"
  done
  rm -f "$IMG/.push.log"
  log "pushed ${#lines[@]} image(s) to $ADDR in $(secs "$t1") s (total $(secs "$t0") s)"
}

main "$@"
