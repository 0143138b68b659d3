//! The API-server DOUBLE (tests/doubles/apiserver.py) and the real kubectl from Debian
//! sid, for tests of kubeforge's Kubernetes-API steps. The double records every request;
//! tests assert kubeforge's requests through it, never Kubernetes' behaviour.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The real kubectl 1.36 (Debian sid's package, fetched and unpacked once).
pub fn kubectl() -> PathBuf {
    let out_dir = PathBuf::from("/var/cache/kubeforge-lab/kubectl-sid");
    let bin = out_dir.join("usr/bin/kubectl");
    if bin.is_file() {
        return bin;
    }
    let fetched = Command::new("bash")
        .arg(super::repo().join("tests/lab/sid-debs.sh"))
        .arg("kubectl")
        .stdin(Stdio::null())
        .output()
        .expect("sid-debs.sh runs");
    assert!(
        fetched.status.success(),
        "tests/lab/sid-debs.sh kubectl failed:\n{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let deb = std::fs::read_dir("/var/cache/kubeforge-lab/sid-debs")
        .expect("sid-debs cache")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("kubectl_") && n.ends_with(".deb"))
        })
        .expect("a kubectl .deb in the cache");
    let tmp = out_dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let x = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&tmp)
        .status()
        .expect("dpkg-deb runs");
    assert!(x.success(), "dpkg-deb -x {}", deb.display());
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::rename(&tmp, &out_dir).unwrap();
    assert!(bin.is_file(), "no usr/bin/kubectl in {}", deb.display());
    bin
}

/// A running API-server double.
pub struct ApiDouble {
    child: Child,
    /// Base URL (http://ADDR:PORT).
    pub url: String,
    _dir: tempfile::TempDir,
}

impl ApiDouble {
    /// Starts the double on `address` with `seed` (the double's seed JSON).
    pub fn start(address: &str, seed: &Value) -> ApiDouble {
        let dir = tempfile::tempdir().unwrap();
        let seed_path = dir.path().join("seed.json");
        std::fs::write(&seed_path, seed.to_string()).unwrap();
        let port_file = dir.path().join("port");
        let child = Command::new("python3")
            .arg(super::repo().join("tests/doubles/apiserver.py"))
            .args([
                "--address",
                address,
                "--port",
                "0",
                "--max-lifetime",
                "1800",
            ])
            .arg("--port-file")
            .arg(&port_file)
            .arg("--seed")
            .arg(&seed_path)
            .arg("--log")
            .arg(dir.path().join("requests.jsonl"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the API-server double");
        let start = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                if let Ok(p) = p.trim().parse::<u16>() {
                    break p;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the API-server double did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        ApiDouble {
            child,
            url: format!("http://{address}:{port}"),
            _dir: dir,
        }
    }

    /// A kubeconfig for kubectl pointing at the double.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: {}\ncontexts:\n- name: double\n  context:\n    cluster: double\n    user: admin\ncurrent-context: double\nusers:\n- name: admin\n  user: {{}}\n",
            self.url
        )
    }

    fn get(&self, path: &str) -> Value {
        let out = Command::new("curl")
            .args(["-fsS", "--max-time", "10"])
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "GET {path} from the double failed");
        serde_json::from_slice(&out.stdout).expect("the double answers JSON")
    }

    /// Every recorded request (discovery included).
    pub fn requests(&self) -> Vec<Value> {
        self.get("/__double/requests")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Requests other than discovery: `(METHOD, path)`.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.requests()
            .iter()
            .map(|r| {
                (
                    r["method"].as_str().unwrap_or("").to_string(),
                    r["path"].as_str().unwrap_or("").to_string(),
                )
            })
            .filter(|(_, p)| {
                !(p == "/api"
                    || p == "/apis"
                    || p == "/api/v1"
                    || p.starts_with("/apis/") && p.matches('/').count() <= 3
                    || p == "/version")
            })
            .collect()
    }

    /// The double's objects.
    pub fn state(&self) -> Value {
        self.get("/__double/state")
    }

    /// A node object by name.
    pub fn node(&self, name: &str) -> Option<Value> {
        self.state()["objects"]["nodes"]
            .as_array()?
            .iter()
            .find(|n| n["metadata"]["name"] == name)
            .cloned()
    }

    /// Changes the double's behaviour (`fail_evictions` ...).
    pub fn configure(&self, config: &Value) {
        let ok = Command::new("curl")
            .args([
                "-fsS",
                "--max-time",
                "10",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
            ])
            .arg(config.to_string())
            .arg(format!("{}/__double/config", self.url))
            .output()
            .expect("curl runs")
            .status
            .success();
        assert!(ok, "configuring the double failed");
    }
}

impl Drop for ApiDouble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when the node carries kubeforge's cordon mark.
pub fn marked(node: &Value) -> bool {
    node["metadata"]["annotations"]["kubeforge.io/cordoned-by"] == "kubeforge"
}

/// True when the node is cordoned.
pub fn cordoned(node: &Value) -> bool {
    node["spec"]["unschedulable"] == true
}

/// Writes `text` to `path` (creating parents).
pub fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, text).unwrap();
}
