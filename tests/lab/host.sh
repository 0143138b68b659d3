#!/usr/bin/env bash
# tests/lab/host.sh: act on one lab host booted by up.sh.
#   host.sh status            list hosts and whether each runs
#   host.sh stop NAME         orderly poweroff (SIGKILL by pid after 10 s)
#   host.sh start NAME        boot it again on the same overlay, wait for ssh
#   host.sh wipe NAME         stop it and drop its overlay: the next start is a
#                             clean OS image with new SSH host keys
#                             (known_hosts is updated at once)
#   host.sh ssh NAME [CMD..]  run a command on it as root with the lab key
# NAME is instance-K. Env: KF_LAB_DIR, KF_LAB_CACHE as for up.sh.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
    sed -n '2,10s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

need_root
umask 022
action=${1:-}
[ -n "$action" ] || usage
shift

case $action in
status)
    printf '%-12s %-8s %-8s %-13s %s\n' NAME STATE PID IPV4 IPV6
    for ((k = 1; k <= LAB_MAX; k++)); do
        [ -d "$(host_dir "$k")" ] || continue
        if pid=$(host_pid "$k"); then state=running; else state=stopped pid=-; fi
        printf '%-12s %-8s %-8s %-13s %s\n' "$(host_name "$k")" "$state" "$pid" \
            "$(host_ip4 "$k")" "$(host_ip6 "$k")"
    done
    ;;
stop)
    [ $# -eq 1 ] || usage
    k=$(host_index "$1")
    if host_running "$k"; then
        stop_hosts "$k"
    else
        log "$1: not running"
    fi
    ;;
start)
    [ $# -eq 1 ] || usage
    exec </dev/null
    k=$(host_index "$1")
    if host_running "$k"; then
        log "$1: already running (pid $(host_pid "$k"))"
        exit 0
    fi
    rootfs_ready || [ -d "$ROOTFS" ] || die "no rootfs at $ROOTFS: run up.sh first"
    ensure_ssh_key
    ensure_bridge
    ensure_host_net "$k"
    mkdir -p "$(host_dir "$k")"
    prepare_upper "$k"
    write_known_hosts
    t0=$(now)
    log "$1: booting"
    boot_host "$k"
    wait_ssh "$k" "$t0"
    ;;
wipe)
    [ $# -eq 1 ] || usage
    k=$(host_index "$1")
    stop_hosts "$k"
    wipe_upper "$k"
    if [ -d "$ROOTFS" ] && [ -s "$SSH_KEY.pub" ]; then
        mkdir -p "$(host_dir "$k")"
        prepare_upper "$k"
    fi
    write_known_hosts
    log "$1: wiped (new host key; start it with: host.sh start $1)"
    ;;
ssh)
    [ $# -ge 1 ] || usage
    k=$(host_index "$1")
    shift
    lab_ssh_to "$(host_ip4 "$k")" "$@"
    ;;
*) usage ;;
esac
