#!/usr/bin/env bash
# tests/lab/up.sh [N]: boot lab hosts instance-1..instance-N (default 3, at
# most 10) and print their inventory (YAML) on stdout. Progress goes to stderr.
# Idempotent: running hosts are left alone, missing ones are booted.
#
# Env: KF_LAB_DIR (state, default /run/kubeforge-lab),
#      KF_LAB_CACHE (rootfs cache, default /var/cache/kubeforge-lab/rootfs-bookworm),
#      KF_LAB_FRESH=1 (wipe the hosts' overlays first: clean hosts),
#      KF_LAB_MIRROR (Debian mirror for debootstrap; default: this machine's apt's),
#      KF_LAB_BOOT_TIMEOUT (seconds per host until ssh answers, default 60).
set -euo pipefail
exec </dev/null

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$(readlink -f "$0")")/lib.sh"

N=${1:-3}
if ! [[ $N =~ ^[0-9]+$ ]] || ((10#$N < 1 || 10#$N > LAB_MAX)); then
    die "usage: up.sh [N], 1 <= N <= $LAB_MAX"
fi
N=$((10#$N))

need_root
T0=$(now)
umask 022
ensure_packages
ensure_rootfs
ensure_ssh_key
mkdir -p "$KF_LAB_DIR/hosts"

if [ "${KF_LAB_FRESH:-0}" = 1 ]; then
    log "KF_LAB_FRESH=1: wiping instance-1..instance-$N"
    mapfile -t all < <(seq 1 "$N")
    stop_hosts "${all[@]}"
    for ((k = 1; k <= N; k++)); do wipe_upper "$k"; done
fi

ensure_bridge
booted=()
declare -A started
for ((k = 1; k <= N; k++)); do
    ensure_host_net "$k"
    mkdir -p "$(host_dir "$k")"
    if host_running "$k"; then
        # A host booted with other nspawn flags (an older lab script) is booted again
        # with these: its disk (overlay) is kept.
        if [ "$(cat "$(host_dir "$k")/nspawn.flags" 2>/dev/null)" = "$(nspawn_cmd "$k" | sha256sum | cut -c1-16)" ]; then
            continue
        fi
        log "$(host_name "$k"): booted with other flags; stopping it to boot it again"
        stop_hosts "$k"
    fi
    prepare_upper "$k"
    booted+=("$k")
done
write_known_hosts

for k in "${booted[@]}"; do
    log "$(host_name "$k"): booting ($(host_ip4 "$k"), $(host_ip6 "$k"))"
    started[$k]=$(now)
    boot_host "$k"
done

# wait for all hosts at once (each bounded by KF_LAB_BOOT_TIMEOUT)
waiters=()
for ((k = 1; k <= N; k++)); do
    if [ -n "${started[$k]:-}" ]; then
        wait_ssh "$k" "${started[$k]}" &
    else
        wait_ssh "$k" "$(now)" running &
    fi
    waiters+=($!)
done
fail=0
for w in "${waiters[@]}"; do
    wait "$w" || fail=1
done
((fail == 0)) || die "some hosts did not come up (logs: $KF_LAB_DIR/hosts/*/console.log)"

{
    printf 'all:\n  hosts:\n'
    for ((k = 1; k <= N; k++)); do
        printf '    %s:\n' "$(host_name "$k")"
        printf '      ansible_host: %s\n' "$(host_ip4 "$k")"
        printf '      ansible_user: root\n'
        printf '      ansible_ssh_private_key_file: %s\n' "$SSH_KEY"
        printf '      ip: %s\n' "$(host_ip4 "$k")"
        printf '      ip6: %s\n' "$(host_ip6 "$k")"
    done
} | write_if_changed "$INVENTORY"
cat "$INVENTORY"
log "lab up: $N host(s), ${#booted[@]} booted, in $(elapsed "$T0")s (inventory: $INVENTORY)"
