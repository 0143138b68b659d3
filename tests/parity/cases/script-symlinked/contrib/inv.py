#!/usr/bin/env python3
# A test inventory script reached through a symlink (Kubespray's Terraform layout:
# inventory/mycluster/hosts -> contrib/terraform/terraform.py).
import json
import sys

if sys.argv[1:] != ["--list"]:
    sys.exit("this script only answers --list")
print(json.dumps({
    "kube_control_plane": ["cp1"],
    "etcd": ["cp1"],
    "kube_node": ["w1"],
    "k8s_cluster": {"children": ["kube_control_plane", "kube_node"]},
    "_meta": {"hostvars": {"cp1": {"ansible_host": "10.8.0.1"},
                           "w1": {"ansible_host": "10.8.0.2"}}},
}))
