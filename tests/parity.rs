//! Inventory parity with ansible-core (issue 9), in the test suite:
//! - the differential test: every case under tests/parity/cases/ loaded by ansible-core
//!   2.18 (a virtualenv made by .ci/install-ansible.sh under target/) and by
//!   `kubeforge inventory show --format json --show-secrets`, compared by
//!   tests/parity/compare.py; any disagreement not in tests/parity/deliberate.yml fails
//!   with compare.py's report. Never skipped: without Python or PyPI it fails, saying so.
//! - vault: values encrypted here with the venv's ansible-vault, read by kubeforge with
//!   --vault-password-file and ANSIBLE_VAULT_PASSWORD_FILE; without a password a value
//!   kubeforge reads is an error naming the variable and the flag, and show masks it.
//! - `inventory show -i hosts.ini` (a bare relative path) writes nothing outside the
//!   inventory directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const KUBEFORGE: &str = env!("CARGO_BIN_EXE_kubeforge");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The venv's bin directory, installed once per test run (idempotent, cached in target/).
fn ansible_bin() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = BIN.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join(".ci/install-ansible.sh"))
            .current_dir(repo())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run .ci/install-ansible.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                ".ci/install-ansible.sh failed (it needs python3 with venv and pip, and PyPI):\n{}",
                text(&out)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let inv = stdout.lines().last().unwrap_or("").trim().to_string();
        let bin = Path::new(&inv).parent().map(Path::to_path_buf);
        bin.filter(|b| b.join("ansible-vault").exists())
            .ok_or_else(|| format!("install-ansible.sh printed no usable path:\n{}", text(&out)))
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn kubeforge_agrees_with_ansible_on_every_case() {
    let bin = ansible_bin();
    let start = std::time::Instant::now();
    let out = Command::new(bin.join("python"))
        .arg(repo().join("tests/parity/compare.py"))
        .arg("--ansible-bin")
        .arg(bin)
        .env("KUBEFORGE", KUBEFORGE)
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()
        .expect("run compare.py");
    let report = text(&out);
    assert!(
        out.status.success(),
        "kubeforge and ansible-core disagree (cases under tests/parity/cases, deliberate \
         differences in tests/parity/deliberate.yml):\n{report}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("parity: ") && l.contains(" cases "))
        .unwrap_or_else(|| panic!("no summary from compare.py:\n{report}"));
    let cases: usize = summary
        .trim_start_matches("parity: ")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(cases >= 60, "only {cases} parity cases ran:\n{report}");
    eprintln!(
        "{}\n(parity took {:.1?})",
        stdout
            .lines()
            .filter(|l| l.starts_with("parity:"))
            .collect::<Vec<_>>()
            .join("\n"),
        start.elapsed()
    );
}

fn encrypt(bin: &Path, pwfile: &Path, value: &str, name: &str) -> String {
    let out = Command::new(bin.join("ansible-vault"))
        .args(["encrypt_string", "--vault-password-file"])
        .arg(pwfile)
        .args([value, "--name", name])
        .env("ANSIBLE_HOME", pwfile.parent().unwrap().join(".ansible"))
        .stdin(Stdio::null())
        .output()
        .expect("run ansible-vault");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn kubeforge(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(KUBEFORGE);
    c.args(args)
        .current_dir(dir)
        .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run kubeforge")
}

fn var<'a>(doc: &'a serde_json::Value, host: &str, name: &str) -> &'a serde_json::Value {
    let h = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == host)
        .unwrap();
    &h["vars"][name]["value"]
}

#[test]
fn vault_values_and_files_made_by_ansible_vault_are_read() {
    let bin = ansible_bin();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A test-only password protecting made-up values.
    let pw = dir.join("vault-pass.txt");
    std::fs::write(&pw, "kubeforge-test-only\n").unwrap();
    let user = encrypt(bin, &pw, "deploy", "ansible_user");
    let token = encrypt(bin, &pw, "s3cr3t", "registry_token");
    std::fs::write(
        dir.join("hosts.yml"),
        "all:\n  vars:\n    uses: \"x-{{ registry_token }}\"\n  children:\n    kube_control_plane:\n      hosts:\n        cp1:\n    etcd:\n      hosts:\n        cp1:\n    kube_node:\n      hosts:\n        w1:\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("group_vars")).unwrap();
    std::fs::write(dir.join("group_vars/all.yml"), format!("{user}{token}")).unwrap();
    // A whole encrypted file too.
    std::fs::write(dir.join("group_vars/etcd.yml"), "etcd_only_setting: 42\n").unwrap();
    let out = Command::new(bin.join("ansible-vault"))
        .args(["encrypt", "--vault-password-file"])
        .arg(&pw)
        .arg(dir.join("group_vars/etcd.yml"))
        .env("ANSIBLE_HOME", dir.join(".ansible"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let show = [
        "inventory",
        "show",
        "-i",
        "hosts.yml",
        "--format",
        "json",
        "--show-secrets",
    ];
    // With the flag, and with the environment variable.
    let mut with_flag = show.to_vec();
    with_flag.extend(["--vault-password-file", "vault-pass.txt"]);
    for out in [
        kubeforge(dir, &with_flag, &[]),
        kubeforge(dir, &show, &[("ANSIBLE_VAULT_PASSWORD_FILE", &pw)]),
    ] {
        assert!(out.status.success(), "{}", text(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(var(&doc, "w1", "registry_token"), "s3cr3t");
        assert_eq!(var(&doc, "w1", "uses"), "x-s3cr3t");
        assert_eq!(var(&doc, "cp1", "etcd_only_setting"), 42);
        let cp1 = doc["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == "cp1")
            .unwrap();
        assert_eq!(cp1["ssh"]["user"], "deploy");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("$ANSIBLE_VAULT"));
    }

    // Without a password: the encrypted file is refused, naming it and the flag.
    let out = kubeforge(dir, &show, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("etcd.yml") && err.contains("--vault-password-file"),
        "{err}"
    );

    // Without the file: a vault value kubeforge reads (ansible_user) is an error naming
    // the variable and the flag where it is used (check, run); show prints it masked.
    std::fs::remove_file(dir.join("group_vars/etcd.yml")).unwrap();
    let out = kubeforge(dir, &["inventory", "check", "-i", "hosts.yml"], &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ansible_user") && err.contains("--vault-password-file"),
        "{err}"
    );
    let out = kubeforge(dir, &show, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(var(&doc, "w1", "ansible_user"), "********");
    assert_eq!(var(&doc, "w1", "registry_token"), "********");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("$ANSIBLE_VAULT"));
    std::fs::write(dir.join("group_vars/all.yml"), &token).unwrap();
    let out = kubeforge(dir, &show, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(var(&doc, "w1", "registry_token"), "********");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("$ANSIBLE_VAULT"));
    // A wrong password is refused, naming the variable.
    std::fs::write(&pw, "not-the-password\n").unwrap();
    let out = kubeforge(dir, &with_flag, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("registry_token"), "{err}");
}

#[test]
fn show_with_a_bare_relative_inventory_writes_only_inside_its_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("inv");
    std::fs::create_dir(&dir).unwrap();
    // A unique name, so that a file outside could be told from anything already there.
    let unique = format!("kf-parity-{}.creds", std::process::id());
    std::fs::write(
        dir.join("hosts.ini"),
        format!(
            "[kube_control_plane]\ncp1\n[etcd]\ncp1\n[kube_node]\nw1\n[all:vars]\n\
             credentials_dir=\"{{{{ inventory_dir }}}}/credentials\"\n\
             my_secret=\"{{{{ lookup('password', credentials_dir + '/{unique} length=20') }}}}\"\n"
        ),
    )
    .unwrap();
    let out = kubeforge(
        &dir,
        &[
            "inventory",
            "show",
            "-i",
            "hosts.ini",
            "--format",
            "json",
            "--magic",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let abs = std::fs::canonicalize(&dir).unwrap();
    let shown_dir = var(&doc, "cp1", "inventory_dir")
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(std::fs::canonicalize(&shown_dir).unwrap(), abs);
    assert_eq!(
        std::fs::canonicalize(var(&doc, "cp1", "inventory_file").as_str().unwrap()).unwrap(),
        abs.join("hosts.ini")
    );
    assert_eq!(
        var(&doc, "cp1", "credentials_dir"),
        &serde_json::json!(format!("{shown_dir}/credentials"))
    );
    assert!(dir.join("credentials").join(&unique).exists());
    assert!(!Path::new("/credentials").join(&unique).exists());
    // Nothing else appeared beside the inventory directory.
    let beside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, [std::ffi::OsString::from("inv")]);
}
