#!/usr/bin/env bash
# bench/cluster.sh: cluster.yml on the 3-host separate lab (instance-1 control plane,
# instance-2 worker, instance-3 etcd-only), artifacts served locally from the lab's files
# repository: from clean hosts (cold) and again with nothing to change (warm), medians of
# BENCH_ROUNDS (default 3). The phases that need a real kubeadm/kubelet/cilium (tags
# kubeadm, cilium_install and the checks needing them) are left out: the lab has only
# stand-ins for those (see tests/lab/README.md). Last line: cold_s=<s> warm_s=<s>
set -euo pipefail
exec </dev/null
cd "$(dirname "$(readlink -f "$0")")/.."
ROUNDS=${BENCH_ROUNDS:-3}
KF_LAB_DIR=${KF_LAB_DIR:-/run/kubeforge-lab}
WORK=$(mktemp -d /tmp/kfcluster.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cargo build --release --locked -q
KF=$PWD/target/release/kubeforge
bash tests/lab/files-repo.sh >&2
SKIP=kubeadm,cilium_install,crictl,apiserver,nodes,cilium
now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
: > "$WORK/cold"; : > "$WORK/warm"
for ((r = 1; r <= ROUNDS; r++)); do
    KF_LAB_FRESH=1 tests/lab/up.sh 3 > /dev/null
    bash tests/lab/files-server.sh start
    {
        echo "all:"
        echo "  hosts:"
        for k in 1 2 3; do
            echo "    instance-$k: {ansible_host: 10.213.0.1$k, ansible_user: root, ansible_ssh_private_key_file: $KF_LAB_DIR/id_ed25519, ip: 10.213.0.1$k}"
        done
        echo "  vars: {install_os_packages: false, containerd_snapshotter: native, local_release_dir: /var/cache/kubeforge/releases}"
        echo "  children:"
        echo "    kube_control_plane: {hosts: {instance-1: }}"
        echo "    kube_node: {hosts: {instance-2: }}"
        echo "    etcd: {hosts: {instance-3: }}"
    } > "$WORK/hosts.yaml"
    rm -rf "$WORK/credentials"
    for phase in cold warm; do
        t0=$(now)
        "$KF" run -i "$WORK/hosts.yaml" playbooks/cluster.yml -e @/var/cache/kubeforge-lab/files/lab-vars.yml \
            --known-hosts "$KF_LAB_DIR/known_hosts" --skip-tags "$SKIP" --output "json=$WORK/$phase.jsonl" > "$WORK/$phase.log" 2>&1 ||
            { cat "$WORK/$phase.log" >&2; exit 1; }
        awk -v s="$t0" -v e="$(now)" 'BEGIN { printf "%.2f\n", e - s }' >> "$WORK/$phase"
    done
    python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; c=sum(h["changed"] for h in r["hosts"].values()); sys.exit(0 if c==0 else "warm run changed %d steps" % c)' "$WORK/warm.jsonl"
done
printf 'cluster.yml on 3 lab hosts, %d round(s): cold %s s, warm %s s\n' "$ROUNDS" "$(tr '\n' ' ' < "$WORK/cold")" "$(tr '\n' ' ' < "$WORK/warm")"
echo "cold_s=$(median < "$WORK/cold") warm_s=$(median < "$WORK/warm")"
