#!/usr/bin/env bash
# bench/run.sh: the same 40 idempotent steps on 3 lab hosts, with kubeforge and with a
# hand-written bash script over plain ssh (one session per host, in parallel). First run
# on clean hosts (cold) and second run (warm), each tool in its own directory, medians
# of BENCH_ROUNDS (default 5); then the same through a 20 ms round-trip delay proxy.
# Last line: cold_ratio=<kubeforge/ssh> warm_ratio=<kubeforge/ssh> wan_warm_ratio=<...>
# Also measures kubeforge's wall time and peak memory for 1, 3 and 10 hosts.
set -euo pipefail
exec </dev/null
cd "$(dirname "$(readlink -f "$0")")/.."
ROUNDS=${BENCH_ROUNDS:-5}
WAN_ROUNDS=${BENCH_WAN_ROUNDS:-3}
KF_LAB_DIR=${KF_LAB_DIR:-/run/kubeforge-lab}
KEY=$KF_LAB_DIR/id_ed25519
KH=$KF_LAB_DIR/known_hosts
WORK=$(mktemp -d /tmp/kfbench.XXXXXX)
PROXY_PID=
cleanup() {
    if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v /usr/bin/time >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null 2>&1 || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null; }; }
cargo build --release --locked -q
KF=$PWD/target/release/kubeforge

tests/lab/up.sh 3 > "$WORK/lab.yaml"
HOSTS=(instance-1 instance-2 instance-3)
ADDRS=(10.213.0.11 10.213.0.12 10.213.0.13)

# Inventory: the lab's hosts as workers (the bench needs no roles beyond a group).
inventory() { # FILE [PORT_BASE]: with a port base, hosts are reached through the proxy
    {
        echo "all:"
        echo "  hosts:"
        for k in 0 1 2; do
            echo "    ${HOSTS[$k]}:"
            if [ -n "${2:-}" ]; then
                echo "      ansible_host: 127.0.0.1"
                echo "      ansible_port: $(($2 + k))"
            else
                echo "      ansible_host: ${ADDRS[$k]}"
            fi
            echo "      ansible_user: root"
            echo "      ansible_ssh_private_key_file: $KEY"
            echo "      ip: ${ADDRS[$k]}"
        done
        echo "  children:"
        echo "    kube_control_plane: {hosts: {instance-1: }}"
        echo "    etcd: {hosts: {instance-1: }}"
        echo "    kube_node: {hosts: {instance-2: , instance-3: }}"
    } > "$1"
}
inventory "$WORK/lan.yaml"

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.3f\n", e - s }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# (UserKnownHostsFile is given per call: OpenSSH keeps the first value of an option.)
ssh_opts=(-i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=yes -o LogLevel=ERROR -o ControlMaster=no -o ControlPath=none)

# `wait` with pids only: a bare `wait` would also wait for the delay proxy.
clean() { # remove both tools' directories on every host (not timed)
    local a pids=()
    for a in "${ADDRS[@]}"; do ssh "${ssh_opts[@]}" -o UserKnownHostsFile="$KH" "root@$a" 'rm -rf /root/kfbench /root/sshbench' & pids+=($!); done
    wait "${pids[@]}"
}

run_kf() { # INVENTORY KNOWN_HOSTS -> seconds
    local t0; t0=$(now)
    "$KF" run -i "$1" bench/steps.yml --known-hosts "$2" -e root=/root/kfbench > "$WORK/kf.log" 2>&1 || { cat "$WORK/kf.log" >&2; exit 1; }
    since "$t0"
}

run_ssh() { # KNOWN_HOSTS [PORT_BASE] -> seconds
    local t0 k pids=(); t0=$(now)
    for k in 0 1 2; do
        if [ -n "${2:-}" ]; then
            ssh "${ssh_opts[@]}" -o UserKnownHostsFile="$1" -p $(($2 + k)) root@127.0.0.1 "bash -s -- ${HOSTS[$k]} /root/sshbench" < bench/steps.sh &
        else
            ssh "${ssh_opts[@]}" -o UserKnownHostsFile="$1" "root@${ADDRS[$k]}" "bash -s -- ${HOSTS[$k]} /root/sshbench" < bench/steps.sh &
        fi
        pids+=($!)
    done
    wait "${pids[@]}"
    since "$t0"
}

measure() { # LABEL INVENTORY KNOWN_HOSTS ROUNDS [PORT_BASE]
    local i
    : > "$WORK/$1.kf_cold"; : > "$WORK/$1.kf_warm"; : > "$WORK/$1.ssh_cold"; : > "$WORK/$1.ssh_warm"
    for ((i = 1; i <= $4; i++)); do
        clean
        run_kf "$2" "$3" >> "$WORK/$1.kf_cold"
        run_kf "$2" "$3" >> "$WORK/$1.kf_warm"
        run_ssh "$3" "${5:-}" >> "$WORK/$1.ssh_cold"
        run_ssh "$3" "${5:-}" >> "$WORK/$1.ssh_warm"
    done
}

echo "lab: 3 hosts; rounds: $ROUNDS (LAN), $WAN_ROUNDS (20 ms RTT)" >&2
measure lan "$WORK/lan.yaml" "$KH" "$ROUNDS"
# The warm run must really change nothing.
"$KF" run -i "$WORK/lan.yaml" bench/steps.yml --known-hosts "$KH" -e root=/root/kfbench --output "json=$WORK/warm.jsonl" > /dev/null
python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; c=sum(h["changed"] for h in r["hosts"].values()); sys.exit(0 if c==0 else "warm run changed %d steps" % c)' "$WORK/warm.jsonl"

# WAN: a 10 ms each-way delay proxy in front of each host's sshd.
PORT=23100
awk -v p=$PORT '{ split($1, hs, ","); for (i in hs) { if (hs[i] == "10.213.0.11") print "[127.0.0.1]:" p " " $2 " " $3; if (hs[i] == "10.213.0.12") print "[127.0.0.1]:" p+1 " " $2 " " $3; if (hs[i] == "10.213.0.13") print "[127.0.0.1]:" p+2 " " $2 " " $3 } }' "$KH" > "$WORK/wan_known_hosts"
python3 bench/delayproxy.py 10 3600 "$PORT:10.213.0.11:22" "$((PORT + 1)):10.213.0.12:22" "$((PORT + 2)):10.213.0.13:22" > "$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 50); do grep -q ready "$WORK/proxy.log" && break; sleep 0.1; done
inventory "$WORK/wan.yaml" "$PORT"
measure wan "$WORK/wan.yaml" "$WORK/wan_known_hosts" "$WAN_ROUNDS" "$PORT"
kill "$PROXY_PID"; PROXY_PID=

m() { median < "$WORK/$1"; }
printf '\n%-28s %10s %10s %8s\n' "median of runs (s)" kubeforge ssh ratio
for set in lan wan; do
    for phase in cold warm; do
        kf=$(m "$set.kf_$phase"); sh=$(m "$set.ssh_$phase")
        printf '%-28s %10s %10s %8s\n' "$set $phase" "$kf" "$sh" "$(awk -v a="$kf" -v b="$sh" 'BEGIN { printf "%.2f", a / b }')"
    done
done

# Time and peak memory of the kubeforge process for 1, 3 and 10 hosts (warm runs, LAN).
if [ "${BENCH_SCALE:-1}" = 1 ]; then
    tests/lab/up.sh 10 > "$WORK/lab10.yaml"
    printf '\n%-8s %10s %14s\n' hosts "wall (s)" "peak RSS (MiB)"
    for n in 1 3 10; do
        {
            echo "all:"
            echo "  hosts:"
            for ((k = 1; k <= n; k++)); do
                printf '    instance-%d: {ansible_host: 10.213.0.%d, ansible_user: root, ansible_ssh_private_key_file: %s, ip: 10.213.0.%d}\n' "$k" $((10 + k)) "$KEY" $((10 + k))
            done
            echo "  children:"
            echo "    kube_control_plane: {hosts: {instance-1: }}"
            echo "    etcd: {hosts: {instance-1: }}"
            echo "    kube_node:"
            echo "      hosts:"
            for ((k = 2; k <= n; k++)); do echo "        instance-$k:"; done
        } > "$WORK/scale$n.yaml"
        "$KF" run -i "$WORK/scale$n.yaml" bench/steps.yml --known-hosts "$KH" -e root=/root/kfbench > /dev/null 2>&1 || true
        /usr/bin/time -f '%e %M' -o "$WORK/time$n" "$KF" run -i "$WORK/scale$n.yaml" bench/steps.yml --known-hosts "$KH" -e root=/root/kfbench > /dev/null 2>&1 || true
        read -r wall rss < "$WORK/time$n"
        printf '%-8s %10s %14s\n' "$n" "$wall" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
    done
fi

r() { awk -v a="$(m "$1.kf_$2")" -v b="$(m "$1.ssh_$2")" 'BEGIN { printf "%.2f", a / b }'; }
echo "cold_ratio=$(r lan cold) warm_ratio=$(r lan warm) wan_warm_ratio=$(r wan warm)"
