#!/usr/bin/env bash
# Installs the Ansible oracle for the inventory parity test (tests/parity/, issue 9):
# ansible-core in a Python virtualenv, pinned to the 2.18 series that Kubespray requires
# (Kubespray's requirements.txt pins ansible==11.x, i.e. ansible-core 2.18, and its
# playbooks/ansible_version.yml asserts 2.18.0 <= version < 2.19.0).
#
# Idempotent: an existing venv with the pinned version is reused without touching the network.
# Non-interactive: stdin is closed, pip never prompts.
# Prints the path of the venv's ansible-inventory on the last line of stdout.
#
#   KF_ANSIBLE_VENV   venv directory (default: target/ansible-venv, relative to the repo root)
#   KF_PYTHON         python interpreter used to create the venv (default: python3)
set -euo pipefail
exec </dev/null

ANSIBLE_CORE_VERSION=2.18.19

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="${KF_ANSIBLE_VENV:-target/ansible-venv}"
case "$venv" in /*) ;; *) venv="$root/$venv" ;; esac
python="${KF_PYTHON:-python3}"

installed_version() {
  [ -x "$venv/bin/python" ] || return 1
  "$venv/bin/python" - <<'PY' 2>/dev/null
from importlib.metadata import version
print(version("ansible-core"))
PY
}

if [ "$(installed_version || true)" != "$ANSIBLE_CORE_VERSION" ] || [ ! -x "$venv/bin/ansible-inventory" ]; then
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" >&2
  fi
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
  "$venv/bin/python" -m pip install --quiet "ansible-core==$ANSIBLE_CORE_VERSION" >&2
  got="$(installed_version || true)"
  if [ "$got" != "$ANSIBLE_CORE_VERSION" ]; then
    echo "install-ansible: expected ansible-core $ANSIBLE_CORE_VERSION in $venv, found '${got:-none}'" >&2
    exit 1
  fi
fi
echo "$venv/bin/ansible-inventory"
