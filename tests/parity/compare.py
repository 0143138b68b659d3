#!/usr/bin/env python3
"""Differential test of kubeforge's inventory loader against ansible-core (issue 9).

For every case under tests/parity/cases/ (or the ones named on the command line):

1. the Ansible side: tests/parity/oracle.py (see its docstring), cached as JSON under
   target/parity-cache/, keyed by a hash of the case's files, the oracle's source, the
   directory the case runs in and the ansible-core version, so reruns are fast;
2. the kubeforge side: `$KUBEFORGE inventory show -i INV --format json --show-secrets`;

both run in the same fresh copy of the case, target/parity-work/CASE/, with the inventory
given as a bare relative path (`-i hosts.ini`) from that directory. Files Ansible created
there (lookup('password') credentials) are put back before kubeforge runs, so both sides
see the same stored passwords. Then it compares
acceptance, the host set, each host's groups (all groups incl. ancestors, without `all`),
every variable's value and JSON type (deep, strict: 1, 1.0, True and "1" all differ), and
the SSH target (address/port/user, where Ansible defines one). Each disagreement is printed
as

    CASE HOST VARIABLE: ansible=<value> (type) kubeforge=<value> (type)

Disagreements listed in tests/parity/deliberate.yml (each with its reason) are reported
as deliberate and do not fail. Exit status: 0 when every disagreement is deliberate and
every case's `expect:` matches what Ansible did, 1 otherwise, 2 on a usage error.

Usage:
    KUBEFORGE=/path/to/kubeforge tests/parity/compare.py [CASE ...] [--no-cache]
        [--ansible-bin DIR] [--json FILE] [--show-deliberate]

KUBEFORGE defaults to target/debug/kubeforge. The Ansible venv comes from
.ci/install-ansible.sh (KF_ANSIBLE_VENV, default target/ansible-venv); this script
re-executes itself with that venv's python when PyYAML is missing.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

try:
    import yaml  # noqa: E402
except ImportError:  # run with the Ansible venv's python, which has PyYAML
    venv = os.environ.get("KF_ANSIBLE_VENV") or os.path.join(REPO, "target", "ansible-venv")
    if not os.path.isabs(venv):
        venv = os.path.join(REPO, venv)
    py = os.path.join(venv, "bin", "python")
    if os.path.exists(py) and os.path.realpath(sys.executable) != os.path.realpath(py):
        os.execv(py, [py, os.path.abspath(__file__), *sys.argv[1:]])
    raise SystemExit("PyYAML missing: run .ci/install-ansible.sh first")

import argparse  # noqa: E402
import fnmatch  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, HERE)
import oracle  # noqa: E402

CASES = os.path.join(HERE, "cases")
CACHE = os.path.join(REPO, "target", "parity-cache")
WORK = os.path.join(REPO, "target", "parity-work")
DELIBERATE = os.path.join(HERE, "deliberate.yml")
ABSENT = object()


# ---------------------------------------------------------------------------- helpers

def jtype(v):
    return oracle.json_type(v)


def show(v):
    if v is ABSENT:
        return "<absent>"
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def one_line(text, limit=300):
    text = " / ".join(l.strip() for l in (text or "").splitlines() if l.strip())
    return text if len(text) <= limit else text[:limit] + "..."


def same(a, b):
    """Deep, type-strict equality (bool is not int, int is not float)."""
    if jtype(a) != jtype(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def case_files(case_dir):
    out = []
    for root, dirs, files in os.walk(case_dir):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            out.append((os.path.relpath(p, case_dir), p))
    return out


def shared_files(case_dir):
    """[(source, relative destination)] from case.yml's `shared:` when the shared
    directory (../shared/DIR beside the checkout) exists; [] in a bare clone, where the
    case's own committed files stand in."""
    with open(os.path.join(case_dir, "case.yml"), encoding="utf-8") as f:
        shared = (yaml.safe_load(f) or {}).get("shared")
    if not shared:
        return []
    base = os.path.join(os.path.dirname(REPO), "shared", shared["dir"])
    if not os.path.isdir(base):
        return []
    return [(os.path.join(base, src), dst) for src, dst in shared["files"].items()]


def cache_key(case_dir, run_dir, version):
    h = hashlib.sha256()
    h.update(f"ansible-core {version}\nrun-dir {run_dir}\n".encode())
    with open(os.path.join(HERE, "oracle.py"), "rb") as f:
        h.update(hashlib.sha256(f.read()).digest())
    files = case_files(case_dir) + [(f"shared:{dst}", src) for src, dst in shared_files(case_dir)]
    for rel, p in files:
        # The executable bit decides whether a file is an inventory script.
        h.update(rel.encode() + (b"\1" if os.access(p, os.X_OK) else b"\0"))
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:32]


def fresh_copy(case_dir, name):
    dst = os.path.join(WORK, name)
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(case_dir, dst, symlinks=True)
    for src, rel in shared_files(case_dir):
        target = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(src, target)
        # Read-only in the shared directory: writable in the copy, mode bits otherwise kept.
        os.chmod(target, os.stat(src).st_mode | 0o200)
    return dst


def snapshot(d):
    return {rel for rel, _ in case_files(d)}


# ---------------------------------------------------------------------------- the two sides

def ansible_side(case_dir, name, run_dir, bindir, use_cache):
    version = oracle.ansible_version(bindir)
    key = cache_key(case_dir, run_dir, version)
    path = os.path.join(CACHE, f"{name}-{key}.json")
    if use_cache and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f), True
    py = os.path.join(bindir, "python")
    p = subprocess.run([py, os.path.join(HERE, "oracle.py"), run_dir, "--ansible-bin", bindir],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"oracle failed for {name}: {p.stderr.strip()[-3000:]}")
    doc = json.loads(p.stdout)
    os.makedirs(CACHE, exist_ok=True)
    for old in os.listdir(CACHE):
        if old.startswith(name + "-") and old[len(name) + 1:-5].isalnum() and len(old) == len(name) + 38:
            os.remove(os.path.join(CACHE, old))
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True, ensure_ascii=False)
    os.replace(tmp, path)
    return doc, False


_HELP = {}


def kubeforge_flags(kf):
    if kf not in _HELP:
        p = subprocess.run([kf, "inventory", "show", "--help"], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=60)
        _HELP[kf] = p.stdout + p.stderr
    return _HELP[kf]


def kubeforge_side(kf, run_dir, case):
    argv = [kf, "inventory", "show"]
    for inv in case["inventories"]:
        argv += ["-i", inv]
    argv += ["--format", "json", "--show-secrets"]
    if "--magic" in kubeforge_flags(kf):
        argv.append("--magic")  # inventory_dir, inventory_file, ... among the variables
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "KUBEFORGE"))}
    env["NO_COLOR"] = "1"
    env.update(case["env"])
    vp = case.get("vault_password_file")
    if vp:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = os.path.join(run_dir, vp)
        if "--vault-password-file" in kubeforge_flags(kf):
            argv += ["--vault-password-file", vp]
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, cwd=run_dir, env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=300)
    except subprocess.TimeoutExpired:
        return {"accepted": False, "error": "timed out after 300 s", "hosts": {}}
    elapsed = time.monotonic() - t0
    doc = {"accepted": False, "error": None, "hosts": {}, "seconds": round(elapsed, 2)}
    if p.returncode != 0:
        doc["error"] = (p.stderr.strip() or p.stdout.strip() or f"exit {p.returncode}")[:2000]
        return doc
    try:
        out = json.loads(p.stdout)
    except ValueError as e:
        doc["error"] = f"output is not JSON: {e}"
        return doc
    doc["accepted"] = True
    for h in out.get("hosts", []):
        vars_ = {}
        for k, v in (h.get("vars") or {}).items():
            vars_[k] = {"value": v.get("value"), "type": jtype(v.get("value")),
                        "source": v.get("source")}
        doc["hosts"][h["name"]] = {"groups": sorted(g for g in h.get("groups", []) if g != "all"),
                                   "vars": vars_, "ssh": h.get("ssh") or {}}
    return doc


# ---------------------------------------------------------------------------- comparison

def compare(name, a, k):
    """Disagreements between the Ansible document a and the kubeforge document k."""
    out = []

    def add(host, variable, kind, av, at, kv, kt, **extra):
        d = {"case": name, "host": host, "variable": variable, "kind": kind,
             "ansible": av, "ansible_type": at, "kubeforge": kv, "kubeforge_type": kt}
        d.update(extra)
        out.append(d)

    if a["accepted"] != k["accepted"]:
        add("-", "-", "acceptance",
            "accepted" if a["accepted"] else "rejected: " + one_line(a.get("error")), "",
            "accepted" if k["accepted"] else "rejected: " + one_line(k.get("error")), "")
        return out
    if not a["accepted"]:
        return out
    for h in sorted(set(a["hosts"]) | set(k["hosts"])):
        ah, kh = a["hosts"].get(h), k["hosts"].get(h)
        if ah is None or kh is None:
            add(h, "-", "host", "present" if ah else ABSENT, "", "present" if kh else ABSENT, "")
            continue
        if ah["groups"] != kh["groups"]:
            add(h, "groups", "groups", ah["groups"], "list", kh["groups"], "list")
        for var in sorted(set(ah["vars"]) | set(kh["vars"])):
            av, kv = ah["vars"].get(var), kh["vars"].get(var)
            if av is None:
                add(h, var, "only-kubeforge", ABSENT, "", kv["value"], kv["type"],
                    kubeforge_source=kv.get("source"))
                continue
            if kv is None:
                add(h, var, "only-ansible", av["value"], av["type"], ABSENT, "")
                continue
            if av["type"] == "deferred":
                # Ansible renders it at run time (facts, undefined names): kubeforge must keep
                # the variable and show it unresolved, as a string.
                if kv["type"] != "str":
                    add(h, var, "deferred", av["value"], "deferred", kv["value"], kv["type"])
                continue
            if av["type"] == "encrypted":
                # No vault password: never show (or use) the ciphertext.
                if kv["type"] != "str" or "$ANSIBLE_VAULT" in kv["value"]:
                    add(h, var, "encrypted", "<encrypted>", "encrypted", kv["value"], kv["type"])
                continue
            if not same(av["value"], kv["value"]):
                add(h, var, "value", av["value"], av["type"], kv["value"], kv["type"],
                    templated=bool(av.get("templated")))
        ac, ks = ah.get("connection") or {}, kh.get("ssh") or {}
        for key in ("address", "port", "user"):
            if ac.get(key) is None:
                continue  # Ansible leaves it to ssh (port 22, the local user)
            kval = ks.get(key, ABSENT)
            if kval is ABSENT or not same(ac[key], kval):
                add(h, f"ssh.{key}", "connection", ac[key], jtype(ac[key]),
                    kval, "" if kval is ABSENT else jtype(kval))
    return out


def load_deliberate():
    if not os.path.exists(DELIBERATE):
        return []
    with open(DELIBERATE, encoding="utf-8") as f:
        entries = yaml.safe_load(f) or []
    for e in entries:
        if not e.get("reason") or not isinstance(e.get("match"), dict):
            raise SystemExit(f"deliberate.yml: every entry needs reason and match: {e}")
    return entries


def _glob(pat, value):
    pats = pat if isinstance(pat, list) else [pat]
    return any(fnmatch.fnmatchcase(str(value), str(p)) for p in pats)


def python_str(v):
    """str() of the Python value a JSON value stands for (None is '' in a template)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def literal(text):
    try:
        import ast
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ABSENT
    return list(v) if isinstance(v, tuple) else v


def deliberate_for(d, entries):
    for e in entries:
        m = e["match"]
        ok = True
        if "templated" in m and bool(d.get("templated")) != bool(m["templated"]):
            continue
        for field in ("case", "host", "variable", "kind", "ansible_type", "kubeforge_type",
                      "kubeforge_source"):
            if field in m and not _glob(m[field], d.get(field) if d.get(field) is not None else ""):
                ok = False
                break
        if ok and "kubeforge_value" in m and not same(m["kubeforge_value"], d.get("kubeforge")):
            ok = False
        if ok and "ansible_value" in m and not same(m["ansible_value"], d.get("ansible")):
            ok = False
        if ok and m.get("octal_text"):
            kv, av = d.get("kubeforge"), d.get("ansible")
            ok = (isinstance(kv, str) and isinstance(av, int) and not isinstance(av, bool)
                  and len(kv) > 1 and kv[0] == "0" and all(c in "01234567" for c in kv)
                  and int(kv, 8) == av)
        if ok and m.get("native_text"):
            # Ansible 2.18 stringifies a rendered {{ expr }}; kubeforge kept the native
            # value whose text that string is.
            kv, av = d.get("kubeforge"), d.get("ansible")
            ok = (isinstance(av, str) and not isinstance(kv, (str, list, dict))
                  and python_str(kv) == av)
        if ok and m.get("literal_text"):
            # Ansible 2.18 turns rendered text such as "[1, 2]" into a list; kubeforge
            # kept the text.
            kv, av = d.get("kubeforge"), d.get("ansible")
            ok = isinstance(kv, str) and not isinstance(av, str) and same(literal(kv), av)
        if ok and "ansible_contains" in m:
            av = d.get("ansible")
            wanted = m["ansible_contains"]
            wanted = wanted if isinstance(wanted, list) else [wanted]
            ok = isinstance(av, list) and any(w in av for w in wanted)
        if ok and "kubeforge_accepts" in m and d["kind"] == "acceptance":
            ok = (d["kubeforge"] == "accepted") == bool(m["kubeforge_accepts"])
        if ok:
            return e
    return None


def line(d):
    if d["kind"] == "acceptance":
        return f"{d['case']} - acceptance: ansible={d['ansible']} kubeforge={d['kubeforge']}"
    if d["kind"] == "host":
        return f"{d['case']} {d['host']} host: ansible={show(d['ansible'])} kubeforge={show(d['kubeforge'])}"
    at = f" ({d['ansible_type']})" if d["ansible_type"] else ""
    kt = f" ({d['kubeforge_type']})" if d["kubeforge_type"] else ""
    return (f"{d['case']} {d['host']} {d['variable']}: ansible={show(d['ansible'])}{at} "
            f"kubeforge={show(d['kubeforge'])}{kt}")


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    ap.add_argument("--kubeforge", default=os.environ.get("KUBEFORGE")
                    or os.path.join(REPO, "target", "debug", "kubeforge"))
    ap.add_argument("--ansible-bin", default=oracle.default_bindir())
    ap.add_argument("--no-cache", action="store_true", help="rerun the oracle")
    ap.add_argument("--json", help="write every disagreement as JSON to this file")
    ap.add_argument("--show-deliberate", action="store_true",
                    help="print deliberate disagreements too")
    ap.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                    help="cases asked of Ansible at once (default: the cores, at most 4)")
    args = ap.parse_args()

    kf = os.path.abspath(args.kubeforge)
    if not os.access(kf, os.X_OK):
        print(f"kubeforge binary not found: {kf} (set KUBEFORGE)", file=sys.stderr)
        return 2
    bindir = os.path.abspath(args.ansible_bin)
    if not os.access(os.path.join(bindir, "ansible-inventory"), os.X_OK):
        print(f"no ansible-inventory in {bindir}: run .ci/install-ansible.sh", file=sys.stderr)
        return 2
    names = args.cases or sorted(n for n in os.listdir(CASES)
                                 if os.path.isfile(os.path.join(CASES, n, "case.yml")))
    entries = load_deliberate()
    used = set()
    all_diffs, failing, corpus_errors, cached = [], set(), [], 0

    def ask_ansible(name):
        case_dir = os.path.join(CASES, name)
        run_dir = fresh_copy(case_dir, name)
        try:
            return ansible_side(case_dir, name, run_dir, bindir, not args.no_cache)
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
            return e

    # The Ansible side of every case first, some at once (each in its own copy).
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        answers = dict(zip(names, pool.map(ask_ansible, names)))
    for name in names:
        case_dir = os.path.join(CASES, name)
        # A fresh copy again: kubeforge sees the case as written, plus (below) the
        # files Ansible created, as a migrating user has them.
        run_dir = fresh_copy(case_dir, name)
        case = oracle.load_case(run_dir)
        answer = answers[name]
        if isinstance(answer, Exception):
            corpus_errors.append(f"{name}: the oracle failed: {one_line(str(answer), 2000)}")
            failing.add(name)
            continue
        a, hit = answer
        cached += hit
        if a["accepted"] != (case["expect"] == "accept"):
            failing.add(name)
            corpus_errors.append(f"{name}: case.yml says expect: {case['expect']}, but Ansible "
                                 f"{'accepted it' if a['accepted'] else 'rejected it: ' + str(a['error'])}")
        for rel, text in (a.get("created_files") or {}).items():
            p = os.path.join(run_dir, rel)
            if not os.path.exists(p):
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w", encoding="utf-8") as f:
                    f.write(text)
                os.chmod(p, 0o600)
        before = snapshot(run_dir)
        k = kubeforge_side(kf, run_dir, case)
        written = sorted(snapshot(run_dir) - before)
        diffs = compare(name, a, k)
        undocumented = 0
        for d in diffs:
            e = deliberate_for(d, entries)
            d["deliberate"] = e["id"] if e else None
            if e:
                used.add(e["id"])
                if args.show_deliberate:
                    print(line(d) + f"   [deliberate: {e['id']}]")
            else:
                undocumented += 1
                print(line(d))
        if written:
            print(f"{name} - note: kubeforge wrote {', '.join(written)} in the inventory directory")
        if undocumented:
            failing.add(name)
        all_diffs.extend(diffs)
        sys.stdout.flush()
    for c in corpus_errors:
        print(f"CORPUS ERROR {c}")
    und = [d for d in all_diffs if not d["deliberate"]]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([{k: (None if v is ABSENT else v) for k, v in d.items()} for d in all_diffs],
                      f, indent=1, ensure_ascii=False, default=str)
    print(f"\nparity: {len(names)} cases ({cached} from cache), ansible-core "
          f"{oracle.ansible_version(bindir)}, kubeforge {kf}")
    print(f"parity: {len(und)} undocumented disagreement(s), "
          f"{len(all_diffs) - len(und)} deliberate ({', '.join(sorted(used)) or 'none'})")
    print(f"parity: {len(names) - len(failing)} passed, {len(failing)} failed")
    return 1 if und or corpus_errors else 0


if __name__ == "__main__":
    sys.exit(main())
