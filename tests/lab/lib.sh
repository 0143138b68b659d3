# shellcheck shell=bash
# shellcheck disable=SC2034 # constants used by the scripts that source this
# Shared code for tests/lab/{up,down,host}.sh. Sourced, never run.
#
# The lab: Debian 12 hosts booted with systemd-nspawn on this machine, one
# network namespace each, joined by the bridge kflab0. See README.md.

KF_LAB_DIR=${KF_LAB_DIR:-/run/kubeforge-lab}
KF_LAB_CACHE=${KF_LAB_CACHE:-/var/cache/kubeforge-lab/rootfs-bookworm}
ROOTFS=$KF_LAB_CACHE
LAB_MAX=10
BRIDGE=kflab0
BRIDGE_IP4=10.213.0.1
BRIDGE_IP6=fd00:6b66:6f72::1
NET4=10.213.0.0/24
NET6=fd00:6b66:6f72::/64
# Policy-routing table for packets that arrive from the bridge: it knows only
# the lab subnet, everything else is unreachable (the hosts reach nothing else,
# even on a machine that has IP forwarding on).
RT_TABLE=213
RT_PRIO=2130
# Bump when prepare_rootfs changes: an older cache is re-prepared in place.
ROOTFS_STAMP_VERSION=2
BOOT_TIMEOUT=${KF_LAB_BOOT_TIMEOUT:-60}
STOP_TIMEOUT=${KF_LAB_STOP_TIMEOUT:-10}
SSH_KEY=$KF_LAB_DIR/id_ed25519
KNOWN_HOSTS=$KF_LAB_DIR/known_hosts
INVENTORY=$KF_LAB_DIR/inventory.yaml

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

now() { date +%s.%N; }
# elapsed START -> seconds since START with one decimal
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# --- names and addresses --------------------------------------------------

host_index() { # instance-K -> K (validated)
    local name=$1 k
    k=${name#instance-}
    if ! [[ $name == instance-* && $k =~ ^[0-9]+$ ]] || ((10#$k < 1 || 10#$k > LAB_MAX)); then
        die "unknown host '$name' (expected instance-1 .. instance-$LAB_MAX)"
    fi
    printf '%d\n' "$((10#$k))"
}
host_name() { printf 'instance-%d\n' "$1"; }
host_ip4() { printf '10.213.0.%d\n' "$((10 + $1))"; }
host_ip6() { printf 'fd00:6b66:6f72::%d\n' "$((10 + $1))"; }
host_netns() { printf 'kflab-instance-%d\n' "$1"; }
host_veth() { printf 'kflab-h%d\n' "$1"; }
host_dir() { printf '%s/hosts/instance-%d\n' "$KF_LAB_DIR" "$1"; }
host_upper() { printf '%s/upper\n' "$(host_dir "$1")"; }
host_pidfile() { printf '%s/nspawn.pid\n' "$(host_dir "$1")"; }
host_log() { printf '%s/console.log\n' "$(host_dir "$1")"; }

# --- packages -------------------------------------------------------------

ensure_packages() {
    local missing=() cmd pkg
    for pair in debootstrap:debootstrap systemd-nspawn:systemd-container \
        ssh:openssh-client ssh-keygen:openssh-client ip:iproute2 \
        setsid:util-linux awk:mawk; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
    [ ${#missing[@]} -eq 0 ] && return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing ${missing[*]}"
    apt-get update -q </dev/null >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
}

# --- pids -----------------------------------------------------------------

# is_nspawn_pid PID K: PID is alive and is the systemd-nspawn of instance-K
is_nspawn_pid() {
    local pid=$1 k=$2 cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *systemd-nspawn* && $cmd == *"--machine=$(host_name "$k") "* ]]
}

# host_pid K: print the recorded nspawn pid if that process is running
host_pid() {
    local pf pid
    pf=$(host_pidfile "$1")
    [ -s "$pf" ] || return 1
    pid=$(<"$pf")
    is_nspawn_pid "$pid" "$1" || return 1
    printf '%s\n' "$pid"
}
host_running() { host_pid "$1" >/dev/null; }

# children of a pid (the container's init is a direct child of nspawn)
pid_children() {
    cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d' || true
}

# --- cgroups --------------------------------------------------------------

# Each nspawn must sit in its own cgroup: with --keep-unit it builds the
# container's tree under the cgroup it was started in, and hosts sharing one
# would fight over it. On a machine whose PID 1 is systemd, systemd-run
# --scope -p Delegate=yes gives each host its own scope. On a machine without
# systemd (containers, VMs with their own init, like the test machines) we
# make one cgroup per host under the caller's cgroup in every hierarchy.
host_uses_systemd() { [ -d /run/systemd/system ]; }
host_cgfile() { printf '%s/cgroups\n' "$(host_dir "$1")"; }

cgroup_dirs() { # K -> the per-host cgroup dirs to make (no-systemd case)
    local k=$1 name d base rel
    name=kflab-$(host_name "$k")
    if [ -e /sys/fs/cgroup/cgroup.controllers ]; then # cgroup v2 only
        rel=$(sed -n 's/^0:://p' /proc/self/cgroup)
        printf '%s\n' "/sys/fs/cgroup${rel%/}/$name"
        return
    fi
    for d in /sys/fs/cgroup/*; do
        if [ ! -d "$d" ] || [ -L "$d" ] || [ ! -e "$d/cgroup.procs" ]; then
            continue
        fi
        base=${d##*/}
        case $base in
        unified) rel=$(sed -n 's/^0:://p' /proc/self/cgroup) ;;
        systemd) rel=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup) ;;
        *) rel=$(awk -F: -v c="$base" '$2 == c { print $3; exit }' /proc/self/cgroup) ;;
        esac
        [ -n "$rel" ] || continue
        printf '%s\n' "$d${rel%/}/$name"
    done
}

# make_cgroups K: make instance-K's cgroups, list them in its cgroups file;
# true when every cgroup v1 controller hierarchy got one (the host's v1
# controllers are then its own, and may be made writable inside it)
make_cgroups() {
    local k=$1 d f all_v1=0 cgfile
    cgfile=$(host_cgfile "$k")
    : >"$cgfile"
    [ -e /sys/fs/cgroup/cgroup.controllers ] || all_v1=1
    while read -r d; do
        if ! mkdir -p "$d" 2>/dev/null; then
            all_v1=0
            continue
        fi
        # a new v1 cpuset has no cpus or mems: take the parent's
        for f in cpuset.cpus cpuset.mems; do
            if [ -e "$d/$f" ] && [ -z "$(cat "$d/$f")" ]; then
                cat "$(dirname "$d")/$f" >"$d/$f" 2>/dev/null || all_v1=0
            fi
        done
        printf '%s\n' "$d" >>"$cgfile"
    done < <(cgroup_dirs "$k")
    ((all_v1))
}

# remove the host's cgroup dirs after it stopped (children first; rmdir
# removes only empty cgroups): the recorded ones and, for a state dir that
# was lost, the ones this caller would make
cleanup_cgroups() {
    local d cgfile
    cgfile=$(host_cgfile "$1")
    while read -r d; do
        [ -d "$d" ] || continue
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done < <(
        [ -s "$cgfile" ] && cat "$cgfile"
        host_uses_systemd || cgroup_dirs "$1"
    )
    rm -f "$cgfile"
}

# --- network --------------------------------------------------------------

# output_has TEXT CMD...: CMD's output contains TEXT (no grep -q in a pipe:
# with pipefail, grep leaving early would fail the pipeline)
output_has() {
    local text=$1 out
    shift
    out=$("$@" 2>/dev/null) || return 1
    [[ $out == *"$text"* ]]
}

ensure_kernel_modules() {
    # Hosts share this machine's kernel: the modules containers need are loaded here.
    modprobe overlay 2>/dev/null || log "warning: cannot load overlay"
    modprobe br_netfilter 2>/dev/null || log "warning: cannot load br_netfilter"
}

# The kernel settings a kubelet checks at start (kubeforge's kubelet_kernel_settings).
# Outside net.* they are this machine's and read-only inside a host, so the lab sets them
# here: vm.overcommit_memory=1, vm.panic_on_oom=0, kernel.panic=10 (reboot 10 s after a
# panic), kernel.panic_on_oops=1 (an oops panics this machine instead of going on).
ensure_kubelet_sysctls() {
    local kv
    for kv in vm.overcommit_memory=1 vm.panic_on_oom=0 kernel.panic=10 kernel.panic_on_oops=1; do
        [ "$(sysctl -n "${kv%%=*}" 2>/dev/null)" = "${kv#*=}" ] && continue
        sysctl -q -w "$kv" >/dev/null 2>&1 || log "warning: cannot set $kv (a kubelet in a host will refuse to start)"
    done
}

ensure_bridge() {
    ensure_kernel_modules
    ensure_kubelet_sysctls
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        log "creating bridge $BRIDGE ($BRIDGE_IP4/24, $BRIDGE_IP6/64)"
        ip link add "$BRIDGE" type bridge stp_state 0 forward_delay 0
        sysctl -qw "net.ipv6.conf.$BRIDGE.accept_dad=0" "net.ipv6.conf.$BRIDGE.accept_ra=0" >/dev/null || true
    fi
    output_has "inet $BRIDGE_IP4/24" ip -4 addr show dev "$BRIDGE" ||
        ip addr add "$BRIDGE_IP4/24" dev "$BRIDGE"
    output_has "inet6 $BRIDGE_IP6/64" ip -6 addr show dev "$BRIDGE" ||
        ip -6 addr add "$BRIDGE_IP6/64" dev "$BRIDGE" nodad
    ip link set "$BRIDGE" up
    # Isolation: traffic from the bridge to anything but the machine itself
    # and the lab subnet is unreachable.
    output_has "lookup $RT_TABLE" ip -4 rule show priority "$RT_PRIO" ||
        ip -4 rule add priority "$RT_PRIO" iif "$BRIDGE" lookup "$RT_TABLE"
    output_has "lookup $RT_TABLE" ip -6 rule show priority "$RT_PRIO" ||
        ip -6 rule add priority "$RT_PRIO" iif "$BRIDGE" lookup "$RT_TABLE"
    ip -4 route replace "$NET4" dev "$BRIDGE" table "$RT_TABLE"
    ip -4 route replace unreachable default table "$RT_TABLE"
    ip -6 route replace "$NET6" dev "$BRIDGE" table "$RT_TABLE"
    ip -6 route replace unreachable default table "$RT_TABLE"
}

ensure_host_net() {
    local k=$1 ns veth ip4 ip6
    ns=$(host_netns "$k") veth=$(host_veth "$k") ip4=$(host_ip4 "$k") ip6=$(host_ip6 "$k")
    if [ ! -e "/run/netns/$ns" ]; then
        ip netns add "$ns"
    fi
    # no duplicate address detection: addresses are usable at once
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.accept_ra=0 >/dev/null
    ip -n "$ns" link set lo up
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
        ip link del "$veth" 2>/dev/null || true
        ip link add "$veth" type veth peer name eth0 netns "$ns"
    fi
    ip link set "$veth" master "$BRIDGE"
    ip link set "$veth" up
    output_has "inet $ip4/24" ip -n "$ns" -4 addr show dev eth0 ||
        ip -n "$ns" addr add "$ip4/24" dev eth0
    output_has "inet6 $ip6/64" ip -n "$ns" -6 addr show dev eth0 ||
        ip -n "$ns" -6 addr add "$ip6/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
    # nspawn mounts /proc/sys read-only inside a host, so the kernel settings a
    # Kubernetes node needs are set here, per network namespace, from outside (the
    # sysctl step then finds them set and persists them in /etc/sysctl.d).
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
    if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
        ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 >/dev/null 2>&1 || true
    fi
    ip -n "$ns" -4 route replace default via "$BRIDGE_IP4" dev eth0
    ip -n "$ns" -6 route replace default via "$BRIDGE_IP6" dev eth0
}

# --- ssh ------------------------------------------------------------------

ensure_ssh_key() {
    mkdir -p "$KF_LAB_DIR"
    chmod 0755 "$KF_LAB_DIR"
    # down.sh deletes the state dir only when it finds this marker
    [ -e "$KF_LAB_DIR/.kubeforge-lab" ] || printf 'kubeforge lab state\n' >"$KF_LAB_DIR/.kubeforge-lab"
    if [ ! -s "$SSH_KEY" ] || [ ! -s "$SSH_KEY.pub" ]; then
        log "generating test key $SSH_KEY"
        rm -f "$SSH_KEY" "$SSH_KEY.pub"
        ssh-keygen -q -t ed25519 -N '' -C kubeforge-lab -f "$SSH_KEY" </dev/null
    fi
    chmod 0600 "$SSH_KEY"
}

# lab_ssh K CMD...: run a command on instance-K as root (never prompts)
lab_ssh_opts() {
    printf '%s\n' -F /dev/null -i "$SSH_KEY" -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=3 \
        -o LogLevel=ERROR
}
lab_ssh_to() { # ADDRESS CMD...
    local addr=$1 opts
    shift
    mapfile -t opts < <(lab_ssh_opts)
    # shellcheck disable=SC2029 # the command is meant to run remotely
    ssh "${opts[@]}" "root@$addr" "$@" </dev/null
}

# write FILE from stdin, only when the content differs (atomic)
write_if_changed() {
    local file=$1 tmp
    tmp=$(mktemp "$file.XXXXXX")
    cat >"$tmp"
    if [ -e "$file" ] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
        return 0
    fi
    chmod 0644 "$tmp"
    mv -f "$tmp" "$file"
}

# known_hosts: every prepared host's key, for its IPv4 and IPv6 address
write_known_hosts() {
    local k pub type key _
    {
        for ((k = 1; k <= LAB_MAX; k++)); do
            pub=$(host_upper "$k")/etc/ssh/ssh_host_ed25519_key.pub
            [ -s "$pub" ] || continue
            read -r type key _ <"$pub"
            printf '%s %s %s\n' "$(host_ip4 "$k")" "$type" "$key"
            printf '%s %s %s\n' "$(host_ip6 "$k")" "$type" "$key"
        done
    } | write_if_changed "$KNOWN_HOSTS"
}

# --- per-host overlay ------------------------------------------------------

# make DIR inside the upper dir with the owner and mode of the same dir in
# the rootfs (overlayfs takes a merged directory's attributes from upper)
upper_mkdir() {
    local upper=$1 rel=$2 mode=${3:-} part path=""
    local IFS=/
    for part in $rel; do
        [ -n "$part" ] || continue
        path=$path/$part
        [ -d "$upper$path" ] && continue
        if [ -d "$ROOTFS$path" ]; then
            install -d -m "$(stat -c %a "$ROOTFS$path")" \
                -o "$(stat -c %u "$ROOTFS$path")" -g "$(stat -c %g "$ROOTFS$path")" "$upper$path"
        else
            install -d -m "${mode:-0755}" -o 0 -g 0 "$upper$path"
        fi
    done
}

# prepare_upper K: the host's own identity, written into its overlay upper
# dir before boot: hostname, machine-id, SSH host key, the test key.
prepare_upper() {
    local k=$1 name upper
    name=$(host_name "$k") upper=$(host_upper "$k")
    if [ ! -d "$upper" ]; then
        install -d -m "$(stat -c %a "$ROOTFS")" -o 0 -g 0 "$upper"
    fi
    upper_mkdir "$upper" /etc
    upper_mkdir "$upper" /etc/ssh
    upper_mkdir "$upper" /root
    upper_mkdir "$upper" /root/.ssh 0700
    printf '%s\n' "$name" | write_if_changed "$upper/etc/hostname"
    { grep -v '^127\.0\.1\.1[[:space:]]' "$ROOTFS/etc/hosts"; printf '127.0.1.1\t%s\n' "$name"; } |
        write_if_changed "$upper/etc/hosts"
    # A nameserver as every real host has one (CoreDNS forwards to it and refuses to start
    # without): the bridge address, where nothing answers DNS, so lookups fail fast.
    printf '# kubeforge lab: the bridge; nothing answers DNS there\nnameserver 10.213.0.1\noptions timeout:1 attempts:1\n' |
        write_if_changed "$upper/etc/resolv.conf"
    if [ ! -s "$upper/etc/machine-id" ]; then
        od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$upper/etc/machine-id"
        echo >>"$upper/etc/machine-id"
        chmod 0444 "$upper/etc/machine-id"
    fi
    if [ ! -s "$upper/etc/ssh/ssh_host_ed25519_key" ]; then
        rm -f "$upper/etc/ssh/ssh_host_ed25519_key" "$upper/etc/ssh/ssh_host_ed25519_key.pub"
        ssh-keygen -q -t ed25519 -N '' -C "root@$name" \
            -f "$upper/etc/ssh/ssh_host_ed25519_key" </dev/null
    fi
    write_if_changed "$upper/root/.ssh/authorized_keys" <"$SSH_KEY.pub"
    chmod 0600 "$upper/root/.ssh/authorized_keys"
}

# wipe_upper K: forget everything the host wrote (host must be stopped)
wipe_upper() {
    local d
    d=$(host_dir "$1")
    [ -d "$d" ] || return 0
    # the overlay work dirs nspawn makes sit beside upper (.#upper...)
    find "$d" -mindepth 1 -maxdepth 1 \( -name upper -o -name '.#upper*' -o -name containerd \) \
        -exec rm -rf --one-file-system {} +
}

# --- boot and stop ---------------------------------------------------------

nspawn_cmd() { # K -> the systemd-nspawn command line, one word per line
    local k=$1
    printf '%s\n' systemd-nspawn \
        --quiet \
        -D "$ROOTFS" \
        -b \
        "--machine=$(host_name "$k")" \
        "--hostname=$(host_name "$k")" \
        --register=no \
        --keep-unit \
        "--network-namespace-path=/run/netns/$(host_netns "$k")" \
        "--overlay=$ROOTFS:$(host_upper "$k"):/" \
        --resolv-conf=off \
        --timezone=off \
        --link-journal=no \
        --console=read-only \
        --capability=all \
        --drop-capability=CAP_SYS_TIME,CAP_SYS_MODULE,CAP_WAKE_ALARM \
        '--system-call-filter=@keyring bpf perf_event_open' \
        --bind-ro=/dev/kmsg
    # (/dev/kmsg: a kubelet refuses to start without it; read-only, it reads this
    # machine's kernel log.)
    if [ "${KF_LAB_BIND_CONTAINERD:-0}" = 1 ]; then
        # containerd's overlayfs snapshotter cannot use the overlayfs root
        printf '%s\n' "--bind=$(host_dir "$k")/containerd:/var/lib/containerd"
    fi
}

# boot_host K: start instance-K in the background (returns at once)
boot_host() {
    local k=$1 name pidfile logf cmd=() cg
    name=$(host_name "$k") pidfile=$(host_pidfile "$k") logf=$(host_log "$k")
    mapfile -t cmd < <(nspawn_cmd "$k")
    nspawn_cmd "$k" | sha256sum | cut -c1-16 > "$(host_dir "$k")/nspawn.flags"
    if [ "${KF_LAB_BIND_CONTAINERD:-0}" = 1 ]; then
        install -d -m 0711 "$(host_dir "$k")/containerd"
    fi
    rm -f "$pidfile"
    cleanup_cgroups "$k"
    # an overlay work dir left by a host that was killed
    find "$(host_dir "$k")" -mindepth 1 -maxdepth 1 -name '.#upper*' \
        -exec rm -rf --one-file-system {} +
    local cgs=() v1flag
    v1flag=$(host_upper "$k")/etc/kubeforge-lab/cgroup-v1-rw
    rm -f "$v1flag"
    if host_uses_systemd; then
        cmd=(systemd-run --quiet --scope --collect --property=Delegate=yes
            "--unit=kflab-$name" "${cmd[@]}")
    else
        if make_cgroups "$k"; then
            # the host's own cgroup v1 controllers: its boot makes them
            # writable (kubeforge-lab-cgroup-rw.service), so runc works
            upper_mkdir "$(host_upper "$k")" /etc/kubeforge-lab
            printf 'this host has its own cgroup v1 controllers\n' >"$v1flag"
        fi
        mapfile -t cgs <"$(host_cgfile "$k")"
    fi
    printf '=== %s boot %s\n' "$name" "$(date -Is)" >>"$logf"
    # The wrapper records its own pid, moves itself into the host's cgroups
    # and execs nspawn (same pid), in a new session, stdin from /dev/null.
    # TERM=dumb: plain boot messages in the log (no colours).
    local extra_env=()
    read -r -a extra_env <<<"${KF_LAB_NSPAWN_ENV:-}"
    # shellcheck disable=SC2016 # $$ and $1 belong to the inner sh
    env TERM=dumb "${extra_env[@]}" \
        setsid sh -c '
            pidfile=$1; shift; n=$1; shift
            i=0; while [ "$i" -lt "$n" ]; do
                echo $$ >"$1/cgroup.procs"; shift; i=$((i + 1))
            done
            echo $$ >"$pidfile"
            exec "$@"' sh "$pidfile" "${#cgs[@]}" "${cgs[@]}" "${cmd[@]}" \
        </dev/null >>"$logf" 2>&1 &
    local i
    for ((i = 0; i < 50; i++)); do
        [ -s "$pidfile" ] && is_nspawn_pid "$(<"$pidfile")" "$k" && return 0
        sleep 0.1
    done
    log "$name: systemd-nspawn did not start; last lines of $logf:"
    tail -n 30 "$logf" >&2
    return 1
}

# wait_ssh K START [WHAT]: wait until root@IPv4 answers over ssh (bounded);
# WHAT=running: the host was already up, just check it
wait_ssh() {
    local k=$1 start=$2 what=${3:-booted} name ip4 deadline
    name=$(host_name "$k") ip4=$(host_ip4 "$k")
    deadline=$(awk -v s="$start" -v t="$BOOT_TIMEOUT" 'BEGIN { printf "%d", s + t }')
    while :; do
        if lab_ssh_to "$ip4" true 2>/dev/null; then
            if [ "$what" = running ]; then
                log "$name: already running, ssh ok"
            else
                log "$name: ssh up at $ip4 after $(elapsed "$start")s"
            fi
            return 0
        fi
        if ! host_running "$k"; then
            log "$name: systemd-nspawn exited; last lines of $(host_log "$k"):"
            tail -n 40 "$(host_log "$k")" >&2
            return 1
        fi
        if (($(date +%s) >= deadline)); then
            log "$name: no ssh on $ip4 within ${BOOT_TIMEOUT}s; last lines of $(host_log "$k"):"
            tail -n 40 "$(host_log "$k")" >&2
            lab_ssh_to "$ip4" true || true
            return 1
        fi
        sleep 0.2
    done
}

# stop_hosts K...: orderly poweroff of each running host (SIGTERM to its
# nspawn makes it send SIGRTMIN+3 to the container's systemd), then SIGKILL
# by pid after STOP_TIMEOUT seconds. Waits for all of them.
stop_hosts() {
    local k pid t0 pids=() ks=() leaders=() left
    for k in "$@"; do
        if pid=$(host_pid "$k"); then
            ks+=("$k") pids+=("$pid")
            leaders+=("$(pid_children "$pid" | tr '\n' ' ')")
            log "$(host_name "$k"): stopping (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    t0=$(now)
    while :; do
        left=0
        for pid in "${pids[@]}"; do
            [ -d "/proc/$pid" ] && left=1 && break
        done
        ((left == 0)) && break
        if awk -v s="$t0" -v e="$(now)" -v t="$STOP_TIMEOUT" 'BEGIN { exit !(e - s >= t) }'; then
            local i
            for i in "${!pids[@]}"; do
                is_nspawn_pid "${pids[$i]}" "${ks[$i]}" || continue
                log "$(host_name "${ks[$i]}"): no clean stop in ${STOP_TIMEOUT}s, SIGKILL"
                # shellcheck disable=SC2086 # leaders is a list of pids
                kill -KILL "${pids[$i]}" ${leaders[$i]} 2>/dev/null || true
            done
            sleep 0.5
            break
        fi
        sleep 0.1
    done
    for k in "${ks[@]}"; do
        rm -f "$(host_pidfile "$k")"
        cleanup_cgroups "$k"
    done
    if ((${#ks[@]})); then
        log "stopped ${#ks[@]} host(s) in $(elapsed "$t0")s"
    fi
}

# --- rootfs ----------------------------------------------------------------

apt_mirror() { # the Debian mirror this machine's apt uses for bookworm
    local f uri
    if [ -n "${KF_LAB_MIRROR:-}" ]; then
        printf '%s\n' "$KF_LAB_MIRROR"
        return
    fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        # deb822 stanzas: URIs + Suites containing bookworm (not -security)
        uri=$(awk '
            function found() { return u != "" && s ~ / bookworm / && t ~ / deb / }
            /^[[:space:]]*$/ { if (found()) exit; u = s = t = ""; next }
            tolower($1) == "types:" { $1 = ""; t = $0 " " }
            tolower($1) == "uris:" { u = $2 }
            tolower($1) == "suites:" { $1 = ""; s = $0 " " }
            END { if (found()) print u }' "$f")
        [ -n "$uri" ] && { printf '%s\n' "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        uri=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                   if ($(i + 1) == "bookworm") { print $i; exit } }' "$f")
        [ -n "$uri" ] && { printf '%s\n' "$uri"; return; }
    done
    printf '%s\n' http://deb.debian.org/debian
}

# prepare_rootfs DIR: once per rootfs, before any host boots from it
prepare_rootfs() {
    local r=$1 u
    # no host keys in the image: each host gets its own in its overlay
    rm -f "$r"/etc/ssh/ssh_host_*
    # empty machine-id: each host gets its own in its overlay
    : >"$r/etc/machine-id"
    rm -f "$r/var/lib/dbus/machine-id"
    ln -s /etc/machine-id "$r/var/lib/dbus/machine-id"
    printf 'localhost\n' >"$r/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' >"$r/etc/hosts"
    # the hosts reach no DNS server; a resolv.conf without one fails fast
    rm -f "$r/etc/resolv.conf"
    printf '# kubeforge lab: no DNS\noptions timeout:1 attempts:1\n' >"$r/etc/resolv.conf"
    mkdir -p "$r/etc/ssh/sshd_config.d"
    cat >"$r/etc/ssh/sshd_config.d/kubeforge-lab.conf" <<'EOF'
# kubeforge lab host
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
    systemctl --root="$r" --quiet enable ssh.service
    # nothing a test host needs, and all of it costs boot time or CPU
    for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
        fstrim.timer e2scrub_all.timer e2scrub_reap.service \
        systemd-timesyncd.service console-getty.service getty@.service \
        systemd-networkd-wait-online.service systemd-journald-audit.socket; do
        systemctl --root="$r" --quiet mask "$u"
    done
    # cgroup v1 hosts: nspawn mounts the controllers read-only; when up.sh
    # gave the host its own cgroup in each, make them writable (runc needs it)
    cat >"$r/etc/systemd/system/kubeforge-lab-cgroup-rw.service" <<'EOF'
[Unit]
Description=kubeforge lab: make this host's cgroup v1 controllers writable
DefaultDependencies=no
ConditionPathExists=/etc/kubeforge-lab/cgroup-v1-rw
Before=sysinit.target containerd.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for d in /sys/fs/cgroup/*; do case $${d##*/} in unified|systemd) continue;; esac; [ -L "$$d" ] && continue; mountpoint -q "$$d" && mount -o remount,bind,rw "$$d"; done; true'
[Install]
WantedBy=sysinit.target
EOF
    systemctl --root="$r" --quiet enable kubeforge-lab-cgroup-rw.service
    # journald: keep the journal in memory only
    mkdir -p "$r/etc/systemd/journald.conf.d"
    printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n' >"$r/etc/systemd/journald.conf.d/kubeforge-lab.conf"
    rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log "$r/var/log/apt"
    printf 'kubeforge-lab rootfs v%s\n' "$ROOTFS_STAMP_VERSION" >"$r/etc/kubeforge-lab-rootfs"
}

rootfs_ready() {
    [ -d "$ROOTFS" ] && [ "$(cat "$ROOTFS/etc/kubeforge-lab-rootfs" 2>/dev/null)" = "kubeforge-lab rootfs v$ROOTFS_STAMP_VERSION" ]
}

any_host_running() {
    local k
    for ((k = 1; k <= LAB_MAX; k++)); do host_running "$k" && return 0; done
    return 1
}

ensure_rootfs() {
    if rootfs_ready; then
        return 0
    fi
    if [ -d "$ROOTFS" ] && [ -e "$ROOTFS/etc/kubeforge-lab-rootfs" ]; then
        if any_host_running; then
            log "rootfs $ROOTFS was prepared by an older version; hosts are running, using it as it is"
            return 0
        fi
        log "re-preparing rootfs $ROOTFS (older version)"
        prepare_rootfs "$ROOTFS"
        return 0
    fi
    [ -e "$ROOTFS" ] && die "$ROOTFS exists but is not a kubeforge lab rootfs; remove it"
    local parent tmp mirror t0
    parent=$(dirname "$ROOTFS")
    mkdir -p "$parent"
    # a half-built rootfs from an interrupted run is never used
    find "$parent" -maxdepth 1 -name "$(basename "$ROOTFS").tmp.*" -exec rm -rf --one-file-system {} +
    tmp=$(mktemp -d "$ROOTFS.tmp.XXXXXX")
    chmod 0755 "$tmp"
    mirror=$(apt_mirror)
    t0=$(now)
    log "debootstrap bookworm from $mirror into $tmp (takes a few minutes)"
    if ! debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,openssh-server,python3,iproute2,ca-certificates,curl,procps,kmod,iptables,sudo \
        bookworm "$tmp" "$mirror" </dev/null >"$parent/debootstrap.log" 2>&1; then
        tail -n 30 "$parent/debootstrap.log" >&2
        [ -e "$tmp/debootstrap/debootstrap.log" ] && tail -n 30 "$tmp/debootstrap/debootstrap.log" >&2
        rm -rf --one-file-system "$tmp"
        die "debootstrap failed (log: $parent/debootstrap.log)"
    fi
    log "debootstrap done in $(elapsed "$t0")s"
    rm -f "$parent/debootstrap.log"
    prepare_rootfs "$tmp"
    mv -T "$tmp" "$ROOTFS"
    log "rootfs ready: $ROOTFS"
}
