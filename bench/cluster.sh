#!/usr/bin/env bash
# bench/cluster.sh: cluster.yml building a REAL Kubernetes cluster on the 3-host separate
# lab (instance-1 control plane, instance-2 worker, instance-3 etcd-only): kubeadm, kubelet,
# the control plane, CoreDNS, etcd, containerd and Cilium (helm) built from their Go modules
# (tests/lab/real-repo.sh, tests/lab/images.sh: cached after the first build), from bare
# hosts to every node Ready with CoreDNS up (cold), then again with nothing to change
# (warm), BENCH_ROUNDS rounds (default 1: a round boots fresh hosts and takes minutes).
# Where the cold wall time goes: the longest steps (the host that took longest for each),
# grouped as kubeadm/kubelet, images, Cilium, downloads and the rest, and kubeforge's own
# CPU time (user + system of the kubeforge process). Root. Holds /tmp/kf-lab.lock while the
# lab is in use. Last line: cold_s=<s> warm_s=<s> kubeforge_cpu_s=<cold>
set -euo pipefail
exec </dev/null
cd "$(dirname "$(readlink -f "$0")")/.."
ROUNDS=${BENCH_ROUNDS:-1}
KF_LAB_DIR=${KF_LAB_DIR:-/run/kubeforge-lab}
WORK=$(mktemp -d /tmp/kfcluster.XXXXXX)
trap 'tests/lab/registry.sh stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
flock /tmp/kf-build.lock cargo build --release --locked -q
KF=$PWD/target/release/kubeforge
exec 9>/tmp/kf-lab.lock
flock 9
VARS=$(tests/lab/real-repo.sh)
now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
: > "$WORK/cold"; : > "$WORK/warm"; : > "$WORK/cpu"
for ((r = 1; r <= ROUNDS; r++)); do
    # 9>&-: the hosts and servers outlive this script and must not hold the lab lock.
    KF_LAB_FRESH=1 KF_LAB_BIND_CONTAINERD=1 tests/lab/up.sh 3 > /dev/null 9>&-
    tests/lab/files-server.sh start >&2 9>&-
    tests/lab/registry.sh start >&2 9>&-
    tests/lab/images.sh push > /dev/null
    cat > "$WORK/hosts.yaml" <<EOF
all:
  hosts:
    instance-1: {ansible_host: 10.213.0.11, ip: 10.213.0.11, ansible_user: root, ansible_ssh_private_key_file: $KF_LAB_DIR/id_ed25519}
    instance-2: {ansible_host: 10.213.0.12, ip: 10.213.0.12, ansible_user: root, ansible_ssh_private_key_file: $KF_LAB_DIR/id_ed25519}
    instance-3: {ansible_host: 10.213.0.13, ip: 10.213.0.13, ansible_user: root, ansible_ssh_private_key_file: $KF_LAB_DIR/id_ed25519}
  vars:
    install_os_packages: false
    local_release_dir: /var/cache/kubeforge/releases
    etcd_member_name: "{{ inventory_hostname }}"
    cilium_enable_l7_proxy: false
    cilium_kube_proxy_replacement: true
    registry_host: "10.213.0.1:5000"
    kube_image_repo: "{{ registry_host }}"
    gcr_image_repo: "{{ registry_host }}"
    docker_image_repo: "{{ registry_host }}"
    quay_image_repo: "{{ registry_host }}"
    github_image_repo: "{{ registry_host }}"
    containerd_registries_mirrors:
      - prefix: "{{ registry_host }}"
        server: "http://{{ registry_host }}"
        mirrors: [{host: "http://{{ registry_host }}", capabilities: [pull, resolve], skip_verify: true}]
  children:
    kube_control_plane: {hosts: {instance-1: }}
    kube_node: {hosts: {instance-2: }}
    etcd: {hosts: {instance-3: }}
EOF
    rm -rf "$WORK/credentials"
    for phase in cold warm; do
        t0=$(now)
        /usr/bin/time -f '%U %S' -o "$WORK/$phase.time" \
            "$KF" run -i "$WORK/hosts.yaml" playbooks/cluster.yml -e "@$VARS" \
            --known-hosts "$KF_LAB_DIR/known_hosts" --output "json=$WORK/$phase-$r.jsonl" > "$WORK/$phase.log" 2>&1 ||
            { tail -40 "$WORK/$phase.log" >&2; exit 1; }
        awk -v s="$t0" -v e="$(now)" 'BEGIN { printf "%.2f\n", e - s }' >> "$WORK/$phase"
        [[ $phase == cold ]] && awk '{ printf "%.2f\n", $1 + $2 }' "$WORK/$phase.time" >> "$WORK/cpu"
    done
    python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; c=sum(h["changed"] for h in r["hosts"].values()); sys.exit(0 if c==0 else "warm run changed %d steps" % c)' "$WORK/warm-$r.jsonl"
done
# Where the last cold run's wall time went: for each task the longest host, grouped.
python3 - "$WORK/cold-$ROUNDS.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
steps = [e for e in ev if e.get("event") == "step_result"]
total = [e for e in ev if e.get("event") == "recap"][-1]["duration_ms"] / 1000
longest = {}
for s in steps:
    k = (s["play"], s["task"])
    longest[k] = max(longest.get(k, 0), s["duration_ms"] / 1000)
def group(task):
    t = task.lower()
    if "kubeadm" in t or "kubelet" in t or "join" in t: return "kubeadm and kubelet"
    if "image" in t: return "container images"
    if "cilium" in t or "coredns" in t or "node ready" in t: return "Cilium, nodes Ready, CoreDNS"
    if "download" in t or "unpack" in t or "binar" in t: return "downloads and unpacking"
    return "everything else"
groups = {}
for (play, task), d in longest.items():
    groups[group(task)] = groups.get(group(task), 0) + d
print(f"cold run {total:.1f} s wall; per group, the sum over tasks of the slowest host's step time:")
for g, d in sorted(groups.items(), key=lambda x: -x[1]):
    print(f"  {g:32s} {d:7.1f} s")
print("slowest steps:")
for (play, task), d in sorted(longest.items(), key=lambda x: -x[1])[:8]:
    print(f"  {d:7.1f} s  {task}")
PY
printf 'cluster.yml on 3 lab hosts (real Kubernetes 1.36.4, Cilium 1.20.1), %d round(s): cold %s s, warm %s s; kubeforge CPU (cold) %s s\n' \
    "$ROUNDS" "$(tr '\n' ' ' < "$WORK/cold")" "$(tr '\n' ' ' < "$WORK/warm")" "$(tr '\n' ' ' < "$WORK/cpu")"
echo "cold_s=$(median < "$WORK/cold") warm_s=$(median < "$WORK/warm") kubeforge_cpu_s=$(median < "$WORK/cpu")"
