#!/usr/bin/env bash
# bench/scale.sh [--steps LIST] [--direct|--bastion] N... : kubeforge against plain ssh on N
# hosts at once.
#
# N "hosts" are addresses 127.10.a.b in a private network namespace, all served by one
# sshd (tests/scale/ns.sh); logins go to an unprivileged user with no shell start-up
# files; each host works in its own directory. Both tools do the same idempotent steps
# per host: kubeforge with its default flags, plain ssh as one `bash -s` per host through
# `xargs -P 200`. --steps takes a comma-separated list (default 20): a multiple of 4 is
# that many steps of {directory, file naming the host, line in a file, command with
# creates}; `mix` is 80 steps shaped like cluster.yml (8 x {directory, template that
# notifies a handler, line, command with creates, a registered read, a file derived from
# it, a mode, an env file, an absent file, shell with creates}: the registered read splits
# each host's batch, the handler runs only when a template changed). After --bastion
# (until --direct) every host is reached through one bastion sshd with OpenSSH's default
# limits: kubeforge from the inventory's bastion group, plain ssh through one
# ControlMaster connection to the bastion (ProxyCommand ssh -W over it). KF_BASE=PATH
# also runs another kubeforge binary (a baseline build) in the same invocation, on the
# same hosts, and prints its row beside. Example: bench/scale.sh --steps 20,80,mix 300 1000
#
# Per N, steps and mode: cold (fresh directories) and warm (nothing to change) seconds
# of both tools and their ratios; kubeforge's peak RSS (the larger of cold and warm) and
# CPU seconds (warm); SSH sessions per host (exec channels the hosts' sshd started in
# kubeforge's warm run, mean and max); connections the bastion accepted in that run;
# hosts not ok (cold+warm, each tool); steps changed in kubeforge's warm run. Ends with
# one markdown table. Heavy at N=1000 (both cores for minutes): run it alone.
set -euo pipefail
exec </dev/null
cd "$(dirname "$(readlink -f "$0")")/.."

usage() { echo "usage: bench/scale.sh [--steps 20,80,mix] [--direct|--bastion] N..." >&2; exit 2; }
[ $# -ge 1 ] || usage
MAXN=0
STEP_LIST=20
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --steps) [ $# -ge 2 ] || usage; STEP_LIST=$2; shift 2; continue ;;
    --direct | --bastion) ;;
    *) [[ $1 =~ ^[1-9][0-9]*$ ]] || usage; [ "$1" -gt "$MAXN" ] && MAXN=$1 ;;
    esac
    args+=("$1")
    shift
done
set -- "${args[@]}"
IFS=, read -r -a STEP_SETS <<< "$STEP_LIST"
for st in "${STEP_SETS[@]}"; do
    [ "$st" = mix ] || { [[ $st =~ ^[1-9][0-9]*$ ]] && [ $((st % 4)) = 0 ]; } || usage
done
[ "$MAXN" -gt 0 ] || usage
[ "$(id -u)" = 0 ] || { echo "bench/scale.sh needs root (network namespace, sshd)" >&2; exit 2; }
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

# gen STEPS: the playbook ($WORK/scale-STEPS.yml) and the equivalent hand-written script
# ($WORK/steps-STEPS.sh, run as `bash -s -- NAME ROOT IP`).
gen() {
    local st=$1 i d
    if [ "$st" = mix ]; then
        printf '# managed by kubeforge\nname = {{ inventory_hostname }}\naddress = {{ ip }}\nroot = {{ root }}\n' > "$WORK/app.conf.j2"
        {
            echo "- name: scale"
            echo "  hosts: kube_node"
            echo "  tasks:"
            for i in $(seq 8); do
                d="{{ root }}/{{ inventory_hostname }}/d$i"
                echo "    - {name: \"directory $i\", file: {path: \"$d\", state: directory, mode: \"0755\"}}"
                echo "    - {name: \"config $i\", template: {src: \"$WORK/app.conf.j2\", dest: \"$d/app.conf\", mode: \"0644\"}, notify: restart}"
                echo "    - {name: \"line $i\", lineinfile: {path: \"$d/lines.txt\", line: \"line $i\", create: true}}"
                echo "    - {name: \"command $i\", command: \"touch $d/marker\", args: {creates: \"$d/marker\"}}"
                echo "    - {name: \"read $i\", command: \"cat $d/app.conf\", register: conf$i, changed_when: false}"
                echo "    - {name: \"derived $i\", copy: {dest: \"$d/derived.txt\", content: \"{{ conf$i.stdout_lines | length }} lines\\n\"}}"
                echo "    - {name: \"mode $i\", file: {path: \"$d/lines.txt\", state: file, mode: \"0640\"}}"
                echo "    - {name: \"env $i\", copy: {dest: \"$d/env\", content: \"HOST={{ inventory_hostname }}\\nIP={{ ip }}\\n\", mode: \"0600\"}}"
                echo "    - {name: \"absent $i\", file: {path: \"$d/old.txt\", state: absent}}"
                echo "    - {name: \"shell $i\", shell: \"echo ok > $d/shell.out\", args: {creates: \"$d/shell.out\"}}"
            done
            echo "  handlers:"
            echo "    - {name: restart, command: \"touch {{ root }}/{{ inventory_hostname }}/restarted\"}"
        } > "$WORK/scale-$st.yml"
        cat > "$WORK/steps-$st.sh" <<'EOF'
set -e
host=$1
root=$2
ip=$3
restart=
for i in $(seq 8); do
    d=$root/$host/d$i
    [ -d "$d" ] || mkdir -p "$d"
    [ "$(stat -c %a "$d")" = 755 ] || chmod 755 "$d"
    want=$(printf '# managed by kubeforge\nname = %s\naddress = %s\nroot = %s' "$host" "$ip" "$root")
    [ "$(cat "$d/app.conf" 2>/dev/null)" = "$want" ] || { printf '%s\n' "$want" > "$d/app.conf"; restart=1; }
    [ "$(stat -c %a "$d/app.conf")" = 644 ] || chmod 644 "$d/app.conf"
    grep -qxF "line $i" "$d/lines.txt" 2>/dev/null || echo "line $i" >> "$d/lines.txt"
    [ -e "$d/marker" ] || touch "$d/marker"
    n=$(wc -l < "$d/app.conf")
    [ "$(cat "$d/derived.txt" 2>/dev/null)" = "$n lines" ] || printf '%s lines\n' "$n" > "$d/derived.txt"
    [ "$(stat -c %a "$d/lines.txt")" = 640 ] || chmod 640 "$d/lines.txt"
    want=$(printf 'HOST=%s\nIP=%s' "$host" "$ip")
    [ "$(cat "$d/env" 2>/dev/null)" = "$want" ] || printf '%s\n' "$want" > "$d/env"
    [ "$(stat -c %a "$d/env")" = 600 ] || chmod 600 "$d/env"
    [ ! -e "$d/old.txt" ] || rm -rf "$d/old.txt"
    [ -e "$d/shell.out" ] || sh -c "echo ok > $d/shell.out"
done
[ -z "$restart" ] || touch "$root/$host/restarted"
EOF
        return
    fi
    # STEPS/4 times {directory, file naming the host, line in a file, command with creates}.
    {
        echo "- name: scale"
        echo "  hosts: kube_node"
        echo "  tasks:"
        for i in $(seq $((st / 4))); do
            d="{{ root }}/{{ inventory_hostname }}/d$i"
            echo "    - {name: \"directory $i\", file: {path: \"$d\", state: directory, mode: \"0755\"}}"
            echo "    - {name: \"file $i\", copy: {dest: \"$d/host.txt\", content: \"host {{ inventory_hostname }} item $i\\n\"}}"
            echo "    - {name: \"line $i\", lineinfile: {path: \"$d/lines.txt\", line: \"line $i\", create: true}}"
            echo "    - {name: \"command $i\", command: \"touch $d/marker\", args: {creates: \"$d/marker\"}}"
        done
    } > "$WORK/scale-$st.yml"
    cat > "$WORK/steps-$st.sh" <<EOF
set -e
host=\$1
root=\$2
for i in \$(seq $((st / 4))); do
    d=\$root/\$host/d\$i
    [ -d "\$d" ] || mkdir -p "\$d"
    [ "\$(stat -c %a "\$d")" = 755 ] || chmod 755 "\$d"
    want="host \$host item \$i"
    [ "\$(cat "\$d/host.txt" 2>/dev/null)" = "\$want" ] || printf '%s\\n' "\$want" > "\$d/host.txt"
    grep -qxF "line \$i" "\$d/lines.txt" 2>/dev/null || echo "line \$i" >> "\$d/lines.txt"
    [ -e "\$d/marker" ] || touch "\$d/marker"
done
EOF
}
for st in "${STEP_SETS[@]}"; do gen "$st"; done
cat > "$WORK/one.sh" <<EOF
#!/usr/bin/env bash
# one.sh NAME ADDRESS: the steps on one host over plain ssh (\$KF_STEPS: which).
mapfile -t opts < "$WORK/ssh_opts"
if ssh "\${opts[@]}" "kfscale@\$2" "bash -s -- \$1 $HOME_DIR/ssh \$2" < "$WORK/steps-\$KF_STEPS.sh"; then
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

run_ssh() { # N STEPS -> seconds; hosts that finished are listed in $WORK/ssh_ok
    local t0
    : > "$WORK/ssh_ok"
    t0=$(now)
    head -n "$1" "$WORK/hosts" | KF_STEPS=$2 inns xargs -P "$PARALLEL" -L 1 "$WORK/one.sh"
    since "$t0"
}

run_kf() { # BINARY INVENTORY STEPS LABEL -> seconds; /usr/bin/time output and JSON events beside
    local t0 kf=$1
    shift
    t0=$(now)
    inns /usr/bin/time -f '%M %U %S' -o "$WORK/$3.time" "$kf" run -i "$1" "$WORK/scale-$2.yml" \
        --known-hosts "$KH" --output "json=$WORK/$3.jsonl" > "$WORK/$3.log" 2>&1 || true
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
echo "steps/host=$STEP_LIST, plain ssh -P $PARALLEL, $(nproc) cores, $(ssh -V 2>&1)" >&2
fresh() {
    rm -rf "$HOME_DIR/kf" "$HOME_DIR/ssh"
    install -d -o kfscale "$HOME_DIR/kf" "$HOME_DIR/ssh"
}
# measure BINARY NAME N STEPS INVENTORY: one row (kubeforge cold and warm, plain ssh cold
# and warm on fresh directories).
measure() {
    local kf=$1 name=$2 n=$3 st=$4 inv=$5 tag
    tag="${name}_${mode}_${n}_$st"
    fresh
    kf_cold=$(run_kf "$kf" "$inv" "$st" "cold_$tag")
    from=$(($(lines "$WORK/hosts.log") + 1))
    logins0=$(grep -c "^Accepted publickey" "$WORK/bastion.log" || true)
    kf_warm=$(run_kf "$kf" "$inv" "$st" "warm_$tag")
    logins=$(($(grep -c "^Accepted publickey" "$WORK/bastion.log" || true) - logins0))
    read -r sess sess_max <<< "$(sessions "$from")"
    read -r cold_bad _ <<< "$(recap "$WORK/cold_$tag.jsonl")"
    read -r warm_bad warm_changed <<< "$(recap "$WORK/warm_$tag.jsonl")"
    read -r rss_cold _ _ < <(tail -n 1 "$WORK/cold_$tag.time")
    read -r rss_kb user sys < <(tail -n 1 "$WORK/warm_$tag.time")
    [ "$rss_cold" -gt "$rss_kb" ] && rss_kb=$rss_cold
    fresh
    ssh_cold=$(run_ssh "$n" "$st")
    ssh_cold_bad=$((n - $(lines "$WORK/ssh_ok")))
    ssh_warm=$(run_ssh "$n" "$st")
    ssh_warm_bad=$((n - $(lines "$WORK/ssh_ok")))
    rss=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    if [ "$mode" != bastion ]; then logins=-; fi
    local steps=$st
    [ "$st" = mix ] && steps="80 (mix)"
    line="| $n x $steps | $mode | $name | $kf_cold / $kf_warm | $ssh_cold / $ssh_warm | $(ratio "$kf_cold" "$ssh_cold") | $(ratio "$kf_warm" "$ssh_warm") | $rss MiB | $cpu s | $sess (max $sess_max) | $logins | $cold_bad+$warm_bad | $ssh_cold_bad+$ssh_warm_bad | $warm_changed |"
    echo "$line" >&2
    if [ "$cold_bad" != 0 ] || [ "$warm_bad" != 0 ]; then
        for f in "$WORK/cold_$tag.log" "$WORK/warm_$tag.log"; do
            { grep -m 5 -i "unreachable\|failed\|error" "$f" || head -n 20 "$f"; } >&2
        done
    fi
    ROWS+=("$line")
}
for a in "$@"; do
    case $a in
    --direct | --bastion) mode=${a#--}; set_mode "$mode"; continue ;;
    esac
    n=$a
    inv=$(inventory "$n" "$mode")
    for st in "${STEP_SETS[@]}"; do
        measure "$KF" kubeforge "$n" "$st" "$inv"
        if [ -n "${KF_BASE:-}" ]; then measure "$KF_BASE" baseline "$n" "$st" "$inv"; fi
    done
done
echo
echo "| hosts x steps | mode | binary | kubeforge cold / warm (s) | plain ssh cold / warm (s) | cold ratio | warm ratio | kubeforge peak RSS | kubeforge CPU (warm) | SSH sessions per host | bastion connections | kubeforge hosts not ok | plain ssh hosts not ok | warm steps changed |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
