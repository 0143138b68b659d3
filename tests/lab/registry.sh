#!/usr/bin/env bash
# tests/lab/registry.sh start|stop|push NAME:TAG...|list
#   A real OCI registry for the lab: Debian's docker-registry package (the CNCF distribution
#   registry 2.8), installed with apt-get when missing, served over plain HTTP on the lab
#   bridge only (10.213.0.1:5000), storage under STATE/registry (a fresh, empty registry at
#   each start). The pid is recorded; stop kills that pid only.
#   push: TEST IMAGES built here, never real ones: one layer with Debian's busybox-static
#   (fetched with `apt-get download`, not installed) and a file saying what the image is, a
#   config labelled org.kubeforge.test-image=true, pushed through the registry's HTTP API
#   (blob uploads and an OCI manifest) under each NAME:TAG given (a path below the registry,
#   e.g. pause:3.10.2 or cilium/operator-generic:v1.20.1). Prints one line per image:
#   `test image 10.213.0.1:5000/NAME:TAG sha256:<manifest digest>`.
#   list: the repositories and tags the registry holds (`REPO:TAG` per line).
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
KF_LAB_DIR=${KF_LAB_DIR:-/run/kubeforge-lab}
CACHE=${KF_LAB_TEST_IMAGES:-/var/cache/kubeforge-lab/test-images}
ADDR=${KF_LAB_REGISTRY_ADDR:-10.213.0.1:5000}
REG=http://$ADDR
DIR=$KF_LAB_DIR/registry
PIDFILE=$KF_LAB_DIR/registry.pid
log() { printf '[registry] %s\n' "$*" >&2; }
running() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && grep -q docker-registry "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; }

ensure_registry() {
    command -v docker-registry >/dev/null 2>&1 && return 0
    log "installing docker-registry"
    apt-get install -y -q --no-install-recommends docker-registry >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends docker-registry >&2; }
}

# The layer every test image shares: busybox (static) as /bin/busybox and /bin/sh, and
# /etc/kubeforge-test-image. Reproducible (sorted, mtime 0, gzip -n): same bytes each time.
layer() {
    mkdir -p "$CACHE"
    exec 8>"$CACHE/.lock"
    flock 8
    if [ ! -s "$CACHE/layer.tar.gz" ]; then
        local t
        t=$(mktemp -d)
        if ! compgen -G "$CACHE/busybox-static_*.deb" >/dev/null; then
            log "downloading busybox-static"
            (cd "$CACHE" && apt-get download busybox-static >/dev/null 2>&1) ||
                { apt-get update -q >&2 && (cd "$CACHE" && apt-get download busybox-static >/dev/null); }
        fi
        dpkg-deb -x "$(compgen -G "$CACHE/busybox-static_*.deb" | head -n1)" "$t/deb"
        mkdir -p "$t/root/bin" "$t/root/etc"
        cp "$t/deb/bin/busybox" "$t/root/bin/busybox"
        ln -s busybox "$t/root/bin/sh"
        echo "kubeforge lab TEST IMAGE (busybox-static), not the image its name says" > "$t/root/etc/kubeforge-test-image"
        tar -C "$t/root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$t/layer.tar" bin etc
        sha256sum "$t/layer.tar" | cut -d' ' -f1 > "$t/diff_id"
        gzip -n -9 -c "$t/layer.tar" > "$t/layer.tar.gz"
        mv "$t/diff_id" "$CACHE/layer.diff_id"
        mv "$t/layer.tar.gz" "$CACHE/layer.tar.gz"
        rm -rf "$t"
    fi
    exec 8>&-
}

# push_blob REPO FILE DIGEST: uploads FILE (monolithic) unless the repository has it.
push_blob() {
    local repo=$1 file=$2 digest=$3 loc sep
    curl -fsS -o /dev/null -I "$REG/v2/$repo/blobs/$digest" 2>/dev/null && return 0
    loc=$(curl -fsS -X POST -D - -o /dev/null "$REG/v2/$repo/blobs/uploads/" |
        awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
    [ -n "$loc" ] || { log "no upload location for $repo"; return 1; }
    case $loc in /*) loc=$REG$loc ;; esac
    sep='?'
    [[ $loc == *\?* ]] && sep='&'
    curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
        --data-binary "@$file" "$loc${sep}digest=$digest"
}

push() {
    local ref repo tag t layer_digest layer_size diff_id cfg_digest cfg_size man_digest
    layer
    t=$(mktemp -d)
    layer_digest=sha256:$(sha256sum "$CACHE/layer.tar.gz" | cut -d' ' -f1)
    layer_size=$(stat -c %s "$CACHE/layer.tar.gz")
    diff_id=sha256:$(cat "$CACHE/layer.diff_id")
    for ref in "$@"; do
        repo=${ref%:*} tag=${ref##*:}
        [ "$repo" != "$ref" ] && [ -n "$tag" ] || { log "not NAME:TAG: $ref"; exit 2; }
        printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Entrypoint":["/bin/busybox","sleep","3600"],"Labels":{"org.kubeforge.test-image":"true","org.kubeforge.test-image.for":"%s"}},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"kubeforge tests/lab/registry.sh: TEST IMAGE for %s"}]}' \
            "$ref" "$diff_id" "$ref" > "$t/config.json"
        cfg_digest=sha256:$(sha256sum "$t/config.json" | cut -d' ' -f1)
        cfg_size=$(stat -c %s "$t/config.json")
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}],"annotations":{"org.kubeforge.test-image":"true"}}' \
            "$cfg_digest" "$cfg_size" "$layer_digest" "$layer_size" > "$t/manifest.json"
        man_digest=sha256:$(sha256sum "$t/manifest.json" | cut -d' ' -f1)
        push_blob "$repo" "$CACHE/layer.tar.gz" "$layer_digest"
        push_blob "$repo" "$t/config.json" "$cfg_digest"
        curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
            --data-binary "@$t/manifest.json" "$REG/v2/$repo/manifests/$tag"
        echo "test image $ADDR/$ref $man_digest"
    done
    rm -rf "$t"
}

case ${1:-} in
start)
    if [ "${ADDR%:*}" = 10.213.0.1 ] && ! ip -4 addr show kflab0 2>/dev/null | grep -q 10.213.0.1/; then
        echo "registry: the lab bridge kflab0 is not up (run tests/lab/up.sh)" >&2
        exit 1
    fi
    ensure_registry
    if ! running; then
        rm -rf "$DIR"
        mkdir -p "$DIR/data"
        cat > "$DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: $ADDR
EOF
        setsid docker-registry serve "$DIR/config.yml" > "$KF_LAB_DIR/registry.log" 2>&1 < /dev/null &
        echo $! > "$PIDFILE"
    fi
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$REG/v2/" 2>/dev/null && exit 0
        sleep 0.1
    done
    echo "registry: no answer on $ADDR (log: $KF_LAB_DIR/registry.log)" >&2
    exit 1
    ;;
stop)
    if running; then kill "$(cat "$PIDFILE")"; fi
    rm -f "$PIDFILE"
    ;;
push)
    shift
    running || { echo "registry: not running (registry.sh start)" >&2; exit 1; }
    push "$@"
    ;;
list)
    for repo in $(curl -fsS "$REG/v2/_catalog?n=1000" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["repositories"]))'); do
        curl -fsS "$REG/v2/$repo/tags/list" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join(d["name"]+":"+t for t in (d["tags"] or [])))'
    done
    ;;
*) echo "usage: registry.sh start|stop|push NAME:TAG...|list" >&2; exit 2 ;;
esac
