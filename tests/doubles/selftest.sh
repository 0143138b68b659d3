#!/usr/bin/env bash
# tests/doubles/selftest.sh: proves the test doubles with real programs, on 127.0.0.1 only.
#   1. apiserver.py (the API-server DOUBLE) against REAL kubectl (Debian sid's 1.36 build,
#      fetched by tests/lab/sid-debs.sh, extracted into a temp dir, never installed): get,
#      cordon, annotate, get -o jsonpath, drain (and a drain whose evictions fail with 429 and
#      with 500: kubectl must exit non-zero), uncordon, delete node, get volumeattachments,
#      HTTPS; each step checks the requests the double recorded and the state it holds.
#   2. kubeadm (the kubeadm DOUBLE) under a temp root: strict flags and config, init, join
#      (worker and control plane), token create, upgrade apply/node, reset, its records, and
#      the kubeadm-config ConfigMap it keeps in the API-server double.
# Prints "ok - ..." / "FAIL - ..." per check and "N passed, M failed" last; exit 1 on any
# failure. Needs python3 and network access to Debian sid the first time (cached after).
# Env: KF_DOUBLES_KUBECTL (a kubectl to use instead of the sid one), KF_LAB_SID_DEBS.
set -euo pipefail
exec </dev/null
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=$(cd "$HERE/../lab" && pwd)
WORK=$(mktemp -d /tmp/kf-doubles-selftest.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
export HOME=$WORK/home PYTHONDONTWRITEBYTECODE=1 LC_ALL=C
unset KUBECONFIG KUBEADM_DOUBLE_VERSION KUBEADM_DOUBLE_ROOT KUBEADM_DOUBLE_APISERVER KUBEADM_DOUBLE_UNKNOWN_FIELDS
mkdir -p "$HOME"
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # DESCRIPTION COMMAND...
    local d=$1; shift
    if "$@" >"$WORK/check.out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/    /' "$WORK/check.out" | tail -20; fi
}

# ---- real kubectl ---------------------------------------------------------------------------
if [ -n "${KF_DOUBLES_KUBECTL:-}" ]; then
    KUBECTL_BIN=$KF_DOUBLES_KUBECTL
else
    line=$(bash "$LAB/sid-debs.sh" kubectl | awk '$1 == "kubectl"')
    deb=$(echo "$line" | awk '{print $3}')
    mkdir -p "$WORK/kubectl-deb"
    dpkg-deb -x "$deb" "$WORK/kubectl-deb"
    KUBECTL_BIN=$WORK/kubectl-deb/usr/bin/kubectl
    echo "# kubectl from $deb"
fi
"$KUBECTL_BIN" version --client | sed 's/^/# /'

# ---- the API-server double ------------------------------------------------------------------
cat >"$WORK/seed.json" <<'EOF'
{"nodes": [
   {"metadata": {"name": "node-a", "labels": {"node-role.kubernetes.io/control-plane": ""}},
    "status": {"addresses": [{"type": "InternalIP", "address": "10.213.0.11"}]}},
   {"metadata": {"name": "node-b"},
    "status": {"addresses": [{"type": "InternalIP", "address": "10.213.0.12"}]}}],
 "pods": [
   {"metadata": {"name": "web-1", "namespace": "default",
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-1", "controller": true}]},
    "spec": {"nodeName": "node-b"}},
   {"metadata": {"name": "scratch", "namespace": "default"},
    "spec": {"nodeName": "node-b", "volumes": [{"name": "tmp", "emptyDir": {}}]}},
   {"metadata": {"name": "agent-b", "namespace": "kube-system",
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "ds-1", "controller": true}]},
    "spec": {"nodeName": "node-b"}},
   {"metadata": {"name": "web-2", "namespace": "default",
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-1", "controller": true}]},
    "spec": {"nodeName": "node-a"}}],
 "daemonsets": [{"metadata": {"name": "agent", "namespace": "kube-system"}}]}
EOF

start_double() { # NAME ARGS... -> sets PORT_<NAME>
    local name=$1; shift
    rm -f "$WORK/$name.port"
    python3 "$HERE/apiserver.py" --address 127.0.0.1 --port 0 --port-file "$WORK/$name.port" \
        --log "$WORK/$name.jsonl" --max-lifetime 600 "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$WORK/$name.port" ] && break; sleep 0.05; done
    [ -s "$WORK/$name.port" ] || { cat "$WORK/$name.log"; echo "the double did not start"; exit 1; }
    printf -v "PORT_$name" '%s' "$(cat "$WORK/$name.port")"
}
start_double api --seed "$WORK/seed.json"
BASE=http://127.0.0.1:$PORT_api
cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: double
  cluster: {server: "$BASE"}
users:
- name: tester
  user: {}
contexts:
- name: double
  context: {cluster: double, user: tester}
current-context: double
EOF
K() { "$KUBECTL_BIN" --kubeconfig "$WORK/kubeconfig" --cache-dir "$WORK/kcache" --request-timeout=20s "$@"; }

# q 'PYTHON EXPR' : evaluates with R (requests since the mark), S (objects by kind), C (config)
mark() { MARK=$(curl -sS "$BASE/__double/requests" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[-1]["seq"] if r else 0)'); }
q() {
    curl -sS "$BASE/__double/requests?since=${MARK:-0}" >"$WORK/r.json"
    curl -sS "$BASE/__double/state" >"$WORK/s.json"
    python3 - "$1" "$WORK/r.json" "$WORK/s.json" <<'PY'
import json, sys
expr, rf, sf = sys.argv[1:4]
R = json.load(open(rf))
st = json.load(open(sf))
S, C = st["objects"], st["config"]
def reqs(method=None, path=None, status=None):
    return [r for r in R if (method is None or r["method"] == method) and (path is None or r["path"] == path)
            and (status is None or r["status"] == status)]
def obj(kind, name, ns=None):
    for o in S.get(kind, []):
        if o["metadata"]["name"] == name and (ns is None or o["metadata"].get("namespace") == ns):
            return o
    return None
ok = eval(expr)
if not ok:
    print("expression false:", expr)
    for r in R:
        print("  ", r["seq"], r["method"], r["path"], r["rawQuery"], r["status"], json.dumps(r["body"])[:160] if r["body"] else "")
    sys.exit(1)
PY
}
show_requests() { # print the requests since the mark (for the report)
    curl -sS "$BASE/__double/requests?since=${MARK:-0}" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print("#    %s %s%s -> %s %s" % (r["method"], r["path"], ("?" + r["rawQuery"]) if r["rawQuery"] else "", r["status"],
          (r["contentType"] + " " + json.dumps(r["body"], sort_keys=True))[:150] if r["body"] else ""))'
}
run() { # DESCRIPTION EXPECTED-EXIT(0|nonzero) kubectl-args...
    local d=$1 want=$2 rc=0; shift 2
    K "$@" >"$WORK/out" 2>&1 || rc=$?
    if { [ "$want" = 0 ] && [ $rc -eq 0 ]; } || { [ "$want" = nonzero ] && [ $rc -ne 0 ]; }; then
        ok "$d (kubectl $*: exit $rc)"
    else
        bad "$d (kubectl $*: exit $rc, wanted $want)"; sed 's/^/    /' "$WORK/out"
    fi
    echo "#  kubectl $*"; show_requests
}

check "every response says it comes from the double (X-Kubeforge-Double: apiserver)" \
    sh -c "curl -sSi '$BASE/version' | grep -qi '^X-Kubeforge-Double: apiserver'"

mark
run "get nodes" 0 get nodes
check "get nodes lists node-a and node-b" sh -c "grep -q '^node-a ' '$WORK/out' && grep -q '^node-b ' '$WORK/out'"
check "get nodes: aggregated discovery, then a Table list of nodes" q \
    'reqs("GET","/api") and reqs("GET","/apis") and any("as=Table" in r["accept"] for r in reqs("GET","/api/v1/nodes",200))'

mark
run "cordon node-b" 0 cordon node-b
check "cordon: GET the node, then a strategic merge patch spec.unschedulable=true" q \
    'reqs("GET","/api/v1/nodes/node-b",200) and [r["body"] for r in reqs("PATCH","/api/v1/nodes/node-b",200)] == [{"spec": {"unschedulable": True}}] and reqs("PATCH")[0]["contentType"] == "application/strategic-merge-patch+json" and obj("nodes","node-b")["spec"]["unschedulable"] is True'

mark
run "annotate node-b" 0 annotate node node-b kubeforge.io/cordoned-by=kubeforge
check "annotate: a merge patch of metadata.annotations" q \
    '[r["body"] for r in reqs("PATCH","/api/v1/nodes/node-b",200)] == [{"metadata": {"annotations": {"kubeforge.io/cordoned-by": "kubeforge"}}}] and reqs("PATCH")[0]["contentType"] == "application/merge-patch+json" and obj("nodes","node-b")["metadata"]["annotations"]["kubeforge.io/cordoned-by"] == "kubeforge"'

mark
run "get node -o jsonpath" 0 get node node-b -o 'jsonpath={.spec.unschedulable} {.metadata.annotations.kubeforge\.io/cordoned-by} {.status.nodeInfo.kubeletVersion}'
check "jsonpath prints 'true kubeforge v1.36.4'" sh -c "[ \"\$(cat '$WORK/out')\" = 'true kubeforge v1.36.4' ]"
check "jsonpath: one GET of the node" q 'len(reqs("GET","/api/v1/nodes/node-b",200)) == 1 and not reqs("PATCH")'

mark
run "drain node-b" 0 drain node-b --force --ignore-daemonsets --delete-emptydir-data --grace-period 5 --timeout 30s
check "drain: pods listed by spec.nodeName, the DaemonSet looked up, /api/v1 checked for pods/eviction" q \
    'any(r["query"].get("fieldSelector") == "spec.nodeName=node-b" for r in reqs("GET","/api/v1/pods",200)) and reqs("GET","/apis/apps/v1/namespaces/kube-system/daemonsets/agent",200) and reqs("GET","/api/v1",200)'
check "drain: one policy/v1 Eviction per evictable pod, grace period 5, DaemonSet pod left" q \
    'sorted(r["path"] for r in reqs("POST",status=201)) == ["/api/v1/namespaces/default/pods/scratch/eviction", "/api/v1/namespaces/default/pods/web-1/eviction"] and all(r["body"]["apiVersion"] == "policy/v1" and r["body"]["kind"] == "Eviction" and r["body"]["deleteOptions"] == {"gracePeriodSeconds": 5} for r in reqs("POST"))'
check "drain: waited until the evicted pods were gone (GET -> 404)" q \
    'reqs("GET","/api/v1/namespaces/default/pods/web-1",404) and reqs("GET","/api/v1/namespaces/default/pods/scratch",404)'
check "drain: node-b keeps only its DaemonSet pod; node-a's pod untouched" q \
    'sorted(p["metadata"]["name"] for p in S["pods"]) == ["agent-b", "web-2"]'

mark
run "uncordon node-b" 0 uncordon node-b
check "uncordon: a strategic merge patch spec.unschedulable=null" q \
    '[r["body"] for r in reqs("PATCH","/api/v1/nodes/node-b",200)] == [{"spec": {"unschedulable": None}}] and "unschedulable" not in obj("nodes","node-b")["spec"]'

# A node whose evictions fail: 429 (kubectl retries every 5 s until its timeout) and 500.
curl -sS -X POST "$BASE/__double/config" -d '{"fail_evictions": {"node-a": 429}}' >/dev/null
mark
run "drain node-a with evictions failing 429: kubectl gives up at --timeout" nonzero drain node-a --force --ignore-daemonsets --delete-emptydir-data --grace-period 5 --timeout 7s
check "429 drain: repeated evictions answered 429, the pod is still there" q \
    'len(reqs("POST","/api/v1/namespaces/default/pods/web-2/eviction",429)) >= 2 and not reqs("POST",status=201) and obj("pods","web-2") is not None'
check "429 drain: kubectl says the drain did not complete" grep -q "global timeout reached" "$WORK/out"
curl -sS -X POST "$BASE/__double/config" -d '{"fail_evictions": {"node-a": 500}}' >/dev/null
mark
run "drain node-a with evictions failing 500: kubectl fails at once" nonzero drain node-a --force --ignore-daemonsets --delete-emptydir-data --grace-period 5 --timeout 30s
check "500 drain: one eviction answered 500, no retry, pod still there" q \
    'len(reqs("POST","/api/v1/namespaces/default/pods/web-2/eviction",500)) == 1 and obj("pods","web-2") is not None'
curl -sS -X POST "$BASE/__double/config" -d '{"fail_evictions": {}}' >/dev/null
K uncordon node-a >/dev/null 2>&1

mark
run "delete node node-b" 0 delete node node-b
check "delete: DELETE with propagationPolicy Background, then a GET that finds it gone" q \
    '[r["body"] for r in reqs("DELETE","/api/v1/nodes/node-b",200)] == [{"propagationPolicy": "Background"}] and reqs("GET","/api/v1/nodes/node-b",404) and obj("nodes","node-b") is None'

mark
run "get volumeattachments" 0 get volumeattachments
check "volumeattachments: an empty list" sh -c "grep -q 'No resources found' '$WORK/out'"
check "volumeattachments: GET /apis/storage.k8s.io/v1/volumeattachments" q 'reqs("GET","/apis/storage.k8s.io/v1/volumeattachments",200)'

check "the request log file holds one JSON line per recorded request" python3 - "$WORK/api.jsonl" "$BASE" <<'PY'
import json, sys, urllib.request
lines = [json.loads(l) for l in open(sys.argv[1])]
mem = json.load(urllib.request.urlopen(sys.argv[2] + "/__double/requests"))
assert len(lines) == len(mem) and {l["seq"] for l in lines} == {m["seq"] for m in mem}, (len(lines), len(mem))
assert all(k in lines[0] for k in ("method", "path", "query", "body", "time", "status")), lines[0]
PY

# HTTPS with a given certificate
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=apiserver-double \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1
    start_double tls --seed "$WORK/seed.json" --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key"
    sed -e "s#server: \"$BASE\"#server: \"https://127.0.0.1:$PORT_tls\", certificate-authority: \"$WORK/tls.crt\"#" \
        -e 's#user: {}#user: {token: double-token}#' "$WORK/kubeconfig" >"$WORK/kubeconfig-tls"
    check "HTTPS: real kubectl verifies the double's certificate and lists nodes" sh -c \
        "'$KUBECTL_BIN' --kubeconfig '$WORK/kubeconfig-tls' --cache-dir '$WORK/kcache' get nodes -o name | grep -qx node/node-a"
    check "HTTPS: the bearer token is recorded as 'bearer' (never its value)" sh -c \
        "curl -sS --cacert '$WORK/tls.crt' https://127.0.0.1:$PORT_tls/__double/requests | grep -q '\"auth\": \"bearer\"' && ! grep -q double-token '$WORK/tls.jsonl'"
fi

# ---- the kubeadm double ---------------------------------------------------------------------
KA=$HERE/kubeadm
R1=$WORK/root-cp1 R2=$WORK/root-w1 R3=$WORK/root-cp2
mkdir -p "$R1" "$R2" "$R3"
echo "$BASE" >"$WORK/apiserver-url"
kd() { # ROOT ARGS... (stdout+stderr in $WORK/kd.out, exit code in KD_RC)
    local r=$1; shift
    KD_RC=0
    KUBEADM_DOUBLE_ROOT=$r KUBEADM_DOUBLE_APISERVER=$BASE "$KA" "$@" >"$WORK/kd.out" 2>&1 || KD_RC=$?
}
expect_rc() { # DESCRIPTION WANT
    if [ "$KD_RC" = "$2" ]; then ok "kubeadm double: $1 (exit $KD_RC)"; else bad "kubeadm double: $1 (exit $KD_RC, wanted $2)"; sed 's/^/    /' "$WORK/kd.out"; fi
}
cat >"$WORK/init.yaml" <<'EOF'
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 10.213.0.11
  bindPort: 6443
nodeRegistration:
  name: instance-1
  criSocket: unix:///var/run/containerd/containerd.sock
  kubeletExtraArgs:
  - name: node-ip
    value: 10.213.0.11
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.36.4
controlPlaneEndpoint: 10.213.0.11:6443
etcd:
  external:
    endpoints:
    - https://10.213.0.11:2379
    - https://10.213.0.12:2379
    caFile: /etc/ssl/etcd/ssl/ca.pem
    certFile: /etc/ssl/etcd/ssl/node-instance-1.pem
    keyFile: /etc/ssl/etcd/ssl/node-instance-1-key.pem
networking:
  serviceSubnet: 10.233.0.0/18
  podSubnet: 10.233.64.0/18
apiServer:
  extraArgs:
  - {name: anonymous-auth, value: "true"}
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
EOF
sed -e 's/^  extraArgs:$/  extraArgs: {anonymous-auth: "true"}/' -e '/^  - {name: anonymous-auth/d' "$WORK/init.yaml" >"$WORK/bad-map.yaml"
sed -e 's#kubeadm.k8s.io/v1beta4#kubeadm.k8s.io/v1beta3#' "$WORK/init.yaml" >"$WORK/bad-v1beta3.yaml"
sed -e 's/^  podSubnet:/  podCIDR:/' "$WORK/init.yaml" >"$WORK/bad-field.yaml"

kd "$R1" version -o short
check "kubeadm double: version -o short prints v1.36.4 only" sh -c "[ \"\$(cat '$WORK/kd.out')\" = v1.36.4 ]"
kd "$R1" init --config "$WORK/init.yaml" --bogus-flag; expect_rc "an unknown flag is a usage error" 2
check "kubeadm double: the unknown flag is named" grep -q -- "unknown flag: --bogus-flag" "$WORK/kd.out"
kd "$R1" frobnicate; expect_rc "an unknown command is a usage error" 2
kd "$R1" init --config "$WORK/bad-map.yaml"; expect_rc "v1beta3-style extraArgs map is refused" 1
check "kubeadm double: ... naming the field" grep -q "ClusterConfiguration.apiServer.extraArgs" "$WORK/kd.out"
kd "$R1" init --config "$WORK/bad-v1beta3.yaml"; expect_rc "apiVersion kubeadm.k8s.io/v1beta3 is refused" 1
kd "$R1" init --config "$WORK/bad-field.yaml"; expect_rc "an unknown field is refused" 1
check "kubeadm double: ... naming it" grep -q "networking: unknown field 'podCIDR'" "$WORK/kd.out"
check "kubeadm double: nothing was written by the refused calls" sh -c "[ ! -e '$R1/etc/kubernetes' ]"

kd "$R1" init --config "$WORK/init.yaml" --upload-certs --ignore-preflight-errors=Swap; expect_rc "init" 0
check "kubeadm double: init wrote admin.conf, kubelet.conf, pki/ca.crt and the manifests" sh -c \
    "cd '$R1/etc/kubernetes' && test -s admin.conf && test -s kubelet.conf && test -s pki/ca.crt && test -s manifests/kube-apiserver.yaml && test -s manifests/kube-scheduler.yaml && test ! -e manifests/etcd.yaml"
check "kubeadm double: kube-apiserver.yaml has --etcd-servers from etcd.external.endpoints" \
    grep -qx -- "    - --etcd-servers=https://10.213.0.11:2379,https://10.213.0.12:2379" "$R1/etc/kubernetes/manifests/kube-apiserver.yaml"
check "kubeadm double: kubelet flags carry kubeletExtraArgs" grep -q -- "--node-ip=10.213.0.11" "$R1/var/lib/kubelet/kubeadm-flags.env"
check "kubeadm double: init printed a join command" grep -q "kubeadm join 10.213.0.11:6443 --token" "$WORK/kd.out"
check "kubeadm double: init stored kube-system/kubeadm-config in the API-server double" q \
    '"v1.36.4" in obj("configmaps","kubeadm-config","kube-system")["data"]["ClusterConfiguration"] and reqs("POST","/api/v1/namespaces/kube-system/configmaps",201)[0]["userAgent"].startswith("kubeadm-double/")'
kd "$R1" init --config "$WORK/init.yaml"; expect_rc "a second init fails preflight, as kubeadm's does" 1
check "kubeadm double: ... with FileAvailable errors" grep -q "ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml" "$WORK/kd.out"

kd "$R1" token create --print-join-command; expect_rc "token create --print-join-command" 0
check "kubeadm double: the join command has a token and a CA hash" grep -Eq \
    "^kubeadm join 10\.213\.0\.11:6443 --token [a-z0-9]{6}\.[a-z0-9]{16} --discovery-token-ca-cert-hash sha256:[0-9a-f]{64} $" "$WORK/kd.out"
HASH=$(grep -o 'sha256:[0-9a-f]*' "$WORK/kd.out")

cat >"$WORK/join-worker.yaml" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 10.213.0.11:6443
    token: abcdef.0123456789abcdef
    caCertHashes: ["$HASH"]
nodeRegistration:
  name: instance-3
EOF
cat >"$WORK/join-cp.yaml" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 10.213.0.11:6443
    token: abcdef.0123456789abcdef
    caCertHashes: ["$HASH"]
controlPlane:
  localAPIEndpoint: {advertiseAddress: 10.213.0.12, bindPort: 6443}
  certificateKey: "$(printf '%064d' 7)"
nodeRegistration:
  name: instance-2
EOF
sed 's/abcdef.0123456789abcdef/not-a-token/' "$WORK/join-worker.yaml" >"$WORK/join-bad.yaml"
kd "$R2" join --config "$WORK/join-bad.yaml"; expect_rc "join with a malformed token is refused" 1
kd "$R2" join --config "$WORK/join-worker.yaml"; expect_rc "join (worker)" 0
check "kubeadm double: worker join wrote kubelet.conf and pki/ca.crt, no manifests" sh -c \
    "test -s '$R2/etc/kubernetes/kubelet.conf' && test -s '$R2/etc/kubernetes/pki/ca.crt' && test ! -e '$R2/etc/kubernetes/manifests'"
kd "$R2" join --config "$WORK/join-worker.yaml"; expect_rc "a second worker join fails preflight" 1
kd "$R3" join --config "$WORK/join-cp.yaml"; expect_rc "join (control plane)" 0
check "kubeadm double: control-plane join took etcd endpoints from kubeadm-config" \
    grep -qx -- "    - --etcd-servers=https://10.213.0.11:2379,https://10.213.0.12:2379" "$R3/etc/kubernetes/manifests/kube-apiserver.yaml"
check "kubeadm double: control-plane join wrote admin.conf and the advertise address" sh -c \
    "test -s '$R3/etc/kubernetes/admin.conf' && grep -q -- '--advertise-address=10.213.0.12' '$R3/etc/kubernetes/manifests/kube-apiserver.yaml'"

kd "$R1" upgrade apply v1.36.5; expect_rc "upgrade apply without --yes never prompts: it fails" 1
kd "$R1" upgrade apply v1.36.5 --yes; expect_rc "upgrade apply past the kubeadm version is refused" 1
KUBEADM_DOUBLE_VERSION=v1.36.5 kd "$R1" upgrade apply v1.36.5 --yes --certificate-renewal=true --etcd-upgrade=false
expect_rc "upgrade apply v1.36.5 --yes with a v1.36.5 kubeadm" 0
check "kubeadm double: upgrade apply moved the control plane images to v1.36.5" \
    grep -q "image: registry.k8s.io/kube-apiserver:v1.36.5" "$R1/etc/kubernetes/manifests/kube-apiserver.yaml"
check "kubeadm double: ... and kubeadm-config says v1.36.5" q \
    '"v1.36.5" in obj("configmaps","kubeadm-config","kube-system")["data"]["ClusterConfiguration"]'
KUBEADM_DOUBLE_VERSION=v1.36.5 kd "$R2" upgrade node; expect_rc "upgrade node (worker)" 0
KUBEADM_DOUBLE_VERSION=v1.36.5 kd "$R3" upgrade node; expect_rc "upgrade node (control plane)" 0
check "kubeadm double: upgrade node took v1.36.5 from kubeadm-config" \
    grep -q "image: registry.k8s.io/kube-scheduler:v1.36.5" "$R3/etc/kubernetes/manifests/kube-scheduler.yaml"

kd "$R2" reset; expect_rc "reset without -f never prompts: it fails" 1
kd "$R2" reset -f; expect_rc "reset -f" 0
check "kubeadm double: reset removed kubelet.conf and pki" sh -c "test ! -e '$R2/etc/kubernetes/kubelet.conf' && test ! -e '$R2/etc/kubernetes/pki'"
kd "$R2" join --config "$WORK/join-worker.yaml"; expect_rc "join again after reset" 0

check "kubeadm double: every call recorded with argv, exit code and a copy of its config" python3 - "$R1" "$R2" <<'PY'
import json, os, sys
r1 = [json.loads(l) for l in open(sys.argv[1] + "/var/lib/kubeadm-double/invocations.jsonl")]
cmds = [(e["command"], e["exit"]) for e in r1]
assert cmds[:6] == [("version", 0), ("init", 2), ("frobnicate", 2), ("init", 1), ("init", 1), ("init", 1)], cmds
assert ("init", 0) in cmds and ("upgrade apply", 0) in cmds and ("token create", 0) in cmds, cmds
for e in r1:
    if "config" in e:
        copy = sys.argv[1] + e["configCopy"]
        assert os.path.exists(copy), copy
        assert open(copy).read() == open(e["config"]).read(), copy
assert all(e["argv"][1:] and e["double"] == "kubeadm" for e in r1)
r2 = [(e["command"], e["exit"]) for e in map(json.loads, open(sys.argv[2] + "/var/lib/kubeadm-double/invocations.jsonl"))]
assert r2 == [("join", 1), ("join", 0), ("join", 1), ("upgrade node", 0), ("reset", 1), ("reset", 0), ("join", 0)], r2
PY

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
