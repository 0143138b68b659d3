#!/usr/bin/env python3
"""kubeforge API-server DOUBLE -- NOT a Kubernetes API server.

A small HTTP server (Python 3 standard library only) that answers the requests real
kubectl makes for the steps kubeforge runs against a cluster: discovery (aggregated
apidiscovery.k8s.io/v2 and legacy), /version, nodes, pods listed by node, eviction,
get/list/watch/create/update/patch/delete of a few resources, and an empty list of
volumeattachments. It keeps its objects in memory (seeded from a JSON file or the admin
endpoint), RECORDS EVERY REQUEST (JSON lines) and lets tests read the requests and the
resulting state. Tests assert kubeforge's requests through it, never Kubernetes behaviour:
there is no scheduler, no kubelet, no admission, no authentication; an eviction deletes the
pod at once (or after a configured delay), a configured node's evictions fail.

Every response carries the header `X-Kubeforge-Double: apiserver`.

Admin endpoints (not recorded in the request log):
  GET    /__double/requests[?since=N]  recorded requests (JSON array; each has "seq")
  DELETE /__double/requests            forget the recorded requests (the log file stays)
  GET    /__double/state               all objects, resourceVersion and config
  POST   /__double/seed                replace all objects (body: seed JSON, as --seed)
  POST   /__double/config              merge config (fail_evictions, pod_deletion_delay, ...)
  GET    /__double/healthz             "ok"

Seed JSON: {"nodes": [OBJ...], "pods": [...], "daemonsets": [...], "namespaces": [...],
"configmaps": [...], "deployments": [...], "volumeattachments": [...],
"version": {"gitVersion": "v1.36.4", ...}, "config": {...}}; an OBJ needs only
metadata.name (and metadata.namespace for namespaced kinds, default "default"); kind,
apiVersion, uid, resourceVersion, creationTimestamp and, for nodes, a Ready condition and
nodeInfo are filled in. Config: {"fail_evictions": {"NODE": 429|500, ...},
"fail_evictions_pods": {"NS/NAME": 429|500}, "pod_deletion_delay": SECONDS}.
"""

import argparse
import copy
import datetime
import json
import os
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DOUBLE_HEADER = ("X-Kubeforge-Double", "apiserver")
STD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

# Resources served: (group, version, plural, kind, namespaced, singular, shortNames,
# categories, subresources [(name, group, version, kind, verbs)]).
RESOURCES = [
    ("", "v1", "namespaces", "Namespace", False, "namespace", ["ns"], [],
     [("status", "", "v1", "Namespace", ["get", "patch", "update"])]),
    ("", "v1", "nodes", "Node", False, "node", ["no"], [],
     [("status", "", "v1", "Node", ["get", "patch", "update"])]),
    ("", "v1", "pods", "Pod", True, "pod", ["po"], ["all"],
     [("eviction", "policy", "v1", "Eviction", ["create"]),
      ("status", "", "v1", "Pod", ["get", "patch", "update"])]),
    ("", "v1", "configmaps", "ConfigMap", True, "configmap", ["cm"], [], []),
    ("apps", "v1", "daemonsets", "DaemonSet", True, "daemonset", ["ds"], ["all"],
     [("status", "apps", "v1", "DaemonSet", ["get", "patch", "update"])]),
    ("apps", "v1", "deployments", "Deployment", True, "deployment", ["deploy"], ["all"],
     [("status", "apps", "v1", "Deployment", ["get", "patch", "update"])]),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, "poddisruptionbudget",
     ["pdb"], [], []),
    ("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", False, "volumeattachment",
     [], [], [("status", "storage.k8s.io", "v1", "VolumeAttachment", ["get", "patch", "update"])]),
]
BY_PLURAL = {(r[0], r[1], r[2]): r for r in RESOURCES}
BY_NAME = {r[2]: r for r in RESOURCES}

# Field selectors the real API server accepts per resource (others: 400, as there).
FIELD_LABELS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
             "status.nominatedNodeName"},
    "nodes": {"spec.unschedulable"},
    "namespaces": {"status.phase"},
}


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(ts):
    try:
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return time.time()


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm" % m if s % 60 == 0 else "%dm%ds" % (m, s % 60)
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        return "%dh" % h if m % 60 == 0 else "%dh%dm" % (h, m % 60)
    if h < 48:
        return "%dh" % h
    if h < 192:
        return "%dd" % (h // 24) if h % 24 == 0 else "%dd%dh" % (h // 24, h % 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        return "%dy%dd" % (h // (24 * 365), (h % (24 * 365)) // 24)
    return "%dy" % (h // (24 * 365))


def status_obj(code, reason, message, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason, "code": code}
    if details:
        st["details"] = details
    return st


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.status = status_obj(code, reason, message, details)
        self.code = code


def not_found(plural, name, group=""):
    return ApiError(404, "NotFound", '%s "%s" not found' % (plural if not group else plural + "." + group, name),
                    {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural})


# ---------------------------------------------------------------- selectors and patches

def split_top(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [x.strip() for x in out if x.strip()]


def parse_label_selector(sel):
    reqs = []
    for term in split_top(sel or ""):
        m = re.match(r"^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$", term)
        if m:
            reqs.append((m.group(2), m.group(1), {v.strip() for v in m.group(3).split(",") if v.strip()}))
        elif term.startswith("!"):
            reqs.append(("!exists", term[1:].strip(), None))
        elif "!=" in term:
            k, v = term.split("!=", 1)
            reqs.append(("!=", k.strip(), v.strip()))
        elif "==" in term:
            k, v = term.split("==", 1)
            reqs.append(("=", k.strip(), v.strip()))
        elif "=" in term:
            k, v = term.split("=", 1)
            reqs.append(("=", k.strip(), v.strip()))
        elif re.match(r"^[A-Za-z0-9./_-]+$", term):
            reqs.append(("exists", term, None))
        else:
            raise ApiError(400, "BadRequest", "unable to parse requirement: %r" % term)
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for op, k, v in reqs:
        if op == "=" and labels.get(k) != v:
            return False
        if op == "!=" and labels.get(k) == v:
            return False
        if op == "exists" and k not in labels:
            return False
        if op == "!exists" and k in labels:
            return False
        if op == "in" and labels.get(k) not in v:
            return False
        if op == "notin" and k in labels and labels[k] in v:
            return False
    return True


def parse_field_selector(sel, plural):
    reqs = []
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_LABELS.get(plural, set())
    for term in split_top(sel or ""):
        m = re.match(r"^([^!=]+)(==|!=|=)(.*)$", term)
        if not m:
            raise ApiError(400, "BadRequest", "invalid selector: %r" % term)
        field = m.group(1).strip()
        if field not in allowed:
            raise ApiError(400, "BadRequest", 'field label not supported: %s' % field)
        reqs.append((field, m.group(2) != "!=", m.group(3).strip()))
    return reqs


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return "false" if path == "spec.unschedulable" or path == "spec.hostNetwork" else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, list):
        return ",".join(str(x.get("ip", x)) if isinstance(x, dict) else str(x) for x in cur)
    return str(cur)


def fields_match(reqs, obj):
    for field, eq, val in reqs:
        if (field_value(obj, field) == val) != eq:
            return False
    return True


def merge_patch(target, patch, strategic=False):
    """RFC 7386 JSON merge patch; for strategic merge patch, $-directives are honoured
    minimally ($patch: delete/replace) and other $-keys are ignored; lists are replaced."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if strategic and patch.get("$patch") == "delete":
        return None
    if strategic and patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if not k.startswith("$")}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if strategic and k.startswith("$"):
            continue
        if v is None:
            result.pop(k, None)
        else:
            merged = merge_patch(result.get(k), v, strategic)
            if merged is None and strategic:
                result.pop(k, None)
            else:
                result[k] = merged
    return result


def json_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", "invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list")

    def parent_of(parts):
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    for op in ops:
        kind, parts = op.get("op"), json_pointer(op.get("path", ""))
        try:
            if kind == "test":
                cur = doc
                for p in parts:
                    cur = cur[int(p)] if isinstance(cur, list) else cur[p]
                if cur != op.get("value"):
                    raise ApiError(422, "Invalid", "testing value %s failed" % op.get("path"))
                continue
            par, last = parent_of(parts), parts[-1]
            if kind == "add":
                if isinstance(par, list):
                    par.insert(len(par) if last == "-" else int(last), copy.deepcopy(op["value"]))
                else:
                    par[last] = copy.deepcopy(op["value"])
            elif kind == "replace":
                if isinstance(par, list):
                    par[int(last)] = copy.deepcopy(op["value"])
                else:
                    if last not in par:
                        raise KeyError(last)
                    par[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if isinstance(par, list):
                    del par[int(last)]
                else:
                    del par[last]
            else:
                raise ApiError(400, "BadRequest", "json patch op %r not served by the double" % kind)
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "Invalid", "json patch %s %s: path not found" % (kind, op.get("path")))
    return doc


# ---------------------------------------------------------------- the store

class Store:
    def __init__(self, kubelet_version, server_version):
        self.lock = threading.Condition()
        self.kubelet_version = kubelet_version
        self.rv = 1
        self.objects = {}          # (plural, namespace, name) -> obj
        self.events = []           # (rv, type, plural, obj)
        self.config = {"fail_evictions": {}, "fail_evictions_pods": {}, "pod_deletion_delay": 0}
        self.version = {"major": "1", "minor": "36", "gitVersion": server_version,
                        "gitCommit": "0000000000000000000000000000000000000000",
                        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                        "goVersion": "go-double", "compiler": "gc", "platform": "linux/amd64"}
        m = re.match(r"^v?(\d+)\.(\d+)", server_version)
        if m:
            self.version["major"], self.version["minor"] = m.group(1), m.group(2)

    # callers hold self.lock
    def _bump(self):
        self.rv += 1
        return str(self.rv)

    def _event(self, typ, plural, obj):
        self.events.append((self.rv, typ, plural, copy.deepcopy(obj)))
        if len(self.events) > 20000:
            del self.events[:10000]
        self.lock.notify_all()

    def fill(self, plural, obj, ns=None):
        r = BY_NAME[plural]
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = (r[0] + "/" + r[1]) if r[0] else r[1]
        obj["kind"] = r[3]
        md = obj.setdefault("metadata", {})
        if r[4]:
            md["namespace"] = ns or md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", now_rfc3339())
        if plural == "nodes":
            obj.setdefault("spec", {})
            st = obj.setdefault("status", {})
            st.setdefault("conditions", [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                          "message": "double: seeded as ready",
                                          "lastHeartbeatTime": md["creationTimestamp"],
                                          "lastTransitionTime": md["creationTimestamp"]}])
            info = st.setdefault("nodeInfo", {})
            for k, v in (("kubeletVersion", self.kubelet_version), ("kubeProxyVersion", ""),
                         ("containerRuntimeVersion", "containerd://double"),
                         ("osImage", "Debian GNU/Linux 12 (bookworm)"), ("kernelVersion", "double"),
                         ("operatingSystem", "linux"), ("architecture", "amd64"),
                         ("machineID", ""), ("systemUUID", ""), ("bootID", "")):
                info.setdefault(k, v)
        if plural == "pods":
            obj.setdefault("spec", {}).setdefault("containers", [{"name": "main", "image": "double/none"}])
            st = obj.setdefault("status", {})
            st.setdefault("phase", "Running")
        if plural == "namespaces":
            obj.setdefault("status", {}).setdefault("phase", "Active")
        return obj

    def seed(self, data):
        with self.lock:
            self.objects.clear()
            self.events.clear()
            self.rv += 1
            for plural in BY_NAME:
                for o in data.get(plural, []) or []:
                    if isinstance(o, str):
                        o = {"metadata": {"name": o}}
                    o = self.fill(plural, o)
                    o["metadata"]["resourceVersion"] = self._bump()
                    self.objects[(plural, o["metadata"].get("namespace", ""), o["metadata"]["name"])] = o
            # namespaces named by namespaced objects exist too
            for (plural, ns, _), _o in list(self.objects.items()):
                for n in ([ns] if ns else []) + ["default", "kube-system"]:
                    if ("namespaces", "", n) not in self.objects:
                        o = self.fill("namespaces", {"metadata": {"name": n}})
                        o["metadata"]["resourceVersion"] = self._bump()
                        self.objects[("namespaces", "", n)] = o
            if "version" in data:
                self.version.update(data["version"])
            if "config" in data:
                self.set_config(data["config"])
            self.lock.notify_all()

    def set_config(self, cfg):
        for k, v in cfg.items():
            if k in ("fail_evictions", "fail_evictions_pods"):
                self.config[k] = {str(a): int(b) for a, b in (v or {}).items()}
            elif k == "pod_deletion_delay":
                self.config[k] = float(v)
            elif k == "kubelet_version":
                self.kubelet_version = str(v)
            else:
                raise ValueError("unknown config key %r" % k)

    def state(self):
        with self.lock:
            out = {"resourceVersion": str(self.rv), "config": copy.deepcopy(self.config),
                   "version": copy.deepcopy(self.version), "objects": {}}
            for (plural, _ns, _n), o in sorted(self.objects.items()):
                out["objects"].setdefault(plural, []).append(copy.deepcopy(o))
            return out

    def get(self, plural, ns, name):
        with self.lock:
            o = self.objects.get((plural, ns, name))
            if o is None:
                raise not_found(plural, name, BY_NAME[plural][0])
            return copy.deepcopy(o)

    def list(self, plural, ns, lsel, fsel):
        with self.lock:
            items = [copy.deepcopy(o) for (p, n, _), o in sorted(self.objects.items())
                     if p == plural and (ns is None or n == ns)
                     and labels_match(lsel, o["metadata"].get("labels"))
                     and fields_match(fsel, o)]
            return items, str(self.rv)

    def create(self, plural, ns, obj):
        with self.lock:
            md = obj.setdefault("metadata", {})
            if not md.get("name") and md.get("generateName"):
                md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
            if not md.get("name"):
                raise ApiError(422, "Invalid", "metadata.name: Required value")
            if BY_NAME[plural][4] and md.get("namespace") and ns and md["namespace"] != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            md.pop("resourceVersion", None)
            md.pop("uid", None)
            md.pop("creationTimestamp", None)
            obj = self.fill(plural, obj, ns)
            key = (plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (plural, key[2]),
                               {"name": key[2], "kind": plural})
            obj["metadata"]["resourceVersion"] = self._bump()
            self.objects[key] = obj
            self._event("ADDED", plural, obj)
            return copy.deepcopy(obj)

    def update(self, plural, ns, name, obj):
        with self.lock:
            key = (plural, ns, name)
            cur = self.objects.get(key)
            if cur is None:
                raise not_found(plural, name, BY_NAME[plural][0])
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv and rv != cur["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the latest version and try again' % (plural, name),
                               {"name": name, "kind": plural})
            obj = self.fill(plural, obj, ns or None)
            obj["metadata"]["name"] = name
            obj["metadata"]["uid"] = cur["metadata"]["uid"]
            obj["metadata"]["creationTimestamp"] = cur["metadata"]["creationTimestamp"]
            if "deletionTimestamp" in cur["metadata"]:
                obj["metadata"]["deletionTimestamp"] = cur["metadata"]["deletionTimestamp"]
            obj["metadata"]["resourceVersion"] = self._bump()
            self.objects[key] = obj
            self._event("MODIFIED", plural, obj)
            return copy.deepcopy(obj)

    def delete(self, plural, ns, name, delay=0.0):
        with self.lock:
            key = (plural, ns, name)
            cur = self.objects.get(key)
            if cur is None:
                raise not_found(plural, name, BY_NAME[plural][0])
            if delay > 0:
                if "deletionTimestamp" not in cur["metadata"]:
                    cur["metadata"]["deletionTimestamp"] = now_rfc3339()
                    cur["metadata"]["deletionGracePeriodSeconds"] = int(delay)
                    cur["metadata"]["resourceVersion"] = self._bump()
                    self._event("MODIFIED", plural, cur)
                    uid = cur["metadata"]["uid"]
                    t = threading.Timer(delay, self._finish_delete, (key, uid))
                    t.daemon = True
                    t.start()
                return copy.deepcopy(cur)
            del self.objects[key]
            self._bump()
            cur["metadata"]["resourceVersion"] = str(self.rv)
            self._event("DELETED", plural, cur)
            return cur

    def _finish_delete(self, key, uid):
        with self.lock:
            cur = self.objects.get(key)
            if cur is not None and cur["metadata"]["uid"] == uid:
                del self.objects[key]
                self._bump()
                cur["metadata"]["resourceVersion"] = str(self.rv)
                self._event("DELETED", key[0], cur)


# ---------------------------------------------------------------- discovery and tables

def gv_string(group, version):
    return group + "/" + version if group else version


def legacy_resource_list(group, version):
    res = []
    for r in RESOURCES:
        if (r[0], r[1]) != (group, version):
            continue
        e = {"name": r[2], "singularName": r[5], "namespaced": r[4], "kind": r[3], "verbs": STD_VERBS}
        if r[6]:
            e["shortNames"] = r[6]
        if r[7]:
            e["categories"] = r[7]
        res.append(e)
        for sub in r[8]:
            s = {"name": r[2] + "/" + sub[0], "singularName": "", "namespaced": r[4], "kind": sub[3],
                 "verbs": sub[4]}
            if (sub[1], sub[2]) != (group, version):
                s["group"], s["version"] = sub[1], sub[2]
            res.append(s)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv_string(group, version),
            "resources": res}


def groups():
    out = []
    for r in RESOURCES:
        if r[0] and r[0] not in [g for g, _ in out]:
            out.append((r[0], r[1]))
    return out


def aggregated(core):
    items = []
    for grp in ([""] if core else [g for g, _ in groups()]):
        versions = sorted({r[1] for r in RESOURCES if r[0] == grp})
        vlist = []
        for v in versions:
            rl = []
            for r in RESOURCES:
                if (r[0], r[1]) != (grp, v):
                    continue
                e = {"resource": r[2], "responseKind": {"group": r[0], "version": r[1], "kind": r[3]},
                     "scope": "Namespaced" if r[4] else "Cluster", "singularResource": r[5],
                     "verbs": STD_VERBS}
                if r[6]:
                    e["shortNames"] = r[6]
                if r[7]:
                    e["categories"] = r[7]
                if r[8]:
                    e["subresources"] = [{"subresource": s[0], "responseKind": {"group": s[1], "version": s[2], "kind": s[3]},
                                          "verbs": s[4]} for s in r[8]]
                rl.append(e)
            vlist.append({"version": v, "resources": rl, "freshness": "Current"})
        items.append({"metadata": {"name": grp, "creationTimestamp": None}, "versions": vlist})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}


COL = lambda name, typ="string", fmt="", prio=0, desc="": {  # noqa: E731
    "name": name, "type": typ, "format": fmt, "description": desc or name, "priority": prio}


def table_columns(plural):
    if plural == "nodes":
        return [COL("Name", fmt="name"), COL("Status"), COL("Roles"), COL("Age"), COL("Version"),
                COL("Internal-IP", prio=1), COL("External-IP", prio=1), COL("OS-Image", prio=1),
                COL("Kernel-Version", prio=1), COL("Container-Runtime", prio=1)]
    if plural == "pods":
        return [COL("Name", fmt="name"), COL("Ready"), COL("Status"), COL("Restarts", "string"), COL("Age"),
                COL("IP", prio=1), COL("Node", prio=1), COL("Nominated Node", prio=1),
                COL("Readiness Gates", prio=1)]
    if plural == "volumeattachments":
        return [COL("Name", fmt="name"), COL("Attacher"), COL("PV"), COL("Node"), COL("Attached", "boolean"),
                COL("Age")]
    if plural == "namespaces":
        return [COL("Name", fmt="name"), COL("Status"), COL("Age")]
    return [COL("Name", fmt="name"), COL("Age")]


def table_cells(plural, o):
    md, spec, st = o.get("metadata", {}), o.get("spec", {}) or {}, o.get("status", {}) or {}
    age = human_duration(time.time() - parse_time(md.get("creationTimestamp")))
    if plural == "nodes":
        ready = [c for c in st.get("conditions", []) if c.get("type") == "Ready"]
        status = "Unknown" if not ready else ("Ready" if ready[0].get("status") == "True" else "NotReady")
        if spec.get("unschedulable"):
            status += ",SchedulingDisabled"
        roles = sorted(k.split("/", 1)[1] for k in (md.get("labels") or {})
                       if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1])
        addrs = {a.get("type"): a.get("address") for a in st.get("addresses", [])}
        info = st.get("nodeInfo", {})
        return [md["name"], status, ",".join(roles) or "<none>", age, info.get("kubeletVersion", ""),
                addrs.get("InternalIP", "<none>"), addrs.get("ExternalIP", "<none>"), info.get("osImage", ""),
                info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]
    if plural == "pods":
        cs = st.get("containerStatuses", [])
        ready = sum(1 for c in cs if c.get("ready"))
        phase = "Terminating" if md.get("deletionTimestamp") else st.get("phase", "")
        return [md["name"], "%d/%d" % (ready, len(spec.get("containers", []))), phase,
                str(sum(c.get("restartCount", 0) for c in cs)), age, st.get("podIP", "<none>"),
                spec.get("nodeName", "<none>"), "<none>", "<none>"]
    if plural == "volumeattachments":
        return [md["name"], spec.get("attacher", ""), (spec.get("source") or {}).get("persistentVolumeName", ""),
                spec.get("nodeName", ""), bool(st.get("attached")), age]
    if plural == "namespaces":
        return [md["name"], st.get("phase", "Active"), age]
    return [md["name"], age]


def to_table(plural, objs, rv, include="Metadata"):
    rows = []
    for o in objs:
        row = {"cells": table_cells(plural, o)}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": o.get("metadata", {})}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": table_columns(plural), "rows": rows}


# ---------------------------------------------------------------- HTTP

class Recorder:
    """Requests get their seq on arrival (so /__double/requests is in arrival order, and a
    watch still open shows with status 0); a JSON line is written to the log file when the
    response is complete."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.entries = []
        self.seq = 0
        self.fh = open(path, "a", buffering=1) if path else None

    def start(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.entries.append(entry)
            return entry

    def finish(self, entry):
        with self.lock:
            if self.fh:
                self.fh.write(json.dumps(entry, sort_keys=True) + "\n")
                self.fh.flush()

    def since(self, n):
        with self.lock:
            return [copy.deepcopy(e) for e in self.entries if e["seq"] > n]

    def clear(self):
        with self.lock:
            self.entries = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubeforge-apiserver-double/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("[apiserver double] %s %s\n" % (self.address_string(), fmt % args))

    # ---- plumbing
    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
        return raw

    def _send(self, code, body, ctype="application/json", headers=()):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(code)
        self.send_header(*DOUBLE_HEADER)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for h in headers:
            self.send_header(*h)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = code

    def _record_start(self, raw):
        if self.path.startswith("/__double/"):
            return None
        u = urlsplit(self.path)
        body = None
        if raw:
            text = raw.decode("utf-8", "replace")
            try:
                body = json.loads(text)
            except ValueError:
                body = text[:65536]
        auth = self.headers.get("Authorization", "")
        return self.server.recorder.start({
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "epoch": round(self._t0, 3),
            "method": self.command, "path": u.path, "rawQuery": u.query,
            "query": {k: v if len(v) > 1 else v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()},
            "accept": self.headers.get("Accept", ""), "contentType": self.headers.get("Content-Type", ""),
            "userAgent": self.headers.get("User-Agent", ""),
            "auth": auth.split(" ", 1)[0].lower() if auth else "",
            "body": body, "status": 0,
        })

    def _handle(self):
        self._t0 = time.time()
        self._status = 0
        entry = None
        try:
            raw = self._read_body()
            entry = self._record_start(raw)
            self._dispatch(raw)
        except ApiError as e:
            self._send(e.code, e.status)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self._status = self._status or 499
            self.close_connection = True
        except Exception as e:  # a bug in the double: say so, loudly
            sys.stderr.write("[apiserver double] internal error on %s %s: %r\n" % (self.command, self.path, e))
            import traceback
            traceback.print_exc()
            try:
                self._send(500, status_obj(500, "InternalError", "apiserver double: internal error: %r" % e))
            except Exception:
                pass
        finally:
            if entry is not None:
                entry["status"] = self._status
                entry["durationMs"] = int((time.time() - self._t0) * 1000)
                self.server.recorder.finish(entry)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    # ---- routing
    def _dispatch(self, raw):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        path = u.path.rstrip("/") or "/"
        store = self.server.store
        accept = self.headers.get("Accept", "")
        if path.startswith("/__double/"):
            return self._admin(path, q, raw)
        if path in ("/healthz", "/readyz", "/livez") or re.match(r"^/(healthz|readyz|livez)/", path):
            return self._send(200, "ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self._send(200, store.version)
        if path == "/api":
            if "apidiscovery.k8s.io" in accept and "as=APIGroupDiscoveryList" in accept and "v=v2" in accept:
                return self._send(200, aggregated(True),
                                  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            host = self.server.server_address
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                    "serverAddress": "%s:%d" % host[:2]}]})
        if path == "/apis":
            if "apidiscovery.k8s.io" in accept and "as=APIGroupDiscoveryList" in accept and "v=v2" in accept:
                return self._send(200, aggregated(False),
                                  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            gl = [{"name": g, "versions": [{"groupVersion": g + "/" + v, "version": v}],
                   "preferredVersion": {"groupVersion": g + "/" + v, "version": v}} for g, v in groups()]
            return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": gl})
        if path == "/api/v1":
            return self._send(200, legacy_resource_list("", "v1"))
        m = re.match(r"^/apis/([^/]+)$", path)
        if m:
            for g, v in groups():
                if g == m.group(1):
                    return self._send(200, {"kind": "APIGroup", "apiVersion": "v1", "name": g,
                                            "versions": [{"groupVersion": g + "/" + v, "version": v}],
                                            "preferredVersion": {"groupVersion": g + "/" + v, "version": v}})
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        m = re.match(r"^/apis/([^/]+)/([^/]+)$", path)
        if m:
            if (m.group(1), m.group(2)) in groups():
                return self._send(200, legacy_resource_list(m.group(1), m.group(2)))
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        m = re.match(r"^/api/v1/(.*)$", path) or None
        if m:
            return self._resource("", "v1", m.group(1).split("/"), q, raw, accept)
        m = re.match(r"^/apis/([^/]+)/([^/]+)/(.*)$", path)
        if m:
            return self._resource(m.group(1), m.group(2), m.group(3).split("/"), q, raw, accept)
        # /openapi/v2, /openapi/v3 and anything else: not served by the double.
        raise ApiError(404, "NotFound", "the server could not find the requested resource (apiserver double: %s is not served)" % path)

    def _admin(self, path, q, raw):
        srv = self.server
        if path == "/__double/healthz":
            return self._send(200, "ok", "text/plain")
        if path == "/__double/requests":
            if self.command == "DELETE":
                srv.recorder.clear()
                return self._send(200, {"cleared": True})
            return self._send(200, srv.recorder.since(int(q.get("since", "0") or 0)))
        if path == "/__double/state":
            return self._send(200, srv.store.state())
        if path == "/__double/seed" and self.command == "POST":
            srv.store.seed(json.loads(raw or b"{}"))
            return self._send(200, srv.store.state())
        if path == "/__double/config" and self.command == "POST":
            with srv.store.lock:
                try:
                    srv.store.set_config(json.loads(raw or b"{}"))
                except ValueError as e:
                    return self._send(400, {"error": str(e)})
            return self._send(200, srv.store.state()["config"])
        return self._send(404, {"error": "unknown admin endpoint %s %s" % (self.command, path)})

    def _resource(self, group, version, parts, q, raw, accept):
        store = self.server.store
        ns = None
        if parts and parts[0] == "watch":
            q["watch"] = "true"
            parts = parts[1:]
        if len(parts) >= 3 and parts[0] == "namespaces" and (group, version, parts[2]) in BY_PLURAL \
                and BY_PLURAL[(group, version, parts[2])][4]:
            ns, parts = parts[1], parts[2:]
        if not parts or (group, version, parts[0]) not in BY_PLURAL:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        r = BY_PLURAL[(group, version, parts[0])]
        plural, namespaced = r[2], r[4]
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if len(parts) > 3 or (sub and sub not in [s[0] for s in r[8]]):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not namespaced and ns is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        key_ns = (ns or "default") if namespaced else ""
        if namespaced and name is not None and ns is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        body = None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw and ctype in ("application/vnd.kubernetes.protobuf", "application/cbor"):
            # As a real server without that codec: 415, and client-go retries in JSON.
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                           "accepted media types include: application/json, application/yaml (apiserver double)")
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "BadRequest", "apiserver double: request body is not JSON (YAML is not served)")
        table = "as=Table" in accept and "g=meta.k8s.io" in accept
        m = self.command
        if name is None:
            if m == "GET":
                lsel = parse_label_selector(q.get("labelSelector", ""))
                fsel = parse_field_selector(q.get("fieldSelector", ""), plural)
                if q.get("watch") in ("true", "1"):
                    return self._watch(plural, ns if namespaced else None, lsel, fsel, q, table)
                items, rv = store.list(plural, ns if namespaced else None, lsel, fsel)
                if table:
                    return self._send(200, to_table(plural, items, rv, q.get("includeObject", "Metadata")),
                                      "application/json;as=Table;v=v1;g=meta.k8s.io")
                for it in items:
                    it.pop("kind", None)
                    it.pop("apiVersion", None)
                return self._send(200, {"kind": r[3] + "List", "apiVersion": gv_string(group, version),
                                        "metadata": {"resourceVersion": rv}, "items": items})
            if m == "POST":
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "no object in the request body")
                return self._send(201, store.create(plural, key_ns if namespaced else None, body))
            if m == "DELETE":
                lsel = parse_label_selector(q.get("labelSelector", ""))
                fsel = parse_field_selector(q.get("fieldSelector", ""), plural)
                items, _ = store.list(plural, ns if namespaced else None, lsel, fsel)
                for it in items:
                    store.delete(plural, it["metadata"].get("namespace", ""), it["metadata"]["name"])
                return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if sub == "eviction":
            if m != "POST":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            return self._evict(key_ns, name, body or {})
        if m == "GET":
            o = store.get(plural, key_ns, name)
            if table:
                return self._send(200, to_table(plural, [o], o["metadata"]["resourceVersion"],
                                                q.get("includeObject", "Metadata")),
                                  "application/json;as=Table;v=v1;g=meta.k8s.io")
            return self._send(200, o)
        if m == "PUT":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "no object in the request body")
            return self._send(200, store.update(plural, key_ns, name, body))
        if m == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            with store.lock:
                try:
                    cur = store.get(plural, key_ns, name)
                except ApiError:
                    if ctype == "application/apply-patch+yaml" and isinstance(body, dict):
                        return self._send(201, store.create(plural, key_ns if namespaced else None, body))
                    raise
                if ctype == "application/json-patch+json":
                    new = json_patch(cur, body)
                elif ctype == "application/merge-patch+json":
                    new = merge_patch(cur, body)
                elif ctype in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
                    new = merge_patch(cur, body, strategic=True)
                else:
                    raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
                if isinstance(body, dict) and "resourceVersion" not in (body.get("metadata") or {}):
                    new.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
                return self._send(200, store.update(plural, key_ns, name, new))
        if m == "DELETE":
            delay = 0.0
            if plural == "pods":
                gp = (body or {}).get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
                delay = store.config.get("pod_deletion_delay", 0) if gp is None or int(gp) > 0 else 0.0
            o = store.delete(plural, key_ns, name, delay)
            if plural == "pods":
                return self._send(200, o)
            return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                    "details": {"name": name, "group": group, "kind": plural,
                                                "uid": o["metadata"]["uid"]}})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _evict(self, ns, name, body):
        store = self.server.store
        pod = store.get("pods", ns, name)
        node = (pod.get("spec") or {}).get("nodeName", "")
        code = store.config["fail_evictions_pods"].get(ns + "/" + name) or store.config["fail_evictions"].get(node)
        if code == 429:
            raise ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                           {"causes": [{"reason": "DisruptionBudget",
                                        "message": "apiserver double: evictions on node %s are configured to fail with 429" % node}]})
        if code:
            raise ApiError(int(code), "InternalError" if int(code) == 500 else "Failure",
                           "apiserver double: evictions on node %s are configured to fail with %s" % (node, code))
        do = body.get("deleteOptions") or {}
        gp = do.get("gracePeriodSeconds")
        delay = store.config.get("pod_deletion_delay", 0) if gp is None or int(gp) > 0 else 0.0
        store.delete("pods", ns, name, delay)
        return self._send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                "code": 201})

    def _peer_closed(self):
        """True once the client has closed a watch connection (it sends nothing else on it)."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            if not isinstance(self.connection, ssl.SSLSocket):
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            self.connection.setblocking(False)
            try:
                return self.connection.recv(1) == b""
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return False
            finally:
                self.connection.setblocking(True)
        except (OSError, ValueError):
            return True

    def _watch(self, plural, ns, lsel, fsel, q, table):
        store = self.server.store
        timeout = min(float(q.get("timeoutSeconds") or 1800), self.server.watch_max)
        deadline = time.time() + timeout
        self.send_response(200)
        self.send_header(*DOUBLE_HEADER)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self._status = 200

        def chunk(ev_type, obj):
            if table and ev_type != "BOOKMARK":
                obj = to_table(plural, [obj], obj["metadata"].get("resourceVersion", ""),
                               q.get("includeObject", "Metadata"))
            data = (json.dumps({"type": ev_type, "object": obj}) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def matches(o):
            return (ns is None or o["metadata"].get("namespace", "") == ns) and \
                labels_match(lsel, o["metadata"].get("labels")) and fields_match(fsel, o)

        rv_param = q.get("resourceVersion", "")
        with store.lock:
            if rv_param in ("", "0") or q.get("sendInitialEvents") == "true":
                start = store.rv
                initial = [copy.deepcopy(o) for (p, _n, _), o in sorted(store.objects.items())
                           if p == plural and matches(o)]
            else:
                start, initial = int(rv_param), []
        for o in initial:
            chunk("ADDED", o)
        if q.get("sendInitialEvents") == "true":
            r = BY_NAME[plural]
            chunk("BOOKMARK", {"kind": r[3], "apiVersion": gv_string(r[0], r[1]),
                               "metadata": {"resourceVersion": str(start),
                                            "annotations": {"k8s.io/initial-events-end": "true"}}})
        last = start
        while time.time() < deadline and not self._peer_closed():
            with store.lock:
                pending = [e for e in store.events if e[0] > last and e[2] == plural]
                if not pending:
                    store.lock.wait(min(1.0, max(0.0, deadline - time.time())))
                    pending = [e for e in store.events if e[0] > last and e[2] == plural]
            for rv, typ, _p, o in pending:
                last = max(last, rv)
                if matches(o):
                    chunk(typ, o)
        if self._peer_closed():
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, store, recorder, verbose, watch_max):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, Handler)
        self.store, self.recorder, self.verbose, self.watch_max = store, recorder, verbose, watch_max


def main():
    ap = argparse.ArgumentParser(
        prog="apiserver.py",
        description="kubeforge API-server DOUBLE (not a Kubernetes API server): serves what real kubectl "
                    "needs for get/cordon/uncordon/annotate/drain/delete of nodes, records every request "
                    "as JSON lines. For tests: they assert kubeforge's requests through it, never "
                    "Kubernetes behaviour.")
    ap.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="port (default 0: any free port, see --port-file)")
    ap.add_argument("--port-file", help="write the port here once listening (written atomically)")
    ap.add_argument("--seed", help="JSON file with the initial objects (see the file header)")
    ap.add_argument("--log", help="append every request as one JSON line to this file")
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (with --tls-key)")
    ap.add_argument("--tls-key", help="PEM private key for --tls-cert")
    ap.add_argument("--fail-evictions", action="append", default=[], metavar="NODE=CODE",
                    help="evictions of pods on NODE fail with CODE (429 or 500); repeatable")
    ap.add_argument("--pod-deletion-delay", type=float, default=0.0,
                    help="seconds a deleted/evicted pod stays (with deletionTimestamp) before it is gone")
    ap.add_argument("--kubelet-version", default="v1.36.4",
                    help="nodeInfo.kubeletVersion for seeded nodes that do not set it (default v1.36.4)")
    ap.add_argument("--server-version", default="v1.36.4", help="gitVersion served at /version")
    ap.add_argument("--max-lifetime", type=float, default=3600.0,
                    help="exit by itself after this many seconds (default 3600; 0 = never)")
    ap.add_argument("--watch-max", type=float, default=60.0, help="longest a watch stays open (s, default 60)")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    a = ap.parse_args()

    store = Store(a.kubelet_version, a.server_version)
    if a.seed:
        with open(a.seed) as f:
            store.seed(json.load(f))
    cfg = {"pod_deletion_delay": a.pod_deletion_delay} if a.pod_deletion_delay else {}
    if a.fail_evictions:
        fe = dict(store.config["fail_evictions"])
        for spec in a.fail_evictions:
            node, _, code = spec.partition("=")
            fe[node] = int(code or 429)
        cfg["fail_evictions"] = fe
    store.set_config(cfg)
    recorder = Recorder(a.log)
    srv = Server((a.address, a.port), store, recorder, a.verbose, a.watch_max)
    scheme = "http"
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    host = a.address if ":" not in a.address else "[%s]" % a.address
    sys.stderr.write("[apiserver double] NOT a Kubernetes API server: listening on %s://%s:%d (pid %d)\n"
                     % (scheme, host, port, os.getpid()))
    sys.stderr.flush()

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.max_lifetime > 0:
        t = threading.Timer(a.max_lifetime, stop)
        t.daemon = True
        t.start()
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
