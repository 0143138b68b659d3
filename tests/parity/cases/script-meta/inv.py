#!/usr/bin/env python3
# A test inventory script: the --list shape with _meta.hostvars (never asked --host).
import json
import sys

if sys.argv[1:] != ["--list"]:
    sys.exit("this script only answers --list")
print(json.dumps({
    "kube_control_plane": {"hosts": ["cp1"], "vars": {"role_label": "cp", "n": 1}},
    "etcd": ["cp1"],
    "kube_node": {"hosts": ["w1", "w2"], "vars": {"role_label": "node"}},
    "k8s_cluster": {"children": ["kube_control_plane", "kube_node"],
                    "vars": {"cluster_name": "from-script", "flags": [1, "two", None, True]}},
    "all": {"vars": {"ansible_user": "deploy", "port_from_script": 2222}},
    "_meta": {"hostvars": {
        "cp1": {"ansible_host": "10.1.0.1", "ip": "10.1.0.1"},
        "w1": {"ansible_host": "10.1.0.2", "ansible_port": 2201, "nested": {"a": [1.5, False]}},
        "not-in-any-group": {"ignored": True},
    }},
}))
