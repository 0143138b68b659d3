#!/usr/bin/env python3
"""The Ansible side of the inventory parity test (issue 9).

For one case directory (tests/parity/cases/NAME), asks ansible-core itself what the
inventory means and prints ONE normalized JSON document on stdout:

    {"ansible_core": "2.18.x",
     "accepted": true|false,            # ansible-inventory parsed the inventory
     "error": str|null,                 # its error when not
     "warnings": [str],                 # Ansible's [WARNING] lines (informational)
     "created_files": {relpath: text},  # files Ansible wrote in the case (password lookups)
     "hosts": {NAME: {
         "groups": [sorted, all groups incl. ancestors and "ungrouped", without "all"],
         "vars": {VAR: {"value": V, "type": T}},
         "connection": {"address": ..., "port": ..., "user": ...}}}}

T is the Python type name mapped to JSON types: str, int, float, bool, list, dict, null;
plus "deferred" for a template that Ansible can only render at run time (it refers to
facts such as ansible_env.HOME or to an undefined name; "value" is then the raw text), and
"encrypted" for a !vault value with no password given (the value is then null).

How each part is obtained, all with the venv's ansible-core and nothing from ~/.ansible:

- hosts, groups and raw variables: `ansible-inventory -i INV -i KUBESPRAY_GROUPS --list`.
  KUBESPRAY_GROUPS is a `constructed` inventory source written to a temporary directory
  that does what Kubespray's `dynamic_groups` role does at the start of every playbook
  (group_by, which adds hosts directly to a group under `all`): old group names
  (kube-master, kube-node, calico-rr, no-floating) are mapped to the new ones, and
  k8s_cluster gets every host of kube_node, kube_control_plane and calico_rr. That keeps
  the depth of kube_node/kube_control_plane, exactly as in a Kubespray run.
  Group membership is the closure of the --list tree (direct groups plus ancestors).
- rendered values: for every variable whose raw value holds a template ({{, {%, {#), is a
  !vault value, or is listed in the case's `templated:`, `debug var=NAME` with a local
  connection, one task per name in ONE ansible-playbook run (a small callback writes
  the results), marked "templated": true (the type is what Ansible's
  templating produces: in ansible-core 2.18 a rendered template is a string unless it
  looks like a list/dict/True/False).
- magic variables kubeforge claims to provide (COMPARED_MAGIC) from the same run.
- the SSH target (connection): the ssh connection plugin's options host, port and
  remote_user, resolved as Ansible's config manager does from the variable names the
  plugin declares (`ansible-doc -t connection -j ssh`: for host inventory_hostname,
  ansible_host, ansible_ssh_host; the LAST one defined wins), from the rendered values.
  Unset options are null (Ansible then leaves them to ssh: port 22, the local user).

Magic variables NOT compared (kubeforge does not claim to provide them as host
variables): see EXCLUDED_MAGIC. ansible-inventory removes them from --list already; the
list is applied again so none can leak in.

Usage:  oracle.py CASE_DIR [--ansible-bin DIR]
        (DIR defaults to $KF_ANSIBLE_BIN, else <repo>/target/ansible-venv/bin)
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

try:
    import yaml
except ImportError:  # run with the Ansible venv's python, which has PyYAML
    _venv = os.environ.get("KF_ANSIBLE_VENV") or os.path.join(REPO, "target", "ansible-venv")
    _py = os.path.join(_venv if os.path.isabs(_venv) else os.path.join(REPO, _venv), "bin", "python")
    if __name__ == "__main__" and os.path.exists(_py) and \
            os.path.realpath(sys.executable) != os.path.realpath(_py):
        os.execv(_py, [_py, os.path.abspath(__file__), *sys.argv[1:]])
    raise SystemExit("PyYAML missing: run .ci/install-ansible.sh first")

# Magic variables compared with kubeforge's output (kubeforge provides them to templates
# and must show them).
COMPARED_MAGIC = ["inventory_dir", "inventory_file", "inventory_hostname", "group_names"]

# Magic/internal variables Ansible has that kubeforge does not claim to provide as host
# variables. None of them comes from the inventory's text.
EXCLUDED_MAGIC = frozenset([
    "inventory_hostname_short", "groups", "hostvars", "omit", "playbook_dir",
    "play_hosts", "role_names", "role_name", "role_path", "environment", "vars",
    "ansible_check_mode", "ansible_diff_mode", "ansible_config_file", "ansible_facts",
    "ansible_forks", "ansible_inventory_sources", "ansible_limit", "ansible_play_batch",
    "ansible_play_hosts", "ansible_play_hosts_all", "ansible_play_role_names",
    "ansible_play_name", "ansible_playbook_python", "ansible_role_names",
    "ansible_run_tags", "ansible_skip_tags", "ansible_verbosity", "ansible_version",
    "ansible_async_path", "ansible_collection_name", "ansible_dependent_role_names",
    "ansible_role_name", "ansible_search_path", "ansible_loop_var", "ansible_index_var",
    "ansible_parent_role_names", "ansible_parent_role_paths",
])

INVENTORY_NAMES = ["hosts.yaml", "hosts.yml", "inventory.ini", "hosts.ini",
                   "inventory.yaml", "hosts"]

# Kubespray's dynamic_groups role, as a constructed inventory source (see module doc).
KUBESPRAY_GROUPS = """\
plugin: ansible.builtin.constructed
strict: true
groups:
  kube_control_plane: "'kube-master' in group_names"
  kube_node: "'kube-node' in group_names"
  calico_rr: "'calico-rr' in group_names"
  no_floating: "'no-floating' in group_names"
  k8s_cluster: "group_names | intersect(['kube_node', 'kube_control_plane', 'calico_rr']) | length > 0"
"""

TEMPLATE_MARK = re.compile(r"\{\{|\{%|\{#")
NOT_DEFINED = "VARIABLE IS NOT DEFINED!"


def load_case(case_dir):
    path = os.path.join(case_dir, "case.yml")
    with open(path, encoding="utf-8") as f:
        case = yaml.safe_load(f) or {}
    inv = case.get("inventory")
    if not inv:
        for n in INVENTORY_NAMES:
            if os.path.isfile(os.path.join(case_dir, n)):
                inv = n
                break
    if not inv:
        raise SystemExit(f"{case_dir}: no inventory file (set inventory: in case.yml)")
    # Several sources: `inventory: [a.ini, dir, inv.py]`, given as -i each, in order.
    case["inventories"] = list(inv) if isinstance(inv, list) else [inv]
    case["inventory"] = case["inventories"][0]
    # Environment both tools get; "{case}" stands for the directory the case runs in.
    case["env"] = {k: str(v).replace("{case}", case_dir)
                   for k, v in (case.get("env") or {}).items()}
    case.setdefault("templated", [])
    case.setdefault("expect", "accept")
    vp = case.get("vault_password_file")
    if vp is None and os.path.isfile(os.path.join(case_dir, "vault-password.txt")):
        vp = "vault-password.txt"
    case["vault_password_file"] = vp
    return case


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "dict"
    return type(v).__name__


def typed(v):
    return {"value": v, "type": json_type(v)}


def is_vault(v):
    return isinstance(v, dict) and set(v) == {"__ansible_vault"}


def has_template(v):
    if isinstance(v, str):
        return bool(TEMPLATE_MARK.search(v))
    if isinstance(v, list):
        return any(has_template(x) for x in v)
    if isinstance(v, dict):
        return is_vault(v) or any(has_template(x) for x in v.values())
    return False


class Ansible:
    def __init__(self, bindir, case_dir, case, work):
        self.bindir = bindir
        self.case_dir = case_dir
        self.case = case
        self.work = work
        cfg = os.path.join(work, "ansible.cfg")
        with open(cfg, "w") as f:
            f.write("[defaults]\n")
        self.groups_src = os.path.join(work, "kubespray_groups", "kubespray_groups.yml")
        os.makedirs(os.path.dirname(self.groups_src))
        with open(self.groups_src, "w") as f:
            f.write(KUBESPRAY_GROUPS)
        self.empty = os.path.join(work, "playbook-dir")
        os.makedirs(self.empty)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update({
            "PATH": bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
            "HOME": os.path.join(work, "home"),
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
            "ANSIBLE_CONFIG": cfg,
            "ANSIBLE_HOME": os.path.join(work, "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": os.path.join(work, "tmp"),
            "ANSIBLE_REMOTE_TEMP": os.path.join(work, "remote-tmp"),
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(work, "collections"),
            "ANSIBLE_ROLES_PATH": os.path.join(work, "roles"),
            "ANSIBLE_INVENTORY_ENABLED": "host_list,script,auto,yaml,ini,toml",
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
            "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "False",
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "ANSIBLE_DEPRECATION_WARNINGS": "True",
            "ANSIBLE_SYSTEM_WARNINGS": "False",
        })
        os.makedirs(env["HOME"])
        vp = case["vault_password_file"]
        self.vault_args = []
        if vp:
            vp_abs = os.path.join(case_dir, vp)
            env["ANSIBLE_VAULT_PASSWORD_FILE"] = vp_abs
            self.vault_args = ["--vault-password-file", vp_abs]
        env.update(case["env"])
        self.env = env
        self.inv_args = [a for inv in case["inventories"] for a in ("-i", inv)]
        self.inv_args += ["-i", self.groups_src]

    def run(self, argv):
        p = subprocess.run(argv, cwd=self.case_dir, env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=300)
        return p.returncode, p.stdout, p.stderr

    def inventory_list(self):
        return self.run([os.path.join(self.bindir, "ansible-inventory"), *self.inv_args,
                         *self.vault_args, "--playbook-dir", self.empty, "--list"])

    def debug_many(self, exprs):
        """`debug var=EXPR` for every EXPR (one task each, errors ignored so that one
        failing variable does not hide the others), all in ONE ansible-playbook run whose
        results a small callback (CALLBACK below) writes as JSON:
        {expr: {host: (ok, value)}}. One run per case instead of one per variable."""
        if not exprs:
            return {}
        play = os.path.join(self.work, "debug.yml")
        with open(play, "w") as f:
            f.write("- hosts: all\n  gather_facts: false\n  tasks:\n")
            for i, e in enumerate(exprs):
                f.write(f"    - name: kfvar {i}\n      ignore_errors: true\n"
                        f"      debug:\n        var: {json.dumps(e)}\n")
        plugins = os.path.join(self.work, "callback_plugins")
        os.makedirs(plugins, exist_ok=True)
        with open(os.path.join(plugins, "kf_oracle.py"), "w") as f:
            f.write(CALLBACK)
        out = os.path.join(self.work, "results.json")
        env = dict(self.env, ANSIBLE_CALLBACK_PLUGINS=plugins, ANSIBLE_STDOUT_CALLBACK="kf_oracle",
                   KF_ORACLE_OUT=out)
        p = subprocess.run([os.path.join(self.bindir, "ansible-playbook"), *self.inv_args,
                            *self.vault_args, "-c", "local", play],
                           cwd=self.case_dir, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=600)
        if not os.path.exists(out):
            raise RuntimeError(f"ansible debug failed (rc={p.returncode}): "
                               f"{(p.stderr or p.stdout).strip()[-2000:]}")
        with open(out, encoding="utf-8") as f:
            records = json.load(f)
        res = {e: {} for e in exprs}
        for r in records:
            m = re.fullmatch(r"kfvar (\d+)", r.get("task", ""))
            if not m or int(m.group(1)) >= len(exprs):
                continue
            expr = exprs[int(m.group(1))]
            data = r.get("result") or {}
            if r.get("ok") and expr in data and data[expr] != NOT_DEFINED:
                res[expr][r["host"]] = (True, data[expr])
            else:
                res[expr][r["host"]] = (False, data.get("msg") or data.get(expr) or "FAILED")
        return res


# The stdout callback of the debug run: every task result, by task and host, as JSON.
CALLBACK = """
import json, os
from ansible.plugins.callback import CallbackBase
from ansible.module_utils.common.json import AnsibleJSONEncoder

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'kf_oracle'

    def __init__(self):
        super().__init__()
        self.records = []

    def _add(self, result, ok):
        self.records.append({'task': result._task.get_name(), 'host': result._host.get_name(),
                             'ok': ok, 'result': result._result})

    def v2_runner_on_ok(self, result):
        self._add(result, True)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, False)

    def v2_runner_on_unreachable(self, result):
        self._add(result, False)

    def v2_playbook_on_stats(self, stats):
        with open(os.environ['KF_ORACLE_OUT'], 'w') as f:
            json.dump(self.records, f, cls=AnsibleJSONEncoder)
"""


def warnings_of(stderr):
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("[WARNING]"):
            out.append(line[len("[WARNING]:"):].strip())
        elif out and line and not line.startswith(("[", "ERROR")):
            out[-1] += " " + line
    return out


def error_of(stderr):
    lines = [l.rstrip() for l in stderr.splitlines()]
    for i, l in enumerate(lines):
        if l.startswith("ERROR"):
            return " ".join(x.strip() for x in lines[i:] if x.strip())[:2000]
    return (stderr.strip() or "failed")[:2000]


def group_closure(listing):
    """{host: set(groups)} from the --list tree (direct groups plus ancestors)."""
    parents = {}
    direct = {}
    for g, data in listing.items():
        if g == "_meta" or not isinstance(data, dict):
            continue
        for c in data.get("children", []):
            parents.setdefault(c, set()).add(g)
        for h in data.get("hosts", []):
            direct.setdefault(h, set()).add(g)
    out = {}
    for h, gs in direct.items():
        seen = set()
        todo = list(gs)
        while todo:
            g = todo.pop()
            if g in seen:
                continue
            seen.add(g)
            todo.extend(parents.get(g, ()))
        seen.discard("all")
        out[h] = seen
    for h in listing.get("_meta", {}).get("hostvars", {}):
        out.setdefault(h, set())
    return out


def files_under(d):
    out = set()
    for root, _dirs, files in os.walk(d):
        for f in files:
            out.add(os.path.relpath(os.path.join(root, f), d))
    return out


def oracle(case_dir, bindir):
    case_dir = os.path.abspath(case_dir)
    case = load_case(case_dir)
    version = ansible_version(bindir)
    work = tempfile.mkdtemp(prefix="kf-oracle-")
    before = files_under(case_dir)
    try:
        a = Ansible(bindir, case_dir, case, work)
        rc, out, err = a.inventory_list()
        doc = {"ansible_core": version, "accepted": rc == 0, "error": None,
               "warnings": warnings_of(err), "hosts": {}}
        if rc != 0:
            doc["error"] = error_of(err)
            return doc
        listing = json.loads(out)
        hostvars = listing.get("_meta", {}).get("hostvars", {})
        groups = group_closure(listing)
        hosts = {}
        for h in sorted(groups):
            raw = hostvars.get(h, {})
            vars_ = {}
            for k, v in raw.items():
                if k in EXCLUDED_MAGIC:
                    continue
                vars_[k] = typed(v)
            hosts[h] = {"groups": sorted(groups[h]), "vars": vars_, "connection": {}}
        # Variables whose value Ansible renders: ask Ansible for the rendered value.
        names = set(case.get("templated") or [])
        for h, raw in hostvars.items():
            for k, v in raw.items():
                if has_template(v):
                    names.add(k)
        names = sorted(n for n in names if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n))
        magic = "[" + ",".join(COMPARED_MAGIC) + "]"
        rendered = a.debug_many(names + [magic]) if hosts else {}
        for name in names:
            for h, (ok, val) in rendered.get(name, {}).items():
                if h not in hosts or name not in hostvars.get(h, {}):
                    continue
                raw = hostvars[h][name]
                if ok:
                    hosts[h]["vars"][name] = dict(typed(val), templated=True)
                elif is_vault(raw):
                    hosts[h]["vars"][name] = {"value": None, "type": "encrypted",
                                              "error": str(val)}
                else:
                    hosts[h]["vars"][name] = {"value": raw, "type": "deferred",
                                              "error": str(val)}
        if hosts:
            for h, (ok, val) in rendered.get(magic, {}).items():
                if h in hosts and ok:
                    for n, v in zip(COMPARED_MAGIC, val):
                        hosts[h]["vars"][n] = typed(v)
            options = ssh_options(a, version)
            for h in hosts:
                hosts[h]["connection"] = connection_of(hosts[h]["vars"], options)
        doc["hosts"] = hosts
        # Files Ansible created while rendering (lookup('password') credentials): kept so
        # that compare.py can put them back into a fresh copy, as a migrating user has them.
        created = {}
        for rel in sorted(files_under(case_dir) - before):
            try:
                with open(os.path.join(case_dir, rel), encoding="utf-8") as f:
                    created[rel] = f.read()
            except (OSError, UnicodeDecodeError):
                pass
        doc["created_files"] = created
        return doc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ssh_options(a, version):
    """{address|port|user: (type, [var names in order])} from the ssh plugin's own doc
    (cached per ansible-core version: ansible-doc takes a second)."""
    cache = os.path.join(REPO, "target", "parity-cache", f"ssh-doc-{version}.json")
    try:
        with open(cache, encoding="utf-8") as f:
            opts = json.load(f)
    except (OSError, ValueError):
        rc, out, err = a.run([os.path.join(a.bindir, "ansible-doc"), "-t", "connection",
                              "-j", "ssh"])
        if rc != 0:
            raise RuntimeError(f"ansible-doc failed: {err.strip()[-1000:]}")
        opts = json.loads(out)["ssh"]["doc"]["options"]
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(opts, f)
        os.replace(tmp, cache)
    res = {}
    for key, opt in (("address", "host"), ("port", "port"), ("user", "remote_user")):
        names = [v["name"] for v in opts[opt].get("vars", [])
                 if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v["name"])]
        res[key] = (opts[opt].get("type", "string"), names)
    return res


def connection_of(vars_, options):
    conn = {}
    for key, (typ, names) in options.items():
        value = None
        for n in names:
            v = vars_.get(n)
            if v is not None and v.get("type") not in ("deferred", "encrypted") and v["value"] is not None:
                value = v["value"]
        if value is not None and typ in ("int", "integer"):
            try:
                value = int(value)
            except (TypeError, ValueError):
                pass
        elif value is not None and typ in ("str", "string"):
            value = str(value)
        conn[key] = value
    return conn


_VERSION = {}


def ansible_version(bindir):
    if bindir not in _VERSION:
        py = os.path.join(bindir, "python")
        p = subprocess.run([py, "-c", "from importlib.metadata import version;"
                            "print(version('ansible-core'))"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise SystemExit(f"no ansible-core in {bindir}: run .ci/install-ansible.sh")
        _VERSION[bindir] = p.stdout.strip()
    return _VERSION[bindir]


def default_bindir():
    return os.environ.get("KF_ANSIBLE_BIN") or os.path.join(
        os.environ.get("KF_ANSIBLE_VENV") or os.path.join(REPO, "target", "ansible-venv"),
        "bin")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case_dir")
    ap.add_argument("--ansible-bin", default=default_bindir())
    args = ap.parse_args()
    doc = oracle(args.case_dir, os.path.abspath(args.ansible_bin))
    json.dump(doc, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
