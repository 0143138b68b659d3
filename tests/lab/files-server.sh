#!/usr/bin/env bash
# tests/lab/files-server.sh start|stop [DIR]: serves the lab's offline files repository
# (tests/lab/files-repo.sh) over HTTP on the lab bridge only (10.213.0.1:8080). The pid
# is recorded; stop kills that pid only.
set -euo pipefail
exec </dev/null
KF_LAB_DIR=${KF_LAB_DIR:-/run/kubeforge-lab}
DIR=${2:-/var/cache/kubeforge-lab/files}
PIDFILE=$KF_LAB_DIR/files-server.pid
running() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && grep -q http.server "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; }
case ${1:-} in
start)
    ip -4 addr show kflab0 2>/dev/null | grep -q 10.213.0.1/ || { echo "files-server: the lab bridge kflab0 is not up (run tests/lab/up.sh)" >&2; exit 1; }
    if ! running; then
        mkdir -p "$KF_LAB_DIR"
        setsid python3 -m http.server 8080 --bind 10.213.0.1 --directory "$DIR" > "$KF_LAB_DIR/files-server.log" 2>&1 < /dev/null &
        echo $! > "$PIDFILE"
    fi
    for _ in $(seq 100); do
        curl -fsS -o /dev/null http://10.213.0.1:8080/lab-vars.yml 2>/dev/null && exit 0
        sleep 0.1
    done
    echo "files-server: no answer on 10.213.0.1:8080 (log: $KF_LAB_DIR/files-server.log)" >&2
    exit 1
    ;;
stop)
    if running; then kill "$(cat "$PIDFILE")"; fi
    rm -f "$PIDFILE"
    ;;
*) echo "usage: files-server.sh start|stop [DIR]" >&2; exit 2 ;;
esac
