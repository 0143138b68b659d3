#!/usr/bin/env bash
# tests/scale/ns.sh: many "hosts" on one machine for the scale bench (bench/scale.sh) and
# the SSH scale tests (tests/ssh_scale.rs). A private network namespace whose loopback
# answers on every 127.x.y.z; one sshd on port 22 stands for all the hosts (addresses
# 127.10.a.b), a second sshd on 127.0.0.1:2222 with OpenSSH's default limits is the
# bastion. Logins go to an unprivileged user (kfscale) with no shell start-up files.
#
#   ns.sh up DIR NETNS N   keys, configs, known_hosts and DIR/hosts ("name address" lines)
#                          for N hosts in DIR; both sshds started inside NETNS
#   ns.sh down DIR         stops the sshds started for DIR (by their pid files) and
#                          deletes the namespace; DIR itself is left to the caller
#
# Root only; installs what it needs (openssh-server, openssh-client, iproute2) without
# prompts. Nothing here touches the shared lab (tests/lab, bridge kflab0).
set -euo pipefail
exec </dev/null

USER_NAME=kfscale
USER_HOME=/var/lib/kfscale
BASTION_PORT=2222

die() { echo "ns.sh: $*" >&2; exit 1; }

ensure_packages() {
    local missing=()
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
    command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    [ ${#missing[@]} -eq 0 ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}

ensure_user() {
    if ! id -u "$USER_NAME" >/dev/null 2>&1; then
        # '*' (not '!'): no password, but not a locked account, which sshd would refuse.
        useradd --no-create-home --home-dir "$USER_HOME" --shell /bin/bash --password '*' "$USER_NAME" ||
            id -u "$USER_NAME" >/dev/null 2>&1 || die "cannot create user $USER_NAME"
    fi
    mkdir -p "$USER_HOME"
    chown "$USER_NAME:" "$USER_HOME"
    chmod 755 "$USER_HOME"
}

# hosts N: "h<i> 127.10.a.b" lines, 250 addresses per /24.
hosts() {
    local i
    for ((i = 1; i <= $1; i++)); do
        printf 'h%d 127.10.%d.%d\n' "$i" $(((i - 1) / 250)) $(((i - 1) % 250 + 1))
    done
}

sshd_config() { # DIR NAME LISTEN EXTRA...
    local dir=$1 name=$2 listen=$3
    shift 3
    {
        echo "ListenAddress $listen"
        echo "HostKey $dir/host_ed25519"
        echo "PidFile $dir/$name.pid"
        echo "AuthorizedKeysFile $dir/authorized_keys"
        echo "StrictModes no"
        echo "AllowUsers $USER_NAME"
        echo "PasswordAuthentication no"
        echo "KbdInteractiveAuthentication no"
        echo "UsePAM no"
        echo "PrintMotd no"
        echo "PrintLastLog no"
        # VERBOSE logs "Starting session" per exec channel: the bench counts them.
        echo "LogLevel VERBOSE"
        printf '%s\n' "$@"
    } > "$dir/$name.config"
}

start_sshd() { # DIR NETNS NAME
    local dir=$1 ns=$2 name=$3 i
    ip netns exec "$ns" /usr/sbin/sshd -f "$dir/$name.config" -E "$dir/$name.log" ||
        die "sshd $name did not start (see $dir/$name.log)"
    for i in $(seq 100); do
        [ -s "$dir/$name.pid" ] && return 0
        sleep 0.05
    done
    die "sshd $name wrote no pid file"
}

up() {
    local dir=$1 ns=$2 n=$3 key
    [ "$(id -u)" = 0 ] || die "run as root (network namespaces, sshd)"
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 60000 ] || die "N must be 1..60000"
    [ -d "$dir" ] || die "no directory $dir"
    # Tests run in parallel: one apt-get/useradd at a time.
    exec 9>/run/kfscale-ns.lock
    flock 9
    ensure_packages
    ensure_user
    flock -u 9
    mkdir -p /run/sshd
    # sshd reads authorized_keys as the login user.
    chmod 711 "$dir"
    [ -e "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C kfscale -f "$dir/id_ed25519"
    [ -e "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C kfscale-host -f "$dir/host_ed25519"
    cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
    chmod 644 "$dir/authorized_keys"
    hosts "$n" > "$dir/hosts"
    key=$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")
    { awk -v k="$key" '{ print $2 " " k }' "$dir/hosts"; echo "[127.0.0.1]:$BASTION_PORT $key"; } > "$dir/known_hosts"
    ip netns add "$ns"
    echo "$ns" > "$dir/netns"
    ip -n "$ns" link set lo up
    # One sshd stands for N hosts: let it admit as many handshakes at once as N separate
    # sshds would (OpenSSH's default, 10:30:100, is per host).
    sshd_config "$dir" hosts "0.0.0.0:22" "MaxStartups 400"
    # The bastion keeps OpenSSH's defaults (MaxStartups 10:30:100, MaxSessions 10).
    sshd_config "$dir" bastion "127.0.0.1:$BASTION_PORT"
    start_sshd "$dir" "$ns" hosts
    start_sshd "$dir" "$ns" bastion
}

# stop_pid FILE DIR: the pid in FILE, only if it is an sshd started with DIR's config.
stop_pid() {
    local file=$1 dir=$2 pid cmd
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 0
    [[ $cmd == *sshd*"$dir/"* ]] || return 0
    kill "$pid" 2>/dev/null || true
    rm -f "$file"
}

down() {
    local dir=$1 ns
    stop_pid "$dir/hosts.pid" "$dir"
    stop_pid "$dir/bastion.pid" "$dir"
    if [ -s "$dir/netns" ]; then
        ns=$(cat "$dir/netns")
        ip netns del "$ns" 2>/dev/null || true
        rm -f "$dir/netns"
    fi
}

case "${1:-}" in
up) [ $# -eq 4 ] || die "usage: ns.sh up DIR NETNS N"; up "$2" "$3" "$4" ;;
down) [ $# -eq 2 ] || die "usage: ns.sh down DIR"; down "$2" ;;
*) die "usage: ns.sh up DIR NETNS N | ns.sh down DIR" ;;
esac
