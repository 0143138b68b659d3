//! Container images end to end on the lab, through a real registry mirror: Debian's
//! docker-registry (the CNCF distribution registry) started on the lab bridge by
//! tests/lab/registry.sh, holding TEST IMAGES built by the harness (busybox-static plus a
//! file saying what they are, labelled org.kubeforge.test-image=true) under the exact
//! names and tags kubeforge asks for. Layout: instance-1 control plane, instance-2 worker,
//! instance-3 etcd-only; files from the lab's offline files repository.
//!
//! Real: the registry, containerd 1.6 and `ctr` on the hosts (what `ctr -n k8s.io images
//! ls` shows is what containerd holds), the certs.d/hosts.toml containerd reads. Test
//! images, not the real ones: every image in the registry. Stand-ins (tests/lab/README.md):
//! kubeadm, kubelet, kubectl, nerdctl, crictl, cilium-cli, so the phases tagged
//! NEEDS_REAL_K8S are skipped; the kubeadm configuration is still rendered on the control
//! plane and checked here against kubeadm's schema (tests/kube_schema).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "kube_schema/mod.rs"]
mod kube_schema;
mod lab_support;

use lab_support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

const NEEDS_REAL_K8S: &str = "kubeadm,cilium_install,crictl,apiserver,nodes,cilium";
const LAB_VARS: &str = "install_os_packages: false\ncontainerd_snapshotter: native\nlocal_release_dir: /var/cache/kubeforge/releases\netcd_member_name: \"{{ inventory_hostname }}\"";
const REGISTRY: &str = "10.213.0.1:5000";

/// What the lab cluster needs by the image table (src/artifacts.yml) for the lab's
/// Kubernetes (1.36.4-standin: minor 1.36) and Cilium 1.20.1, as paths below the registry:
/// the control plane's images ...
const CONTROL_PLANE: &[&str] = &[
    "pause:3.10.2",
    "kube-apiserver:v1.36.4-standin",
    "kube-controller-manager:v1.36.4-standin",
    "kube-scheduler:v1.36.4-standin",
    "kube-proxy:v1.36.4-standin",
    "coredns/coredns:v1.14.2",
    "cilium/cilium:v1.20.1",
    "cilium/operator-generic:v1.20.1",
    "cilium/cilium-envoy:v1.37.5-1786810558-766ccfb37260a43e9d228837aa84ce3faf9f64e7",
];
/// (certgen is pulled only with Hubble.)
/// ... and the worker's: no control-plane image, the local API load balancer (nginx).
const WORKER: &[&str] = &[
    "pause:3.10.2",
    "kube-proxy:v1.36.4-standin",
    "coredns/coredns:v1.14.2",
    "cilium/cilium:v1.20.1",
    "cilium/operator-generic:v1.20.1",
    "cilium/cilium-envoy:v1.37.5-1786810558-766ccfb37260a43e9d228837aa84ce3faf9f64e7",
    "library/nginx:1.30.1-alpine",
];

fn on_mirror(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| format!("{REGISTRY}/{p}")).collect()
}

/// The registry: started for the test, stopped (by its recorded pid) when it ends.
struct Registry;

impl Registry {
    fn start() -> Registry {
        let out = registry(&["start"]);
        assert!(out.0, "tests/lab/registry.sh start failed:\n{}", out.1);
        Registry
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = registry(&["stop"]);
    }
}

fn registry(args: &[&str]) -> (bool, String) {
    let out = Command::new("bash")
        .arg(repo().join("tests/lab/registry.sh"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Kubespray's offline settings pointed at the lab registry: every registry variable to
/// `registry_host`, and containerd told how to reach it (plain HTTP) in certs.d.
const MIRROR_VARS: &str = r#"download_container: true
registry_host: "10.213.0.1:5000"
kube_image_repo: "{{ registry_host }}"
gcr_image_repo: "{{ registry_host }}"
docker_image_repo: "{{ registry_host }}"
quay_image_repo: "{{ registry_host }}"
github_image_repo: "{{ registry_host }}"
containerd_registries_mirrors:
  - prefix: "{{ registry_host }}"
    server: "http://{{ registry_host }}"
    mirrors:
      - host: "http://{{ registry_host }}"
        capabilities: ["pull", "resolve"]
        skip_verify: true
"#;

fn run(dir: &Path, inv: &Path, files: &Path, mirror: &Path, extra: &[&str]) -> Run {
    let inv = inv.to_str().unwrap().to_string();
    let files = format!("@{}", files.display());
    let mirror = format!("@{}", mirror.display());
    let pb = repo().join("playbooks/cluster.yml");
    let mut args = vec![
        "run",
        "-i",
        inv.as_str(),
        pb.to_str().unwrap(),
        "-e",
        files.as_str(),
        "-e",
        mirror.as_str(),
        "--skip-tags",
        NEEDS_REAL_K8S,
    ];
    args.extend_from_slice(extra);
    kubeforge(dir, &args)
}

/// What containerd holds in the k8s.io namespace on instance-K (image names; the
/// `sha256:` aliases some clients add are not names and are left out).
fn images_on(k: usize) -> BTreeSet<String> {
    let (ok, out) = ssh(k, "/usr/local/bin/ctr -n k8s.io images ls -q");
    assert!(ok, "instance-{k}: ctr images ls failed: {out}");
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("sha256:"))
        .map(str::to_string)
        .collect()
}

/// The `Container images` step of a host in a run.
fn pull_step<'a>(run: &'a Run, host: &str) -> &'a Value {
    run.events
        .iter()
        .find(|e| {
            e["event"] == "step_result" && e["host"] == host && e["task"] == "Container images"
        })
        .unwrap_or_else(|| {
            panic!(
                "no Container images step for {host}: {:?}",
                run.changed_tasks()
            )
        })
}

#[test]
fn images_pre_pulled_through_a_registry_mirror() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    up(3, true);
    let files = files_repo();
    let _registry = Registry::start();
    let all: BTreeSet<&str> = CONTROL_PLANE.iter().chain(WORKER).copied().collect();
    let all: Vec<&str> = all.into_iter().collect();
    let mut push = vec!["push"];
    push.extend(&all);
    let (ok, pushed) = registry(&push);
    assert!(ok, "pushing the test images failed:\n{pushed}");
    eprintln!(
        "TEST IMAGES in the lab registry (busybox-static, labelled org.kubeforge.test-image=true; not the real images):\n{pushed}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let mirror = tmp.path().join("mirror.yml");
    std::fs::write(&mirror, MIRROR_VARS).unwrap();
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3],
        &[
            ("kube_control_plane", &[1]),
            ("kube_node", &[2]),
            ("etcd", &[3]),
        ],
        LAB_VARS,
    );

    // `offline list` for this inventory: exactly the images above, per host, with the
    // upstream names a mirror must hold.
    let list = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["offline", "list", "--format", "json", "-i"])
        .arg(&inv)
        .arg("-e")
        .arg(format!("@{}", files.display()))
        .arg("-e")
        .arg(format!("@{}", mirror.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    let listed = |host: &str| -> BTreeSet<String> {
        list["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["hosts"].as_array().unwrap().iter().any(|h| h == host))
            .map(|i| i["reference"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed("instance-1"), on_mirror(CONTROL_PLANE));
    assert_eq!(listed("instance-2"), on_mirror(WORKER));
    assert!(listed("instance-3").is_empty());
    for i in list["images"].as_array().unwrap() {
        let reference = i["reference"].as_str().unwrap();
        let upstream = i["upstream"].as_str().unwrap();
        let path = reference.strip_prefix(&format!("{REGISTRY}/")).unwrap();
        assert!(
            ["registry.k8s.io/", "quay.io/", "docker.io/"]
                .iter()
                .any(|r| upstream == format!("{r}{path}")),
            "{reference} is not {upstream} on the mirror"
        );
    }
    assert!(list["files"].as_array().unwrap().len() >= 8, "{list}");

    // First run: every k8s host pulls exactly its images through the mirror.
    let first = run(tmp.path(), &inv, &files, &mirror, &[]);
    assert_eq!(
        first.code, 0,
        "cluster.yml failed:\n{}\n{}",
        first.stdout, first.stderr
    );
    let cp = images_on(1);
    let worker = images_on(2);
    assert_eq!(cp, on_mirror(CONTROL_PLANE), "instance-1 (control plane)");
    assert_eq!(worker, on_mirror(WORKER), "instance-2 (worker)");
    assert_eq!(
        cp,
        listed("instance-1"),
        "offline list vs the control plane"
    );
    assert_eq!(worker, listed("instance-2"), "offline list vs the worker");
    for k in [1, 2] {
        let step = pull_step(&first, &format!("instance-{k}"));
        assert_eq!(step["status"], "changed", "{step}");
        eprintln!(
            "first run: instance-{k} pulled {} images in {} ms",
            images_on(k).len(),
            step["duration_ms"]
        );
        // containerd's sandbox image and certs.d name the mirror.
        let (_, toml) = ssh(k, "cat /etc/containerd/config.toml");
        assert!(
            toml.contains(&format!("\"{REGISTRY}/pause:3.10.2\"")),
            "instance-{k}: sandbox image not on the mirror:\n{toml}"
        );
        let (ok, hosts) = ssh(
            k,
            &format!("cat /etc/containerd/certs.d/{REGISTRY}/hosts.toml"),
        );
        assert!(
            ok && hosts.contains(&format!("[host.\"http://{REGISTRY}\"]")),
            "{hosts}"
        );
    }
    // The etcd-only host: no image step, no containerd at all.
    assert!(
        !first.events.iter().any(|e| e["event"] == "step_result"
            && e["host"] == "instance-3"
            && e["task"] == "Container images"),
        "the etcd-only host got the image step"
    );
    for f in [
        "/usr/local/bin/ctr",
        "/usr/local/bin/containerd",
        "/var/lib/containerd",
        "/etc/containerd",
    ] {
        assert!(
            !ssh(3, &format!("test -e {f}")).0,
            "etcd-only instance-3 has {f}"
        );
    }
    assert_ne!(ssh(3, "systemctl is-active containerd").1.trim(), "active");

    // The kubeadm configuration rendered on the control plane: kubeadm's schema (strict),
    // the mirror in imageRepository, every control-plane address in certSANs.
    let (ok, text) = ssh(1, "cat /etc/kubernetes/kubeadm-config.yaml");
    assert!(ok, "no kubeadm configuration on instance-1");
    let docs = kube_schema::parse_multi(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let cluster = docs
        .into_iter()
        .find_map(|d| match d {
            kube_schema::KubeDocument::Cluster(c) => Some(c),
            _ => None,
        })
        .expect("a ClusterConfiguration");
    assert_eq!(cluster.imageRepository.as_deref(), Some(REGISTRY));
    let dns = cluster.dns.as_ref().unwrap();
    assert_eq!(
        dns.imageRepository.as_deref(),
        Some(&*format!("{REGISTRY}/coredns"))
    );
    assert_eq!(dns.imageTag.as_deref(), Some("v1.14.2"));
    let sans = cluster
        .apiServer
        .as_ref()
        .unwrap()
        .certSANs
        .clone()
        .unwrap();
    for want in ["instance-1", "10.213.0.11", "fd00:6b66:6f72::11"] {
        assert!(
            sans.iter().any(|s| s == want),
            "{want} not in certSANs {sans:?}"
        );
    }
    // kubeadm asks for <imageRepository>/kube-apiserver:<kubernetesVersion>: on the host.
    let version = cluster.kubernetesVersion.clone().unwrap();
    for c in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
    ] {
        assert!(
            cp.contains(&format!("{REGISTRY}/{c}:{version}")),
            "{c}:{version} not pulled"
        );
    }

    // Second run: nothing to pull, nothing changed anywhere.
    let second = run(tmp.path(), &inv, &files, &mirror, &[]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    for h in ["instance-1", "instance-2", "instance-3"] {
        assert_eq!(
            second.changed(h),
            0,
            "{h} changed: {:?}",
            second.changed_tasks()
        );
    }
    for k in [1, 2] {
        let step = pull_step(&second, &format!("instance-{k}"));
        assert_eq!(step["status"], "ok", "{step}");
        eprintln!(
            "second run: instance-{k} image step {} ms, changed=0",
            step["duration_ms"]
        );
    }
    assert_eq!(images_on(1), cp);
    assert_eq!(images_on(2), worker);
    eprintln!(
        "cluster.yml with pre-pull: first run {:.1} s, second run {:.1} s",
        first.secs, second.secs
    );

    // A tag the registry does not hold: the run stops at the images, naming the image,
    // before any task of the Kubernetes play (kubeadm's) runs on any host.
    let wrong = run(
        tmp.path(),
        &inv,
        &files,
        &mirror,
        &["-e", "coredns_image_tag=v0.0.0-missing"],
    );
    assert_ne!(wrong.code, 0, "a missing image did not fail the run");
    let missing = format!("{REGISTRY}/coredns/coredns:v0.0.0-missing");
    let failed: Vec<&Value> = wrong
        .events
        .iter()
        .filter(|e| e["event"] == "step_result" && e["status"] == "failed")
        .collect();
    assert!(!failed.is_empty(), "{}", wrong.stdout);
    for f in &failed {
        assert_eq!(f["task"], "Container images", "{f}");
        assert!(
            f.to_string().contains(&missing),
            "the failure does not name {missing}: {f}"
        );
    }
    let later: Vec<&Value> = wrong
        .events
        .iter()
        .filter(|e| {
            e["event"] == "step_result"
                && (e["play"] == "Kubernetes" || e["play"] == "Network plugin")
        })
        .collect();
    assert!(
        later.is_empty(),
        "tasks ran after the failed pull: {later:?}"
    );
    eprintln!(
        "missing tag: the run stopped at the image step: {}",
        failed[0]["error"]
            .as_str()
            .or(failed[0]["msg"].as_str())
            .unwrap_or("")
    );

    // download_run_once: the first control plane pulls every image once and the controller
    // keeps the archives; every host imports from them and never asks the registry.
    for k in [1, 2] {
        assert!(
            ssh(
                k,
                "/usr/local/bin/ctr -n k8s.io images ls -q | xargs -r /usr/local/bin/ctr -n k8s.io images rm > /dev/null"
            )
            .0
        );
        assert!(images_on(k).is_empty());
    }
    let log = lab_dir().join("registry.log");
    let seen = std::fs::read_to_string(&log).unwrap_or_default().len();
    let cache = tmp.path().join("cache");
    let inv_s = inv.to_str().unwrap().to_string();
    let (files_s, mirror_s) = (
        format!("@{}", files.display()),
        format!("@{}", mirror.display()),
    );
    let pb = repo().join("playbooks/cluster.yml");
    let once_args = [
        "run",
        inv_s.as_str(),
        pb.to_str().unwrap(),
        "-e",
        files_s.as_str(),
        "-e",
        mirror_s.as_str(),
        "-e",
        r#"{"download_run_once": true}"#,
        "--skip-tags",
        NEEDS_REAL_K8S,
    ];
    let mut args: Vec<&str> = once_args.to_vec();
    args.insert(1, "-i");
    let once = kubeforge_env(tmp.path(), &args, &[("XDG_CACHE_HOME", &cache)]);
    assert_eq!(once.code, 0, "{}\n{}", once.stdout, once.stderr);
    assert_eq!(
        images_on(1),
        cp,
        "the control plane holds exactly its images"
    );
    assert_eq!(images_on(2), worker, "the worker holds exactly its images");
    let archives = std::fs::read_dir(cache.join("kubeforge/images"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "tar"))
        })
        .count();
    assert_eq!(archives, cp.union(&worker).count(), "one archive per image");
    let saved: Vec<&Value> = once
        .events
        .iter()
        .filter(|e| {
            e["event"] == "step_result"
                && e["task"] == "Container images, saved once on the controller"
                && e["status"] == "changed"
        })
        .collect();
    assert!(
        saved.iter().all(|e| e["host"] == "instance-1") && !saved.is_empty(),
        "saved on the first control plane only: {saved:?}"
    );
    let asked = std::fs::read_to_string(&log).unwrap_or_default()[seen..].to_string();
    let from = |ip: &str| {
        asked
            .lines()
            .filter(|l| {
                l.starts_with(&format!("{ip} ")) || l.contains(&format!("remoteaddr=\"{ip}:"))
            })
            .count()
    };
    assert_eq!(
        from("10.213.0.12"),
        0,
        "the worker asked the registry:\n{asked}"
    );
    assert!(from("10.213.0.11") > 0, "the control plane pulled: {asked}");
    for k in [1, 2] {
        assert!(
            !ssh(k, "test -e /var/cache/kubeforge/images").0,
            "instance-{k} keeps no archive"
        );
    }
    let again = kubeforge_env(tmp.path(), &args, &[("XDG_CACHE_HOME", &cache)]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    for h in ["instance-1", "instance-2", "instance-3"] {
        assert_eq!(again.changed(h), 0, "{h}: {:?}", again.changed_tasks());
    }
    eprintln!(
        "download_run_once: {archives} images saved once on instance-1, imported on both hosts in {:.1} s (run), second run {:.1} s, changed=0",
        once.secs, again.secs
    );
}
