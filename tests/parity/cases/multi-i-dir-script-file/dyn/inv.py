#!/usr/bin/env python3
# A test inventory script: workers from a "cloud", cp1 seen again.
import json
import sys

if sys.argv[1:] != ["--list"]:
    sys.exit("this script only answers --list")
print(json.dumps({
    "kube_node": {"hosts": ["w1", "w2"], "vars": {"pool": "cloud"}},
    "kube_control_plane": ["cp1"],
    "_meta": {"hostvars": {"cp1": {"src": "script"},
                           "w1": {"ansible_host": "10.4.0.2"},
                           "w2": {"ansible_host": "10.4.0.3", "src": "script"}}},
}))
