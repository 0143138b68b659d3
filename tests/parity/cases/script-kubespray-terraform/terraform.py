#!/usr/bin/env python3
# kubeforge's own stand-in for Kubespray's contrib/terraform/terraform.py (written for
# these tests, not copied): reads every *.tfstate (Terraform state v4) below
# $TERRAFORM_STATE_ROOT and prints an Ansible inventory. Each equinix_metal_device
# instance is a host; its tags are its groups; _meta.hostvars carries its addresses.
import json
import os
import sys


def states(root):
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if f.endswith(".tfstate"):
                with open(os.path.join(d, f), encoding="utf-8") as fh:
                    yield json.load(fh)


def hosts(root):
    for state in states(root):
        for res in state.get("resources", []):
            if res.get("type") != "equinix_metal_device":
                continue
            for inst in res.get("instances", []):
                a = inst["attributes"]
                nets = a.get("network", [])
                public4 = next((n["address"] for n in nets if n["public"] and n["family"] == 4), None)
                private4 = next((n["address"] for n in nets if not n["public"] and n["family"] == 4), None)
                hostvars = {
                    "ansible_host": public4,
                    "ansible_ssh_user": "root",
                    "ip": private4,
                    "access_ip": public4,
                    "provider": "equinix",
                    "plan": a.get("plan"),
                    "locked": a.get("locked"),
                    "facilities": a.get("facilities", []),
                }
                groups = list(a.get("tags", [])) + ["equinix_metal_plan_" + a.get("plan", "").replace(".", "_")]
                yield a["hostname"], hostvars, groups


def main():
    root = os.environ.get("TERRAFORM_STATE_ROOT", os.getcwd())
    found = list(hosts(root))
    if sys.argv[1:] == ["--list"]:
        out = {}
        for name, _, groups in found:
            for g in groups:
                out.setdefault(g, {"hosts": []})["hosts"].append(name)
        out["_meta"] = {"hostvars": {name: hv for name, hv, _ in found}}
        print(json.dumps(out))
    elif sys.argv[1:2] == ["--host"] and len(sys.argv) == 3:
        print(json.dumps(next((hv for name, hv, _ in found if name == sys.argv[2]), {})))
    else:
        sys.exit("usage: terraform.py --list | --host NAME")


main()
