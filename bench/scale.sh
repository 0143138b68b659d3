#!/usr/bin/env bash
# bench/scale.sh [--direct|--bastion] N... : kubeforge against plain ssh on N hosts at once.
#
# N "hosts" are addresses 127.10.a.b in a private network namespace, all served by one
# sshd (tests/scale/ns.sh); logins go to an unprivileged user with no shell start-up
# files; each host works in its own directory. Both tools do the same 20 idempotent
# steps per host: kubeforge with its default flags, plain ssh as one `bash -s` per host
# through `xargs -P 200`. After --bastion (until --direct) every host is reached through
# one bastion sshd with OpenSSH's default limits: kubeforge from the inventory's bastion
# group, plain ssh through one ControlMaster connection to the bastion (ProxyCommand
# ssh -W over it). Example: bench/scale.sh 100 1000 --bastion 100 1000
#
# Per N and mode: cold (fresh directories) and warm (nothing to change) seconds of both
# tools; kubeforge's peak RSS and CPU seconds (warm); SSH sessions per host (exec
# channels the hosts' sshd started in kubeforge's warm run, mean and max); connections
# the bastion accepted in that run; hosts not ok (cold+warm, each tool); steps changed in
# kubeforge's warm run. Ends with one markdown table. Heavy at N=1000 (both cores for
# minutes): run it alone.
set -euo pipefail
exec </dev/null
cd "$(dirname "$(readlink -f "$0")")/.."

usage() { echo "usage: bench/scale.sh [--direct|--bastion] N..." >&2; exit 2; }
[ $# -ge 1 ] || usage
MAXN=0
for a in "$@"; do
    case $a in
    --direct | --bastion) ;;
    *) [[ $a =~ ^[1-9][0-9]*$ ]] || usage; [ "$a" -gt "$MAXN" ] && MAXN=$a ;;
    esac
done
[ "$MAXN" -gt 0 ] || usage
[ "$(id -u)" = 0 ] || { echo "bench/scale.sh needs root (network namespace, sshd)" >&2; exit 2; }
STEPS=20
PARALLEL=200
NS=kfscale-bench-$$
HOME_DIR=/var/lib/kfscale
WORK=$(mktemp -d /tmp/kfscale.XXXXXX)
MASTER=

inns() { ip netns exec "$NS" "$@"; }
stop_master() {
    if [ -n "$MASTER" ]; then
        inns ssh -o ControlPath="$WORK/cm" -O exit -p 2222 kfscale@127.0.0.1 >/dev/null 2>&1 || true
        MASTER=
    fi
}
cleanup() {
    stop_master
    tests/scale/ns.sh down "$WORK" || true
    rm -rf "$WORK" "$HOME_DIR/kf" "$HOME_DIR/ssh"
}
trap cleanup EXIT

missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
fi
cargo build --release --locked -q
KF=${CARGO_TARGET_DIR:-$PWD/target}/release/kubeforge

tests/scale/ns.sh up "$WORK" "$NS" "$MAXN" >&2
KEY=$WORK/id_ed25519
KH=$WORK/known_hosts

# The 20 steps: 5 times {directory, file naming the host, line in a file, command with
# creates}, as a playbook and as the equivalent hand-written script.
{
    echo "- name: scale"
    echo "  hosts: kube_node"
    echo "  tasks:"
    for i in $(seq $((STEPS / 4))); do
        d="{{ root }}/{{ inventory_hostname }}/d$i"
        echo "    - {name: \"directory $i\", file: {path: \"$d\", state: directory, mode: \"0755\"}}"
        echo "    - {name: \"file $i\", copy: {dest: \"$d/host.txt\", content: \"host {{ inventory_hostname }} item $i\\n\"}}"
        echo "    - {name: \"line $i\", lineinfile: {path: \"$d/lines.txt\", line: \"line $i\", create: true}}"
        echo "    - {name: \"command $i\", command: \"touch $d/marker\", args: {creates: \"$d/marker\"}}"
    done
} > "$WORK/scale.yml"
cat > "$WORK/steps.sh" <<EOF
set -e
host=\$1
root=\$2
for i in \$(seq $((STEPS / 4))); do
    d=\$root/\$host/d\$i
    [ -d "\$d" ] || mkdir -p "\$d"
    [ "\$(stat -c %a "\$d")" = 755 ] || chmod 755 "\$d"
    want="host \$host item \$i"
    [ "\$(cat "\$d/host.txt" 2>/dev/null)" = "\$want" ] || printf '%s\n' "\$want" > "\$d/host.txt"
    grep -qxF "line \$i" "\$d/lines.txt" 2>/dev/null || echo "line \$i" >> "\$d/lines.txt"
    [ -e "\$d/marker" ] || touch "\$d/marker"
done
EOF
cat > "$WORK/one.sh" <<EOF
#!/usr/bin/env bash
# one.sh NAME ADDRESS: the steps on one host over plain ssh.
mapfile -t opts < "$WORK/ssh_opts"
if ssh "\${opts[@]}" "kfscale@\$2" "bash -s -- \$1 $HOME_DIR/ssh" < "$WORK/steps.sh"; then
    echo "\$1" >> "$WORK/ssh_ok"
fi
EOF
chmod +x "$WORK/one.sh"

inventory() { # N MODE -> inventory file
    local n=$1 mode=$2 f=$WORK/inv-$2-$1.yaml
    {
        echo "all:"
        echo "  vars:"
        echo "    ansible_user: kfscale"
        echo "    ansible_ssh_private_key_file: $KEY"
        echo "    root: $HOME_DIR/kf"
        echo "    kube_pods_subnet: 10.64.0.0/10  # room for a /24 per node"
        echo "  hosts:"
        head -n "$n" "$WORK/hosts" | awk '{ print "    " $1 ": {ansible_host: " $2 ", ip: " $2 "}" }'
        if [ "$mode" = bastion ]; then echo "    bastion: {ansible_host: 127.0.0.1, ansible_port: 2222}"; fi
        echo "  children:"
        echo "    kube_control_plane: {hosts: {h1: }}"
        echo "    etcd: {hosts: {h1: }}"
        echo "    kube_node:"
        echo "      hosts:"
        head -n "$n" "$WORK/hosts" | awk '{ print "        " $1 ":" }'
        if [ "$mode" = bastion ]; then echo "    bastion: {hosts: {bastion: }}"; fi
    } > "$f"
    echo "$f"
}

set_mode() { # direct|bastion: plain ssh's options for the hosts
    local opts=(-i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KH"
        -o LogLevel=ERROR -o ControlMaster=no -o ControlPath=none)
    stop_master
    if [ "$1" = bastion ]; then
        # One master connection to the bastion; every host's connection is a channel on it.
        inns ssh -i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KH" \
            -o LogLevel=ERROR -o ControlMaster=yes -o ControlPath="$WORK/cm" -fN -p 2222 kfscale@127.0.0.1
        MASTER=1
        opts+=(-o "ProxyCommand=ssh -o ControlPath=$WORK/cm -W %h:%p -p 2222 kfscale@127.0.0.1")
    fi
    printf '%s\n' "${opts[@]}" > "$WORK/ssh_opts"
}

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f\n", e - s }'; }

run_ssh() { # N -> seconds; hosts that finished are listed in $WORK/ssh_ok
    local t0
    : > "$WORK/ssh_ok"
    t0=$(now)
    head -n "$1" "$WORK/hosts" | inns xargs -P "$PARALLEL" -L 1 "$WORK/one.sh"
    since "$t0"
}

run_kf() { # INVENTORY LABEL -> seconds; /usr/bin/time output and JSON events beside
    local t0
    t0=$(now)
    inns /usr/bin/time -f '%M %U %S' -o "$WORK/$2.time" "$KF" run -i "$1" "$WORK/scale.yml" \
        --known-hosts "$KH" --output "json=$WORK/$2.jsonl" > "$WORK/$2.log" 2>&1 || true
    since "$t0"
}

recap() { # EVENTS -> "hosts_not_ok steps_changed" ("all -" without a recap)
    python3 - "$1" <<'EOF'
import json, sys
last = None
try:
    lines = open(sys.argv[1]).readlines()
except OSError:
    lines = []
for line in lines:
    e = json.loads(line)
    if e.get("event") == "recap":
        last = e
if last is None:
    print("all -")
else:
    hosts = last["hosts"].values()
    print(sum(1 for c in hosts if c["failed"] or c["unreachable"]), sum(c["changed"] for c in hosts))
EOF
}

sessions() { # FROM_LINE -> "mean max" exec sessions per host in the hosts' sshd log
    # Its lines name the client port, not the host: two connections to different hosts
    # may share a port, and sessions on such a port count for the mean only.
    tail -n +"$1" "$WORK/hosts.log" | python3 -c '
import re, sys
open_on, per, total = {}, {}, 0
for line in sys.stdin:
    m = re.search(r"Connection from \S+ port (\d+) on (\S+) port", line)
    if m:
        open_on.setdefault(m.group(1), []).append(m.group(2))
        per.setdefault(m.group(2), 0)
        continue
    m = re.search(r"Starting session: \S+ for \S+ from \S+ port (\d+)", line)
    if m:
        total += 1
        hosts = open_on.get(m.group(1), [])
        if len(hosts) == 1:
            per[hosts[0]] += 1
        continue
    m = re.search(r"(?:Disconnected from user \S+|Connection closed by) \S+ port (\d+)", line)
    if m and open_on.get(m.group(1)):
        open_on[m.group(1)].pop(0)
print("%.2f %d" % (total / len(per), max(per.values())) if per else "0 0")
'
}

lines() { wc -l < "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ROWS=()
mode=direct
set_mode direct
echo "steps/host=$STEPS, plain ssh -P $PARALLEL, $(nproc) cores, $(ssh -V 2>&1)" >&2
for a in "$@"; do
    case $a in
    --direct | --bastion) mode=${a#--}; set_mode "$mode"; continue ;;
    esac
    n=$a
    inv=$(inventory "$n" "$mode")
    rm -rf "$HOME_DIR/kf" "$HOME_DIR/ssh"
    install -d -o kfscale "$HOME_DIR/kf" "$HOME_DIR/ssh"
    kf_cold=$(run_kf "$inv" "kf_cold_${mode}_$n")
    from=$(($(lines "$WORK/hosts.log") + 1))
    logins0=$(grep -c "^Accepted publickey" "$WORK/bastion.log" || true)
    kf_warm=$(run_kf "$inv" "kf_warm_${mode}_$n")
    logins=$(($(grep -c "^Accepted publickey" "$WORK/bastion.log" || true) - logins0))
    read -r sess sess_max <<< "$(sessions "$from")"
    read -r cold_bad _ <<< "$(recap "$WORK/kf_cold_${mode}_$n.jsonl")"
    read -r warm_bad warm_changed <<< "$(recap "$WORK/kf_warm_${mode}_$n.jsonl")"
    read -r rss_kb user sys < <(tail -n 1 "$WORK/kf_warm_${mode}_$n.time")
    ssh_cold=$(run_ssh "$n")
    ssh_cold_bad=$((n - $(lines "$WORK/ssh_ok")))
    ssh_warm=$(run_ssh "$n")
    ssh_warm_bad=$((n - $(lines "$WORK/ssh_ok")))
    rss=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    if [ "$mode" != bastion ]; then logins=-; fi
    line="| $n | $mode | $kf_cold / $kf_warm | $ssh_cold / $ssh_warm | $(ratio "$kf_warm" "$ssh_warm") | $rss MiB | $cpu s | $sess (max $sess_max) | $logins | $cold_bad+$warm_bad | $ssh_cold_bad+$ssh_warm_bad | $warm_changed |"
    echo "$line" >&2
    if [ "$cold_bad" != 0 ] || [ "$warm_bad" != 0 ]; then
        for f in "$WORK/kf_cold_${mode}_$n.log" "$WORK/kf_warm_${mode}_$n.log"; do
            { grep -m 5 -i "unreachable\|failed\|error" "$f" || head -n 20 "$f"; } >&2
        done
    fi
    ROWS+=("$line")
done
echo
echo "| N | mode | kubeforge cold / warm (s) | plain ssh cold / warm (s) | warm ratio | kubeforge peak RSS | kubeforge CPU | SSH sessions per host | bastion connections | kubeforge hosts not ok | plain ssh hosts not ok | warm steps changed |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
