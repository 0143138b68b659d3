//! `kubeforge plan` on the sample inventory: the placement report says, per host, the
//! roles, the components and every task that will run there, and an etcd-only host is
//! never sent a container-runtime or Kubernetes task.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn plan_json(playbook: &str) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .current_dir(root)
        .args([
            "plan",
            "-i",
            "inventory/sample",
            playbook,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn host<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap()
}

fn tasks(h: &Value) -> Vec<(String, Vec<String>)> {
    h["plays"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["tasks"].as_array().unwrap().iter())
        .map(|t| {
            (
                format!(
                    "{}: {}",
                    t["role"].as_str().unwrap_or("-"),
                    t["name"].as_str().unwrap()
                ),
                t["needs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn the_etcd_only_host_gets_etcd_and_nothing_container_related() {
    let doc = plan_json("playbooks/cluster.yml");
    assert_eq!(doc["layout"], "separate");
    let e = host(&doc, "instance-3");
    assert_eq!(e["components"], serde_json::json!(["etcd"]));
    let plays: Vec<&str> = e["plays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["play"].as_str().unwrap())
        .collect();
    assert_eq!(plays, ["Prepare hosts", "etcd cluster", "etcd health"]);
    for (name, needs) in tasks(e) {
        assert!(
            needs.iter().all(|n| n == "etcd"),
            "{name} needs {needs:?} on the etcd-only host"
        );
        assert!(
            !name.contains("containerd") && !name.contains("kubelet"),
            "{name}"
        );
    }
    // The control plane runs the runtime, Kubernetes and Cilium tasks; kubeadm init once.
    let cp = tasks(host(&doc, "instance-1"));
    for want in [
        "container_engine: containerd running and enabled",
        "kubernetes: kubeadm init on the first control plane",
        "network_plugin: Cilium installed (once, from the first control plane)",
    ] {
        assert!(cp.iter().any(|(n, _)| n == want), "instance-1 lacks {want}");
    }
    let worker = tasks(host(&doc, "instance-2"));
    assert!(
        !worker
            .iter()
            .any(|(n, _)| n.starts_with("kubernetes: kubeadm init")),
        "kubeadm init on a worker"
    );
    assert!(
        !worker.iter().any(|(n, _)| n.starts_with("etcd:")),
        "etcd tasks on a worker"
    );
    assert!(worker.iter().any(|(n, _)| n == "kubernetes: Worker join"));
}

#[test]
fn reset_and_health_are_placed_by_role_too() {
    let health = plan_json("playbooks/health.yml");
    let e: Vec<String> = tasks(host(&health, "instance-3"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(e, ["-: etcd endpoint health", "-: etcd membership"]);
    let reset = plan_json("playbooks/reset.yml");
    let e: Vec<String> = tasks(host(&reset, "instance-3"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(!e.iter().any(|n| n.contains("kubeadm reset")), "{e:?}");
    assert!(
        e.iter().any(|n| n.contains("Stop and disable etcd")),
        "{e:?}"
    );
}

/// `kubeforge plan` of an inline playbook on the sample inventory: (exit code, stderr).
fn plan_of(book: &str, extra: &[&str]) -> (i32, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("play.yml");
    std::fs::write(&path, book).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .current_dir(root)
        .args(["plan", "-i", "inventory/sample"])
        .arg(&path)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_notify_naming_no_handler_is_refused_at_its_line() {
    let (code, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: conf\n      copy: {dest: /tmp/x, content: x}\n      notify: restart kubelt\n  handlers:\n    - name: restart kubelet\n      command: \"true\"\n    - name: other\n      command: \"true\"\n      listen: restart all\n",
        &[],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("notifies 'restart kubelt'"), "{err}");
    assert!(err.contains("play.yml:3"), "{err}");
    assert!(err.contains("restart kubelet, other"), "{err}");
    // By name, by listen topic and templated (decided at run time): accepted.
    let (code, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: conf\n      copy: {dest: /tmp/x, content: x}\n      notify: [restart kubelet, restart all, \"{{ which }}\"]\n  handlers:\n    - name: restart kubelet\n      command: \"true\"\n    - name: other\n      command: \"true\"\n      listen: restart all\n",
        &[],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_literal_delegate_to_naming_no_host_is_refused() {
    let (code, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: ask\n      command: \"true\"\n      delegate_to: instance-9\n",
        &[],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("delegated to 'instance-9', which is not in the inventory"),
        "{err}"
    );
    assert!(err.contains("play.yml:3"), "{err}");
}

#[test]
fn tags_that_match_nothing_are_named_in_a_warning() {
    let (code, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: conf\n      command: \"true\"\n      tags: [kubelet, config]\n",
        &["--tags", "kublet"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--tags kublet matches no task"), "{err}");
    assert!(err.contains("its tags: config, kubelet"), "{err}");
    let (_, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: conf\n      command: \"true\"\n      tags: [kubelet]\n",
        &["--tags", "kubelet"],
    );
    assert!(!err.contains("matches no task"), "{err}");
}

fn plan_text(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .current_dir(dir)
        .arg("plan")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_readme_first_command_warns_about_nothing_in_the_sample_directory() {
    // inventory/sample holds hosts.yaml and inventory.ini: read as Ansible reads the
    // directory (hosts.yaml; *.ini skipped), with no warning about its files, nor about
    // the cluster it describes (one etcd member on purpose: it says so with
    // kubeforge_single_etcd_intended). Its conditions on facts wait for the run.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (ok, stdout, stderr) =
        plan_text(root, &["-i", "inventory/sample", "playbooks/cluster.yml"]);
    assert!(ok, "{stderr}");
    let codes: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning["))
        .filter_map(|l| l.split(']').next())
        .collect();
    assert!(codes.is_empty(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    for word in ["inventory.ini", "several-inventory-files", "read-as-ini"] {
        assert!(!stderr.contains(word), "{word}: {stderr}");
    }
    let os = stdout
        .lines()
        .find(|l| l.contains("ansible_os_family == 'Debian'"))
        .unwrap_or_else(|| panic!("no condition on ansible_os_family:\n{stdout}"));
    assert!(os.contains("decided at run time (fact)"), "{os}");
    assert!(!stdout.contains("undefined variable"), "{stdout}");
}

#[test]
fn a_single_etcd_member_warns_unless_the_inventory_says_it_is_intended() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // (the etcd host's variable, the warnings expected)
    for (var, want) in [
        ("", vec!["single-etcd"]),
        (
            ", kubeforge_single_etcd_intended: false",
            vec!["single-etcd"],
        ),
        (", kubeforge_single_etcd_intended: true", vec![]),
    ] {
        std::fs::write(
            d.join("hosts.yaml"),
            format!("all:\n  hosts:\n    n1: {{ansible_host: 192.0.2.1{var}}}\n  children:\n    kube_control_plane: {{hosts: {{n1: }}}}\n    kube_node: {{hosts: {{n1: }}}}\n    etcd: {{hosts: {{n1: }}}}\n"),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
            .args(["inventory", "check", "-i"])
            .arg(d.join("hosts.yaml"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let codes: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("warning["))
            .filter_map(|l| l.split(']').next())
            .collect();
        assert_eq!(codes, want, "{var}: {stderr}");
    }
    // Not a boolean: an error naming it.
    std::fs::write(
        d.join("hosts.yaml"),
        "all:\n  hosts:\n    n1: {ansible_host: 192.0.2.1, kubeforge_single_etcd_intended: maybe}\n  children:\n    kube_control_plane: {hosts: {n1: }}\n    kube_node: {hosts: {n1: }}\n    etcd: {hosts: {n1: }}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["inventory", "check", "-i"])
        .arg(d.join("hosts.yaml"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kubeforge_single_etcd_intended must be a boolean"),
        "{stderr}"
    );
}

#[test]
fn conditions_waiting_for_the_run_say_what_they_wait_for() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("hosts.yaml"),
        "all:\n  hosts:\n    n1: {ansible_host: 192.0.2.1}\n  children:\n    kube_control_plane:\n      hosts:\n        n1:\n    kube_node:\n      hosts:\n        n1:\n    etcd:\n      hosts:\n        n1:\n    k8s_cluster:\n      children:\n        kube_control_plane:\n        kube_node:\n",
    )
    .unwrap();
    std::fs::write(
        d.join("play.yml"),
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: by fact
      command: "true"
      when: ansible_os_family == 'Debian'
    - name: by fact and inventory
      command: "true"
      when: [kube_network_plugin == 'cilium', "ansible_facts.distribution == 'Ubuntu'"]
    - name: probe
      command: "true"
      register: probed
    - name: by registered result
      command: "true"
      when: probed.rc == 0
    - name: by item
      command: "echo {{ item }}"
      loop: [1, 2]
      when: item > 1
    - name: by a name nothing defines
      command: "true"
      when: no_such_setting.enabled
    - name: by a fact and a name nothing defines
      command: "true"
      when: ansible_os_family == 'Debian' and no_such_setting
    - name: false from the inventory
      command: "true"
      when: kube_network_plugin == 'calico' and ansible_os_family == 'Debian'
"#,
    )
    .unwrap();
    let (ok, stdout, stderr) = plan_text(d, &["-i", "hosts.yaml", "play.yml"]);
    assert!(ok, "{stderr}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!(". {name}")))
            .unwrap_or_else(|| panic!("no task '{name}' in:\n{stdout}"))
            .to_string()
    };
    // (task, what its line must say)
    let table = [
        ("by fact", "decided at run time (fact)"),
        ("by fact and inventory", "decided at run time (fact)"),
        (
            "by registered result",
            "decided at run time (registered result)",
        ),
        ("by item", "decided at run time (loop item)"),
        ("by a name nothing defines", "is undefined"),
        ("by a fact and a name nothing defines", "is undefined"),
    ];
    for (task, want) in table {
        let l = line(task);
        assert!(l.contains(want), "{task}: {l}");
        if want.starts_with("decided") {
            assert!(!l.contains("undefined"), "{task}: {l}");
        } else {
            assert!(!l.contains("decided at run time"), "{task}: {l}");
        }
    }
    assert!(!stdout.contains("false from the inventory"), "{stdout}");
}
