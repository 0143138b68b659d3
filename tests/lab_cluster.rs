//! cluster.yml, health and reset.yml end to end on REAL Kubernetes on the lab: kubeadm,
//! kubelet, the API server, controller manager, scheduler, CoreDNS, etcd, containerd,
//! runc, the CNI plugins, crictl, nerdctl, helm and Cilium (agent and operator) built from
//! their Go modules at kubeforge's default versions (tests/lab/go-build.sh), served at
//! upstream paths (tests/lab/real-repo.sh), the images built from the same binaries in the
//! lab registry (tests/lab/images.sh; the local API load balancer's nginx from Debian's
//! package). No stand-in and no double. Layouts: separate (instance-1 control plane,
//! instance-2 worker, instance-3 etcd-only) and HA (three control planes with stacked etcd,
//! a worker behind the local load balancer).
//!
//! cilium-cli cannot be built from the Go module proxy this machine reaches
//! (tests/lab/go/cilium-cli-0.19.5/go.mod says why), so Cilium's chart is installed with
//! helm (`cilium_install_method: helm`, from real-repo.sh's lab-vars.yml).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab_support;

use lab_support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn cluster_run(dir: &Path, inv: &Path, vars: &Path, playbook: &str, extra: &[&str]) -> Run {
    let inv = inv.to_str().unwrap().to_string();
    let vars = format!("@{}", vars.display());
    let pb = repo()
        .join("playbooks")
        .join(playbook)
        .to_str()
        .unwrap()
        .to_string();
    let mut args = vec!["run", "-i", inv.as_str(), pb.as_str(), "-e", vars.as_str()];
    args.extend_from_slice(extra);
    kubeforge(dir, &args)
}

fn health(dir: &Path, inv: &Path, vars: &Path) -> Run {
    let inv = inv.to_str().unwrap().to_string();
    let vars = format!("@{}", vars.display());
    kubeforge(dir, &["health", "-i", &inv, "-e", &vars])
}

fn exists(k: usize, path: &str) -> bool {
    ssh(k, &format!("test -e {path}")).0
}

/// What cluster.yml puts on a Kubernetes host for its runtime and network: an etcd-only
/// host has none of it (Kubespray #11628).
const RUNTIME_FILES: &[&str] = &[
    "/usr/local/bin/containerd",
    "/usr/local/bin/ctr",
    "/usr/local/sbin/runc",
    "/usr/local/bin/nerdctl",
    "/usr/local/bin/crictl",
    "/usr/local/bin/kubelet",
    "/usr/local/bin/kubectl",
    "/usr/local/bin/helm",
    "/opt/cni",
    "/etc/containerd",
    "/etc/crictl.yaml",
    "/etc/kubernetes",
    "/etc/systemd/system/containerd.service",
];

/// Boots N fresh hosts (containerd on a real filesystem), the real repository and the
/// registry with the real images; returns the vars file and the registry guard.
fn real_lab(n: usize) -> (PathBuf, RealRegistry) {
    // containerd's overlayfs snapshotter needs a real filesystem under /var/lib/containerd.
    // The hosts first: the repository is served on their bridge.
    up_with(n, true, &[("KF_LAB_BIND_CONTAINERD", "1")]);
    (real_repo("default"), RealRegistry::start())
}

#[test]
fn separate_layout_real_cluster_end_to_end() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let (vars, _registry) = real_lab(3);
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3],
        &[
            ("kube_control_plane", &[1]),
            ("kube_node", &[2]),
            ("etcd", &[3]),
        ],
        REAL_LAB_VARS,
    );
    let first = cluster_run(tmp.path(), &inv, &vars, "cluster.yml", &[]);
    assert_eq!(
        first.code, 0,
        "cluster.yml failed:\n{}\n{}",
        first.stdout, first.stderr
    );
    eprintln!(
        "cluster.yml, bare hosts to every node Ready with Cilium: {:.1} s",
        first.secs
    );
    assert_real_cluster();

    // instance-3: one healthy etcd member, and nothing of the runtime or Kubernetes.
    assert_eq!(ssh(3, "systemctl is-active etcd").1.trim(), "active");
    let (ok, members) = ssh(3, "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin.pem --key=/etc/ssl/etcd/ssl/admin-key.pem member list");
    assert!(ok, "{members}");
    assert_eq!(members.lines().count(), 1, "{members}");
    assert!(
        members.contains("instance-3") && members.contains("https://10.213.0.13:2380"),
        "{members}"
    );
    for f in RUNTIME_FILES {
        assert!(!exists(3, f), "etcd-only instance-3 has {f}");
    }
    assert!(
        ssh(3, "ls /opt/kubeforge")
            .1
            .lines()
            .all(|l| l.starts_with("etcd")),
        "etcd-only host got other artifacts"
    );
    // The control plane's etcd client certificate, signed by the controller's CA.
    assert!(exists(1, "/etc/kubernetes/ssl/etcd/node-instance-1.pem"));
    assert!(tmp.path().join("credentials/etcd/ca-key.pem").exists());
    // The worker reaches the API through its local load balancer (nginx, a static pod).
    assert!(
        ssh(
            2,
            "grep -q 'server: https://localhost:6443' /etc/kubernetes/kubelet.conf"
        )
        .0,
        "instance-2's kubelet does not use the local load balancer"
    );
    let nginx = kubectl_json(1, "-n kube-system get pod nginx-proxy-instance-2");
    assert_eq!(nginx["status"]["phase"], "Running", "{nginx}");

    // A second run changes nothing.
    let second = cluster_run(tmp.path(), &inv, &vars, "cluster.yml", &[]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    for h in ["instance-1", "instance-2", "instance-3"] {
        assert_eq!(
            second.changed(h),
            0,
            "{h} changed on the second run: {:?}",
            second.changed_tasks()
        );
    }
    eprintln!("cluster.yml, second run: {:.1} s", second.secs);

    // Health by role passes; with kubelet stopped on the worker it fails (exit 2) naming
    // that host and check, and passes again once kubelet is back.
    let h = health(tmp.path(), &inv, &vars);
    assert_eq!(h.code, 0, "health:\n{}\n{}", h.stdout, h.stderr);
    for check in [
        "etcd membership",
        "kubelet active",
        "every node Ready",
        "Cilium agents ready on every node",
        "Cilium operator available",
    ] {
        assert!(
            h.stdout
                .lines()
                .any(|l| l.contains(check) && l.contains("pass")),
            "{check}:\n{}",
            h.stdout
        );
    }
    assert!(
        !h.stdout.lines().any(|l| l.starts_with("instance-3")
            && (l.contains("kubelet") || l.contains("containerd") || l.contains("crictl"))),
        "the etcd-only host ran a node check:\n{}",
        h.stdout
    );
    assert!(ssh(2, "systemctl stop kubelet").0);
    let down = health(tmp.path(), &inv, &vars);
    assert!(ssh(2, "systemctl start kubelet").0);
    assert_eq!(
        down.code, 2,
        "health with kubelet stopped:\n{}\n{}",
        down.stdout, down.stderr
    );
    assert!(
        down.stdout.lines().any(|l| l.starts_with("instance-2")
            && l.contains("kubelet active")
            && l.contains("fail")),
        "health does not name instance-2's kubelet:\n{}",
        down.stdout
    );
    let (ok, out) = eventually(
        1,
        "kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready node/instance-2 --timeout=10s",
        120,
    );
    assert!(
        ok,
        "instance-2 not Ready again after kubelet started: {out}"
    );
    let again = health(tmp.path(), &inv, &vars);
    assert_eq!(
        again.code, 0,
        "health after kubelet is back:\n{}",
        again.stdout
    );

    // reset leaves the hosts clean, then cluster.yml rebuilds the whole cluster.
    let reset = kubeforge(
        tmp.path(),
        &[
            "reset",
            "-i",
            inv.to_str().unwrap(),
            "-e",
            &format!("@{}", vars.display()),
            "--yes",
        ],
    );
    assert_eq!(reset.code, 0, "{}\n{}", reset.stdout, reset.stderr);
    for k in 1..=3 {
        for f in RUNTIME_FILES.iter().chain(
            [
                "/etc/systemd/system/etcd.service",
                "/var/lib/etcd",
                "/opt/kubeforge",
                "/usr/local/bin/etcd",
                "/var/lib/kubelet",
            ]
            .iter(),
        ) {
            assert!(!exists(k, f), "instance-{k} still has {f} after reset");
        }
        assert_ne!(
            ssh(k, "systemctl is-active etcd containerd kubelet")
                .1
                .trim(),
            "active"
        );
    }
    let rebuilt = cluster_run(tmp.path(), &inv, &vars, "cluster.yml", &[]);
    assert_eq!(
        rebuilt.code, 0,
        "cluster.yml after reset:\n{}\n{}",
        rebuilt.stdout, rebuilt.stderr
    );
    eprintln!("cluster.yml after reset: {:.1} s", rebuilt.secs);
    assert_real_cluster();
}

#[test]
fn ha_layout_real_cluster_answers_through_the_local_load_balancer_with_a_control_plane_down() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let (vars, _registry) = real_lab(4);
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3, 4],
        &[
            ("kube_control_plane", &[1, 2, 3]),
            ("kube_node", &[4]),
            ("etcd", &[1, 2, 3]),
        ],
        REAL_LAB_VARS,
    );
    let run = cluster_run(tmp.path(), &inv, &vars, "cluster.yml", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    eprintln!(
        "cluster.yml, HA (3 control planes + 1 worker): {:.1} s",
        run.secs
    );

    // Four nodes Ready at the real version; three control planes serving; etcd on three.
    let nodes = kubectl_json(2, "get nodes");
    let mut ready: Vec<String> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                && n["status"]["nodeInfo"]["kubeletVersion"] == "v1.36.4"
        })
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    ready.sort();
    assert_eq!(
        ready,
        ["instance-1", "instance-2", "instance-3", "instance-4"],
        "{nodes}"
    );
    for k in 1..=3 {
        let pod = kubectl_json(
            1,
            &format!("-n kube-system get pod kube-apiserver-instance-{k}"),
        );
        assert_eq!(pod["status"]["phase"], "Running", "instance-{k}: {pod}");
    }
    let (ok, health) = ssh(2, "ETCDCTL_API=3 etcdctl --endpoints=https://10.213.0.11:2379,https://10.213.0.12:2379,https://10.213.0.13:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin.pem --key=/etc/ssl/etcd/ssl/admin-key.pem endpoint health 2>&1");
    assert!(ok, "{health}");
    assert_eq!(health.matches("is healthy").count(), 3, "{health}");
    assert!(!exists(4, "/usr/local/bin/etcd"), "the worker got etcd");

    // The worker's local load balancer: nginx (a static pod), in front of all three.
    let lb = kubectl_json(1, "-n kube-system get pod nginx-proxy-instance-4");
    assert_eq!(lb["status"]["phase"], "Running", "{lb}");
    assert_eq!(
        lb["spec"]["containers"][0]["image"],
        "10.213.0.1:5000/library/nginx:1.30.1-alpine"
    );
    let (_, conf) = ssh(4, "cat /etc/nginx/nginx.conf");
    for ip in ["10.213.0.11", "10.213.0.12", "10.213.0.13"] {
        assert!(conf.contains(&format!("server {ip}:6443;")), "{conf}");
    }
    // The API through it, as the worker's kubelet reaches it (its client certificate).
    let probe = "for i in $(seq 10); do curl -sS --max-time 5 -o /dev/null -w '%{http_code}\\n' \
        --cacert /etc/kubernetes/pki/ca.crt --cert /var/lib/kubelet/pki/kubelet-client-current.pem \
        --key /var/lib/kubelet/pki/kubelet-client-current.pem https://localhost:6443/api/v1/nodes/instance-4; done";
    let (ok, codes) = ssh(4, probe);
    assert!(ok, "{codes}");
    assert_eq!(
        codes.lines().filter(|l| l.trim() == "200").count(),
        10,
        "{codes}"
    );

    // One control plane stopped: the API still answers through the load balancer, every
    // time (nginx moves on to the next server), and etcd keeps its quorum.
    host_action("stop", "instance-1");
    let (ok, codes) = ssh(4, probe);
    assert!(ok, "{codes}");
    assert_eq!(
        codes.lines().filter(|l| l.trim() == "200").count(),
        10,
        "the API did not answer through the load balancer with instance-1 stopped:\n{codes}"
    );
    // admin.conf names the controlPlaneEndpoint (instance-1, as kubeadm writes it): ask
    // instance-2's own API server.
    let (ok, out) = kubectl(2, "--server https://localhost:6443 get nodes");
    assert!(ok, "the API on instance-2 with instance-1 stopped: {out}");
    host_action("start", "instance-1");
}

/// The tests' workload: agnhost netexec (built from k8s.io/kubernetes' test/images), one
/// pod per node (the control plane's taint tolerated), behind a ClusterIP Service.
const ECHO: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {labelSelector: {matchLabels: {app: echo}}, topologyKey: kubernetes.io/hostname}
      containers:
        - name: echo
          image: 10.213.0.1:5000/e2e-test-images/agnhost:2.63.0
          args: [netexec, --http-port=8080]
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
"#;

/// What a real cluster built by cluster.yml shows: nodes Ready at the real version on the
/// real runtime, kube-system Running from the lab's images, Cilium's datapath carrying a
/// Service and pod traffic across nodes, and Kubespray #11628 (no runtime tools on the
/// etcd-only host).
fn assert_real_cluster() {
    let nodes = kubectl_json(1, "get nodes");
    let mut seen: Vec<(String, String, String, String)> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let ready = n["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["status"].as_str().unwrap().to_string())
                .unwrap_or_default();
            (
                n["metadata"]["name"].as_str().unwrap().to_string(),
                ready,
                n["status"]["nodeInfo"]["kubeletVersion"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                n["status"]["nodeInfo"]["containerRuntimeVersion"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    seen.sort();
    let want = |n: &str| {
        (
            n.to_string(),
            "True".to_string(),
            "v1.36.4".to_string(),
            "containerd://2.3.4".to_string(),
        )
    };
    assert_eq!(seen, [want("instance-1"), want("instance-2")]);

    // Every kube-system pod Running (ready), from the lab registry; no kube-proxy (Cilium
    // replaces it).
    let pods = kubectl_json(1, "-n kube-system get pods");
    let pods = pods["items"].as_array().unwrap();
    for p in pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        assert_eq!(p["status"]["phase"], "Running", "{name}: {p}");
        assert!(!name.starts_with("kube-proxy"), "kube-proxy runs: {name}");
        for c in p["spec"]["containers"].as_array().unwrap() {
            let image = c["image"].as_str().unwrap();
            assert!(image.starts_with("10.213.0.1:5000/"), "{name} runs {image}");
        }
    }
    for prefix in [
        "kube-apiserver-instance-1",
        "kube-controller-manager-instance-1",
        "kube-scheduler-instance-1",
        "coredns-",
        "cilium-operator-",
    ] {
        assert!(
            pods.iter()
                .any(|p| p["metadata"]["name"].as_str().unwrap().starts_with(prefix)),
            "no {prefix} pod"
        );
    }
    let agents: Vec<&str> = pods
        .iter()
        .filter(|p| p["metadata"]["labels"]["k8s-app"] == "cilium")
        .map(|p| p["spec"]["nodeName"].as_str().unwrap())
        .collect();
    let mut agents = agents;
    agents.sort();
    assert_eq!(agents, ["instance-1", "instance-2"], "Cilium agents");
    let (ok, version) = kubectl(1, "version -o json");
    assert!(ok, "{version}");
    let version: Value = serde_json::from_str(&version).unwrap();
    assert_eq!(version["serverVersion"]["gitVersion"], "v1.36.4");
    let (ok, keys) = ssh(3, "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin.pem --key=/etc/ssl/etcd/ssl/admin-key.pem get /registry/minions/instance-2 --keys-only");
    assert!(
        ok && keys.contains("/registry/minions/instance-2"),
        "{keys}"
    );

    // Cilium's own view: healthy, VXLAN tunnel, kube-proxy replaced, both nodes reachable
    // (its health probe runs every 1.5 minutes or so: a fresh agent may need two).
    let (ok, status) = eventually(
        1,
        "s=$(kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system exec ds/cilium -c cilium-agent -- cilium-dbg status 2>&1); printf '%s\n' \"$s\"; printf '%s\n' \"$s\" | grep -q 'Cluster health:.*2/2 reachable'",
        300,
    );
    assert!(ok, "cilium-dbg status: {status}");
    for want in ["KubeProxyReplacement:", "Tunnel [vxlan]", "2/2 reachable"] {
        assert!(
            status.contains(want),
            "cilium-dbg status lacks '{want}':\n{status}"
        );
    }
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("KubeProxyReplacement:") && l.contains("True")),
        "{status}"
    );

    // The workload: one pod per node, answering through its ClusterIP Service from the
    // control plane's host (both pods answer: the one on the worker across the tunnel),
    // and pod to pod across nodes by the Service's DNS name (CoreDNS).
    let (ok, out) = ssh(
        1,
        &format!("kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f - <<'EOF'\n{ECHO}EOF"),
    );
    assert!(ok, "{out}");
    let (ok, out) = kubectl(1, "rollout status deployment/echo --timeout=180s");
    assert!(ok, "{out}");
    let echo = kubectl_json(1, "get pods -l app=echo");
    let mut by_node: Vec<(String, String, String)> = echo["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["spec"]["nodeName"].as_str().unwrap().to_string(),
                p["metadata"]["name"].as_str().unwrap().to_string(),
                p["status"]["podIP"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_node.sort();
    assert_eq!(
        by_node.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["instance-1", "instance-2"]
    );
    let (ok, ip) = kubectl(1, "get service echo -o jsonpath={.spec.clusterIP}");
    assert!(ok, "{ip}");
    let (ok, answers) = ssh(
        1,
        &format!(
            "for i in $(seq 40); do curl -sS --max-time 5 http://{}/hostname; echo; done",
            ip.trim()
        ),
    );
    assert!(ok, "curl through the Service: {answers}");
    for (_, pod, _) in &by_node {
        assert!(
            answers.lines().any(|l| l.trim() == pod),
            "{pod} never answered through the Service from instance-1:\n{answers}"
        );
    }
    let (from, to) = (&by_node[0], &by_node[1]);
    let (ok, out) = kubectl(
        1,
        &format!(
            "exec {} -- /agnhost connect --timeout=5s {}:8080",
            from.1, to.2
        ),
    );
    assert!(ok, "pod on {} -> pod on {} ({}): {out}", from.0, to.0, to.2);
    let (ok, out) = kubectl(
        1,
        &format!(
            "exec {} -- /agnhost connect --timeout=5s echo.default.svc.cluster.local:80",
            to.1
        ),
    );
    assert!(ok, "pod on {} -> Service by DNS name: {out}", to.0);

    // Kubespray #11628: the real crictl and nerdctl on the Kubernetes hosts, and on the
    // etcd-only host neither, nor containerd, nor any Kubernetes file.
    for k in [1, 2] {
        let (ok, out) = ssh(
            k,
            "crictl --version; nerdctl --version; nerdctl -n k8s.io images -q | wc -l",
        );
        assert!(ok, "instance-{k}: {out}");
        assert!(
            out.contains("crictl version 1.36.0") && out.contains("nerdctl version 2.3.1"),
            "instance-{k}: {out}"
        );
    }
    for f in [
        "/usr/local/bin/crictl",
        "/usr/local/bin/nerdctl",
        "/usr/local/bin/containerd",
        "/usr/local/bin/kubelet",
        "/usr/local/bin/helm",
        "/etc/kubernetes",
    ] {
        assert!(
            !ssh(3, &format!("test -e {f}")).0,
            "etcd-only instance-3 has {f}"
        );
    }
}

/// (host, task) pairs a run reported with `status`, sorted; with `unknown`, only those
/// whose message says check mode could not predict them (or, negated, all others).
fn steps_with(run: &Run, status: &str, unknown: Option<bool>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = run
        .events
        .iter()
        .filter(|e| e["event"] == "step_result" && e["status"] == status)
        .filter(|e| {
            let is_unknown = e["msg"]
                .as_str()
                .is_some_and(|m| m.contains("unknown in check mode"));
            unknown.is_none_or(|u| u == is_unknown)
        })
        .map(|e| {
            (
                e["host"].as_str().unwrap_or("").to_string(),
                e["task"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

// Tags whose tasks run kubeadm, the kubelet or Cilium: left out of the check-mode test.
const NEEDS_K8S: &str = "kubeadm,cilium_install,crictl,apiserver,nodes,cilium,kubelet";
const CHECK_LAB_VARS: &str = "install_os_packages: false\ncilium_kube_proxy_replacement: true\ncontainerd_snapshotter: native\nlocal_release_dir: /var/cache/kubeforge/releases\ndownload_container: false\netcd_member_name: \"{{ inventory_hostname }}\"";

#[test]
fn check_mode_on_wiped_hosts_predicts_the_real_run() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    // The real repository; kubeadm and Cilium (and the image pulls, which need the
    // registry) left out: this test is about the prediction of what they do not touch.
    up(3, true);
    let vars = real_repo("default");
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3],
        &[
            ("kube_control_plane", &[1]),
            ("kube_node", &[2]),
            ("etcd", &[3]),
        ],
        CHECK_LAB_VARS,
    );
    let check = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--check", "--skip-tags", NEEDS_K8S],
    );
    assert_eq!(
        check.code, 0,
        "--check on wiped hosts failed:\n{}\n{}",
        check.stdout, check.stderr
    );
    for k in [1, 2, 3] {
        assert!(
            !exists(k, "/etc/kubeforge"),
            "check mode changed instance-{k}"
        );
    }
    let predicted = steps_with(&check, "changed", Some(false));
    let unknown = steps_with(&check, "changed", Some(true));
    let real = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--skip-tags", NEEDS_K8S],
    );
    assert_eq!(real.code, 0, "{}\n{}", real.stdout, real.stderr);
    let changed: Vec<(String, String)> = real
        .changed_tasks()
        .into_iter()
        .filter(|s| !unknown.contains(s))
        .collect();
    let missed: Vec<_> = changed.iter().filter(|s| !predicted.contains(s)).collect();
    let wrong: Vec<_> = predicted.iter().filter(|s| !changed.contains(s)).collect();
    assert!(
        missed.is_empty() && wrong.is_empty(),
        "check mode mispredicted the real run.\nchanged but not predicted: {missed:#?}\npredicted but not changed: {wrong:#?}\n(unknown in check mode: {unknown:#?})"
    );
    eprintln!(
        "check mode predicted {} changed steps exactly; {} unknown in check mode",
        predicted.len(),
        unknown.len()
    );
}
