#!/usr/bin/env bash
# bench/upgrade.sh: `kubeforge upgrade` on the lab (instance-1 control plane and worker,
# instance-2..4 etcd-only): cluster.yml installs Debian bookworm's etcd 3.4.23 and
# containerd 1.6.20 (lab-vars.yml), then upgrade moves to sid's etcd 3.5.30 and
# containerd 2.1.9 (lab-vars-upgrade.yml). The phases needing a real kubeadm/kubelet/
# cilium are left out (stand-ins in the lab). Prints the upgrade's wall time, the time
# some host was running a step (from the events' started_ms/duration_ms), kubeforge's own
# overhead (wall minus that: planning, connecting, waiting between plays and batches)
# as a ratio of the wall time, and the time spent in restarts and health gates.
# Last line: wall_s=<s> busy_s=<s> overhead_s=<s> overhead_ratio=<r> restarts_s=<s>
set -euo pipefail
exec </dev/null
cd "$(dirname "$(readlink -f "$0")")/.."
KF_LAB_DIR=${KF_LAB_DIR:-/run/kubeforge-lab}
WORK=$(mktemp -d /tmp/kfupgrade.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cargo build --release --locked -q
KF=$PWD/target/release/kubeforge
bash tests/lab/files-repo.sh >&2
FILES=/var/cache/kubeforge-lab/files
SKIP=kubeadm,cilium_install,crictl,apiserver,nodes,cilium
KF_LAB_FRESH=1 tests/lab/up.sh 4 > /dev/null
bash tests/lab/files-server.sh start
{
    echo "all:"
    echo "  hosts:"
    for k in 1 2 3 4; do
        echo "    instance-$k: {ansible_host: 10.213.0.1$k, ansible_user: root, ansible_ssh_private_key_file: $KF_LAB_DIR/id_ed25519, ip: 10.213.0.1$k, etcd_member_name: instance-$k}"
    done
    echo "  vars: {install_os_packages: false, containerd_snapshotter: native, local_release_dir: /var/cache/kubeforge/releases}"
    echo "  children:"
    echo "    kube_control_plane: {hosts: {instance-1: }}"
    echo "    kube_node: {hosts: {instance-1: }}"
    echo "    etcd: {hosts: {instance-2: , instance-3: , instance-4: }}"
} > "$WORK/hosts.yaml"
run() { # VARS PLAYBOOK-OR-OP EVENTS
    "$KF" "$@" --known-hosts "$KF_LAB_DIR/known_hosts" --skip-tags "$SKIP" > "$WORK/last.log" 2>&1 ||
        { cat "$WORK/last.log" >&2; exit 1; }
}
run run -i "$WORK/hosts.yaml" playbooks/cluster.yml -e "@$FILES/lab-vars.yml" --output "json=$WORK/install.jsonl"
t0=$(date +%s.%N)
run upgrade -i "$WORK/hosts.yaml" -e "@$FILES/lab-vars-upgrade.yml" --output "json=$WORK/upgrade.jsonl"
t1=$(date +%s.%N)
python3 - "$WORK/upgrade.jsonl" "$t0" "$t1" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
wall = float(sys.argv[3]) - float(sys.argv[2])
steps = [e for e in events if e["event"] == "step_result"]
spans = sorted((e["started_ms"], e["started_ms"] + e["duration_ms"]) for e in steps)
busy, end = 0, -1
for s, f in spans:
    if s > end:
        busy += f - s
        end = f
    elif f > end:
        busy += f - end
        end = f
busy /= 1000.0
restarts = sum(e["duration_ms"] for e in steps
               if any(w in e["task"] for w in ("restart", "health gate", "running and enabled"))) / 1000.0
print("upgrade on 4 lab hosts (etcd 3.4.23 -> 3.5.30 on 3 members, containerd 1.6.20 -> 2.1.9):")
print("  wall %.2f s; some host busy %.2f s; kubeforge's own overhead %.2f s (%.1f%% of the wall time);"
      " restarts and health gates %.2f s" % (wall, busy, wall - busy, 100 * (wall - busy) / wall, restarts))
print("wall_s=%.2f busy_s=%.2f overhead_s=%.2f overhead_ratio=%.3f restarts_s=%.2f"
      % (wall, busy, wall - busy, (wall - busy) / wall, restarts))
PY
