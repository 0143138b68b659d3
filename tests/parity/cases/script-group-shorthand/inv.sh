#!/bin/sh
cat <<'JSON'
{"bastion": {"ansible_host": "192.0.2.10", "ansible_user": "jump"},
 "kube_control_plane": {"hosts": ["cp1"]},
 "etcd": {"hosts": ["cp1"]},
 "kube_node": {"hosts": ["cp1"]},
 "k8s_cluster": {"children": {"kube_control_plane": {}, "kube_node": {}}},
 "_meta": {"hostvars": {}}}
JSON
