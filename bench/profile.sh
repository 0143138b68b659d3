#!/usr/bin/env bash
# bench/profile.sh [STEPS...] : where a host's time goes, counted on the remote side.
#
# One host on this machine (ansible_connection: local, the same batch scripts an SSH host
# gets), the scale bench's steps (STEPS/4 x {directory, file naming the host, line in a
# file, command with creates}; default 20 and 80), cold (fresh directory) and warm
# (nothing to change), under `strace -f`. Counted per run: round trips (scripts the host
# ran: `sh -s` sessions), bytes of shell sent, processes the host forked and programs it
# executed (the shells' own subshells included), and the same for the hand-written
# script plain ssh runs (`bash -s`, bench/scale.sh's). Not a timing: counts only, so it
# runs on a busy machine. Needs strace (installed if missing) and python3.
set -euo pipefail
exec </dev/null
cd "$(dirname "$(readlink -f "$0")")/.."
[ $# -ge 1 ] || set -- 20 80
for a in "$@"; do
    [[ $a =~ ^[1-9][0-9]*$ ]] && [ $((a % 4)) = 0 ] || { echo "usage: bench/profile.sh [STEPS (a multiple of 4)]..." >&2; exit 2; }
done
command -v strace >/dev/null 2>&1 || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q strace >&2 || { apt-get update -q >&2 && apt-get install -y -q strace >&2; }
}
cargo build --release --locked -q
KF=${CARGO_TARGET_DIR:-$PWD/target}/release/kubeforge
WORK=$(mktemp -d /tmp/kfprofile.XXXXXX)
trap "rm -rf $WORK" EXIT

# The scale bench's playbook and script, for STEPS steps ($1) on one host.
playbook() {
    {
        echo "- name: scale"
        echo "  hosts: kube_node"
        echo "  tasks:"
        for i in $(seq $(($1 / 4))); do
            d="{{ root }}/{{ inventory_hostname }}/d$i"
            echo "    - {name: \"directory $i\", file: {path: \"$d\", state: directory, mode: \"0755\"}}"
            echo "    - {name: \"file $i\", copy: {dest: \"$d/host.txt\", content: \"host {{ inventory_hostname }} item $i\\n\"}}"
            echo "    - {name: \"line $i\", lineinfile: {path: \"$d/lines.txt\", line: \"line $i\", create: true}}"
            echo "    - {name: \"command $i\", command: \"touch $d/marker\", args: {creates: \"$d/marker\"}}"
        done
    } > "$WORK/scale-$1.yml"
    cat > "$WORK/steps-$1.sh" <<EOF
set -e
host=\$1
root=\$2
for i in \$(seq $(($1 / 4))); do
    d=\$root/\$host/d\$i
    [ -d "\$d" ] || mkdir -p "\$d"
    [ "\$(stat -c %a "\$d")" = 755 ] || chmod 755 "\$d"
    want="host \$host item \$i"
    [ "\$(cat "\$d/host.txt" 2>/dev/null)" = "\$want" ] || printf '%s\n' "\$want" > "\$d/host.txt"
    grep -qxF "line \$i" "\$d/lines.txt" 2>/dev/null || echo "line \$i" >> "\$d/lines.txt"
    [ -e "\$d/marker" ] || touch "\$d/marker"
done
EOF
}

cat > "$WORK/inv.yaml" <<EOF
all:
  vars:
    ansible_connection: local
    root: $WORK/kf
  hosts:
    h1: {ip: 127.0.0.1}
  children:
    kube_control_plane: {hosts: {h1: }}
    etcd: {hosts: {h1: }}
    kube_node: {hosts: {h1: }}
EOF

# count TRACE ROOTPID: "round_trips bytes forks execs (top programs)" of the processes
# under ROOTPID's children (kubeforge's own threads are not forks).
count() {
    python3 - "$1" <<'EOF'
import collections, re, sys
scripts, nbytes, forks, execs = set(), 0, 0, collections.Counter()
root = None
pending = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\d+)\s+(.*)", line.rstrip("\n"))
    if not m:
        continue
    pid, call = int(m.group(1)), m.group(2)
    # A call another thread interrupted comes in two lines: join them.
    if call.endswith("<unfinished ...>"):
        pending[pid] = call[: -len("<unfinished ...>")].rstrip()
        continue
    r = re.match(r"<\.\.\. \w+ resumed>(.*)", call)
    if r:
        call = pending.pop(pid, "") + r.group(1)
    if root is None:
        root = pid
    if call.startswith("execve("):
        if re.search(r"= 0$", call):
            argv = re.findall(r'"((?:[^"\\]|\\.)*)"', call)
            prog = argv[1] if len(argv) > 1 else argv[0]
            if pid != root:
                execs[prog.rsplit("/", 1)[-1]] += 1
            if argv[1:3] == ["sh", "-s"] or argv[1:3] == ["bash", "-s"]:
                scripts.add(pid)
    elif re.match(r"(clone3?|fork|vfork)\(", call) and "CLONE_THREAD" not in call:
        if re.search(r"= \d+$", call):
            forks += 1
    elif call.startswith("read(0,") and pid in scripts:
        r = re.search(r"= (\d+)$", call)
        if r:
            nbytes += int(r.group(1))
top = ", ".join(f"{p} {n}" for p, n in execs.most_common(8))
print(len(scripts), nbytes, forks, sum(execs.values()), top, sep="\t")
EOF
}

trace() { # OUT CMD...
    local out=$1
    shift
    strace -f -qq -o "$out" -e trace=execve,clone,clone3,fork,vfork,read -e signal=none "$@" > "$out.log" 2>&1 || true
}

echo "| steps | run | tool | round trips | bytes of shell | bytes per step | forks | forks per step | programs run | most run |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in "$@"; do
    playbook "$n"
    for tool in kubeforge ssh; do
        rm -rf "$WORK/kf"
        mkdir -p "$WORK/kf"
        for run in cold warm; do
            t=$WORK/$tool-$n-$run.trace
            if [ $tool = kubeforge ]; then
                trace "$t" "$KF" run -i "$WORK/inv.yaml" "$WORK/scale-$n.yml"
            else
                trace "$t" bash -c "exec bash -s h1 $WORK/kf < $WORK/steps-$n.sh"
            fi
            IFS=$'\t' read -r trips bytes forks execs top < <(count "$t")
            if [ $tool = ssh ]; then trips="1 (one ssh)"; fi
            echo "| $n | $run | $tool | $trips | $bytes | $((bytes / n)) | $forks | $(awk -v f="$forks" -v n="$n" 'BEGIN { printf "%.2f", f / n }') | $execs | $top |"
        done
    done
done
