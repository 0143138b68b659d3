#!/usr/bin/env bash
# tests/ssh_auth/lab.sh: SSH as sites set it up, on one machine, for tests/ssh_auth.rs
# (the approach of tests/scale/ns.sh): a private network namespace whose loopback answers
# on every 127.x.y.z, and in it
#   - the hosts' sshd on port 22 (addresses 127.10.0.x): a host key with a host
#     certificate signed by a host CA, a user CA it trusts (TrustedUserCAKeys), one plain
#     key in authorized_keys, and password login;
#   - a bastion sshd on 127.0.0.1:2222 (plain host key, the plain key authorized), which
#     ProxyCommands reach with `ssh -W`;
#   - a login user of its own with a random password, allowed sudo with that password.
#
#   lab.sh up DIR NETNS USER   keys, certificates, configs, the user and its sudo rule,
#                              both sshds started inside NETNS; DIR/password holds the
#                              user's password
#   lab.sh down DIR            stops the sshds started for DIR (by their pid files),
#                              deletes the namespace, the user and its sudo rule
#
# Root only; installs what it needs (openssh-server, openssh-client, iproute2, sudo)
# without prompts. Nothing here touches the shared lab (tests/lab, bridge kflab0).
set -euo pipefail
exec </dev/null

BASTION_PORT=2222

die() { echo "lab.sh: $*" >&2; exit 1; }

ensure_packages() {
    local missing=()
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
    command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v sudo >/dev/null 2>&1 || missing+=(sudo)
    [ ${#missing[@]} -eq 0 ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}

# sudoers drop-in names may not contain dots; one file per lab user.
sudoers_file() { echo "/etc/sudoers.d/kubeforge-test-$1"; }

make_user() { # USER HOME DIR
    local user=$1 home=$2 dir=$3 pw
    if ! id -u "$user" >/dev/null 2>&1; then
        useradd --home-dir "$home" --create-home --shell /bin/sh "$user" ||
            die "cannot create user $user"
    fi
    pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 20)
    echo "$user:$pw" | chpasswd || die "cannot set $user's password"
    ( umask 077; printf '%s' "$pw" > "$dir/password" )
    local rule
    rule=$(sudoers_file "$user")
    ( umask 337; printf '%s ALL=(ALL:ALL) ALL\n' "$user" > "$rule.tmp" )
    visudo -cf "$rule.tmp" >/dev/null || die "bad sudo rule for $user"
    mv -f "$rule.tmp" "$rule"
}

sshd_config() { # DIR NAME LISTEN USER EXTRA...
    local dir=$1 name=$2 listen=$3 user=$4
    shift 4
    {
        echo "ListenAddress $listen"
        echo "PidFile $dir/$name.pid"
        echo "AuthorizedKeysFile $dir/authorized_keys"
        echo "StrictModes no"
        echo "AllowUsers $user"
        echo "KbdInteractiveAuthentication no"
        echo "UsePAM no"
        echo "PrintMotd no"
        echo "PrintLastLog no"
        # DEBUG1: sshd logs each direct-tcpip channel's target (jump chains are checked
        # by it).
        echo "LogLevel DEBUG1"
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

key() { ssh-keygen -q -t ed25519 -N '' -C "$2" -f "$1"; }

up() {
    local dir=$1 ns=$2 user=$3
    [ "$(id -u)" = 0 ] || die "run as root (network namespaces, sshd, users)"
    [ -d "$dir" ] || die "no directory $dir"
    [[ $user =~ ^kfa-[0-9a-z-]+$ ]] || die "user names start with kfa-"
    exec 9>/run/kfscale-ns.lock
    flock 9
    ensure_packages
    make_user "$user" "/var/lib/$user" "$dir"
    flock -u 9
    echo "$user" > "$dir/user"
    mkdir -p /run/sshd
    chmod 711 "$dir"
    cd "$dir"
    key host_ca host-ca
    key user_ca user-ca
    key other_ca other-ca
    key host_ed25519 host
    key bastion_ed25519 bastion
    key id_ed25519 plain-key
    key cert_ed25519 cert-key
    # The host certificate names every address the tests use.
    ssh-keygen -q -s host_ca -I test-hosts -h -V -5m:+1d \
        -n 127.10.0.1,127.10.0.2,127.10.0.3,node1,node2,node3 host_ed25519.pub
    ssh-keygen -q -s user_ca -I "$user-cert" -V -5m:+1d -n "$user" cert_ed25519.pub
    cp id_ed25519.pub authorized_keys
    chmod 644 authorized_keys
    echo "@cert-authority * $(cut -d' ' -f1,2 host_ca.pub)" > known_hosts_ca
    echo "[127.0.0.1]:$BASTION_PORT $(cut -d' ' -f1,2 bastion_ed25519.pub)" > bastion_known_hosts
    { cut -d' ' -f1,2 host_ed25519.pub | sed 's/^/127.10.0.1 /'; } > known_hosts_plain
    ip netns add "$ns"
    echo "$ns" > "$dir/netns"
    ip -n "$ns" link set lo up
    sshd_config "$dir" hosts "0.0.0.0:22" "$user" \
        "HostKey $dir/host_ed25519" "HostCertificate $dir/host_ed25519-cert.pub" \
        "TrustedUserCAKeys $dir/user_ca.pub" "PasswordAuthentication yes"
    sshd_config "$dir" bastion "127.0.0.1:$BASTION_PORT" "$user" \
        "HostKey $dir/bastion_ed25519" "PasswordAuthentication no"
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
    local dir=$1 ns user
    stop_pid "$dir/hosts.pid" "$dir"
    stop_pid "$dir/bastion.pid" "$dir"
    if [ -s "$dir/netns" ]; then
        ns=$(cat "$dir/netns")
        ip netns del "$ns" 2>/dev/null || true
        rm -f "$dir/netns"
    fi
    if [ -s "$dir/user" ]; then
        user=$(cat "$dir/user")
        if [[ $user =~ ^kfa-[0-9a-z-]+$ ]]; then
            rm -f "$(sudoers_file "$user")"
            exec 9>/run/kfscale-ns.lock
            flock 9
            userdel -r "$user" 2>/dev/null || userdel "$user" 2>/dev/null || true
            flock -u 9
        fi
        rm -f "$dir/user"
    fi
}

case "${1:-}" in
up) [ $# -eq 4 ] || die "usage: lab.sh up DIR NETNS USER"; up "$2" "$3" "$4" ;;
down) [ $# -eq 2 ] || die "usage: lab.sh down DIR"; down "$2" ;;
*) die "usage: lab.sh up DIR NETNS USER | lab.sh down DIR" ;;
esac
