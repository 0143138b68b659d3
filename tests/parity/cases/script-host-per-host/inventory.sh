#!/bin/sh
# A test inventory script without _meta: host variables come from --host NAME.
case "$1" in
--list) echo '{"kube_control_plane": ["cp1"], "etcd": {"hosts": ["cp1"]}, "kube_node": {"hosts": ["w1", "w2"], "vars": {"x": "node"}}}' ;;
--host)
  case "$2" in
  cp1) echo '{"ansible_host": "10.2.0.1", "x": "host"}' ;;
  w1) printf 'ansible_host: 10.2.0.2\nlist: [1, 2]\n' ;;
  *) echo '{}' ;;
  esac ;;
*) echo "usage: $0 --list | --host NAME" >&2; exit 2 ;;
esac
