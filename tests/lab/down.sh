#!/usr/bin/env bash
# tests/lab/down.sh: remove everything up.sh made. Stops every host by its
# recorded pid (never by process name), deletes the network namespaces,
# veths, bridge, routing rules and the state dir. Keeps the rootfs cache.
# Idempotent: safe to run when nothing is up.
set -euo pipefail
exec </dev/null

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$(readlink -f "$0")")/lib.sh"

need_root
# The files server (files-server.sh) and the registry (registry.sh) record their pids in
# the state dir: stop them first.
bash "$(dirname "$(readlink -f "$0")")/files-server.sh" stop 2>/dev/null || true
bash "$(dirname "$(readlink -f "$0")")/registry.sh" stop 2>/dev/null || true
t0=$(now)

mapfile -t all < <(seq 1 "$LAB_MAX")
stop_hosts "${all[@]}"

for ((k = 1; k <= LAB_MAX; k++)); do
    ns=$(host_netns "$k") veth=$(host_veth "$k")
    if ip link show "$veth" >/dev/null 2>&1; then
        ip link del "$veth"
    fi
    if [ -e "/run/netns/$ns" ]; then
        ip netns del "$ns"
    fi
    cleanup_cgroups "$k"
    # nspawn's per-machine dir; it cannot always remove it itself when /run
    # is not a tmpfs
    rmdir "/run/systemd/nspawn/propagate/$(host_name "$k")" 2>/dev/null || true
done

if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE"
fi
while ip -4 rule del priority "$RT_PRIO" 2>/dev/null; do :; done
while ip -6 rule del priority "$RT_PRIO" 2>/dev/null; do :; done
ip -4 route flush table "$RT_TABLE" 2>/dev/null || true
ip -6 route flush table "$RT_TABLE" 2>/dev/null || true

if [ -e "$KF_LAB_DIR/.kubeforge-lab" ]; then
    # upper dirs hold whatever the hosts wrote; never follow into other mounts
    rm -rf --one-file-system "$KF_LAB_DIR"
elif [ -d "$KF_LAB_DIR" ]; then
    rmdir "$KF_LAB_DIR" 2>/dev/null ||
        log "not deleting $KF_LAB_DIR: it was not made by up.sh (no .kubeforge-lab marker)"
fi
log "lab down in $(elapsed "$t0")s (rootfs cache kept: $ROOTFS)"
