//! The artifact table: every binary kubeforge downloads, its upstream URL template,
//! versions and pinned sha256 per architecture, and the component that needs it.
//! Declared once in `src/artifacts.yml` (shipped inside the binary), with the container
//! images (`images`, see `artifacts::images`).

pub mod images;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const TABLE_TEXT: &str = include_str!("artifacts.yml");

/// One downloadable artifact.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// Name (etcd, containerd, ...).
    pub name: String,
    /// The topology component that needs it.
    pub component: String,
    /// The variable holding its version (etcd_version, kube_version, ...).
    pub version_var: String,
    /// Kubespray's variable name for its URL (overridable).
    pub url_var: String,
    /// Upstream URL template with `{{ version }}` and `{{ arch }}`.
    pub url: String,
    /// Version used when the inventory sets none.
    pub default_version: String,
    /// `tar.gz` or `binary`.
    pub archive: String,
    /// version -> arch -> sha256.
    pub checksums: BTreeMap<String, BTreeMap<String, String>>,
    /// Other components a host must have as well (cilium-cli and helm: kubectl).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Downloaded only when this holds (which tool installs Cilium).
    #[serde(default)]
    pub when: Option<images::Condition>,
}

#[derive(Deserialize)]
struct Table {
    artifacts: Vec<Artifact>,
}

/// Every artifact (parsed once; a broken table is a build-time test failure).
pub fn all() -> &'static [Artifact] {
    static T: OnceLock<Vec<Artifact>> = OnceLock::new();
    T.get_or_init(|| {
        serde_saphyr::from_str::<Table>(TABLE_TEXT)
            .map(|t| t.artifacts)
            .unwrap_or_default()
    })
}

/// The artifact called `name`.
pub fn get(name: &str) -> Option<&'static Artifact> {
    all().iter().find(|a| a.name == name)
}

/// Versions with pinned checksums for an artifact, oldest first.
pub fn versions(name: &str) -> Vec<String> {
    let mut v: Vec<String> = get(name)
        .map(|a| a.checksums.keys().cloned().collect())
        .unwrap_or_default();
    v.sort_by(|a, b| crate::diagnostic::natural_cmp(a, b));
    v
}

impl Artifact {
    /// The upstream URL for a version and arch.
    pub fn url_for(&self, version: &str, arch: &str) -> String {
        self.url
            .replace("{{ version }}", version)
            .replace("{{ arch }}", arch)
    }

    /// The pinned sha256 for a version and arch.
    pub fn sha256(&self, version: &str, arch: &str) -> Option<&str> {
        self.checksums.get(version)?.get(arch).map(String::as_str)
    }
}

/// An artifact resolved for one host: where to fetch it and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resolved {
    /// Artifact name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture (amd64, arm64).
    pub arch: String,
    /// Where the host fetches it (the mirror when `files_repo` is set).
    pub url: String,
    /// The upstream URL (what a mirror must hold, at the same path).
    pub upstream_url: String,
    /// Expected sha256.
    pub sha256: String,
    /// The file name.
    pub filename: String,
    /// `tar.gz` or `binary`.
    pub archive: String,
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An artifact that cannot be resolved for a host (unknown, unpinned, bad checksum).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ArtifactError(pub String);

/// `v` (a list of names, or one name) holds `name`.
fn listed(v: &serde_json::Value, name: &str) -> bool {
    match v {
        serde_json::Value::Array(a) => a.iter().any(|x| x.as_str() == Some(name)),
        serde_json::Value::String(s) => s == name,
        _ => false,
    }
}

/// Resolves an artifact with a host's variables: its version variable, `image_arch`,
/// `files_repo` (a mirror keeping upstream paths), Kubespray's `<name>_download_url`
/// override, and `artifact_checksums` (extra pinned checksums: name -> version -> arch).
pub fn resolve(
    name: &str,
    get: &dyn Fn(&str) -> Option<serde_json::Value>,
) -> Result<Resolved, ArtifactError> {
    let a = get_artifact(name)?;
    let version = get(&a.version_var)
        .map(|v| text(&v))
        .unwrap_or_else(|| a.default_version.clone());
    let version = version.trim_start_matches('v').to_string();
    let arch = get("image_arch")
        .map(|v| text(&v))
        .unwrap_or_else(|| "amd64".into());
    let upstream_url = a.url_for(&version, &arch);
    let pinned = a.sha256(&version, &arch).map(str::to_string);
    let mut sha = pinned.clone();
    if let Some(serde_json::Value::Object(over)) = get("artifact_checksums") {
        if let Some(s) = over
            .get(name)
            .and_then(|v| v.get(&version))
            .and_then(|v| v.get(&arch))
        {
            let given = text(s).trim_start_matches("sha256:").to_ascii_lowercase();
            // A version kubeforge pins cannot be given another checksum: that is a
            // changed artifact, refused before any host is touched — unless the
            // operator says these files are their own builds (artifacts_built_locally).
            let own = get("artifacts_built_locally").is_some_and(|v| listed(&v, name));
            if let Some(p) = pinned.as_ref().filter(|p| **p != given && !own) {
                return Err(ArtifactError(format!(
                    "artifact_checksums.{name}.{version}.{arch} is {given}, but kubeforge pins {p} for that file; a changed checksum is refused (if you built {name} yourself, add it to artifacts_built_locally)"
                )));
            }
            sha = Some(given);
        }
    }
    let Some(sha256) = sha else {
        let mut pinned = versions(name);
        if let Some(serde_json::Value::Object(over)) = get("artifact_checksums") {
            if let Some(serde_json::Value::Object(vs)) = over.get(name) {
                pinned.extend(vs.keys().cloned());
            }
        }
        return Err(ArtifactError(format!(
            "{name} {version} ({arch}) has no pinned checksum; pinned: {}; or add it under artifact_checksums.{name}",
            pinned.join(", ")
        )));
    };
    if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ArtifactError(format!(
            "artifact_checksums.{name}.{version}.{arch}: '{sha256}' is not a sha256"
        )));
    }
    let files_repo = get("files_repo").map(|v| text(&v)).unwrap_or_default();
    let url = match get(&a.url_var).map(|v| text(&v)).filter(|u| !u.is_empty()) {
        Some(u) => u,
        None if !files_repo.trim().is_empty() => {
            let path = upstream_url
                .split_once("://")
                .map(|(_, p)| p)
                .unwrap_or(&upstream_url);
            format!("{}/{path}", files_repo.trim_end_matches('/'))
        }
        None => upstream_url.clone(),
    };
    let filename = upstream_url.rsplit('/').next().unwrap_or(name).to_string();
    Ok(Resolved {
        name: name.to_string(),
        version,
        arch,
        url,
        upstream_url,
        sha256,
        filename,
        archive: a.archive.clone(),
    })
}

fn get_artifact(name: &str) -> Result<&'static Artifact, ArtifactError> {
    get(name).ok_or_else(|| {
        ArtifactError(format!(
            "unknown artifact '{name}' (known: {})",
            all()
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The artifacts a host with these components downloads, given its variables.
pub fn for_host(
    components: &[crate::topology::Component],
    get: &dyn Fn(&str) -> Option<serde_json::Value>,
) -> Vec<&'static Artifact> {
    let has = |name: &str| components.iter().any(|c| c.as_str() == name);
    all()
        .iter()
        .filter(|a| has(&a.component) && a.requires.iter().all(|r| has(r)))
        .filter(|a| a.when.as_ref().is_none_or(|c| c.holds(get)))
        .collect()
}

/// Every variable that decides which artifacts a host downloads.
pub fn condition_vars() -> Vec<String> {
    all()
        .iter()
        .filter_map(|a| a.when.as_ref().map(|c| c.var.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_with_mirror_and_overrides() {
        let vars = |n: &str| -> Option<serde_json::Value> {
            match n {
                "files_repo" => Some("http://10.0.0.1:8080/".into()),
                "etcd_version" => Some("3.4.23".into()),
                "artifact_checksums" => {
                    Some(serde_json::json!({"etcd": {"3.4.23": {"amd64": "a".repeat(64)}}}))
                }
                _ => None,
            }
        };
        let r = resolve("etcd", &vars).unwrap();
        assert_eq!(r.url, "http://10.0.0.1:8080/github.com/etcd-io/etcd/releases/download/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz");
        assert_eq!(r.upstream_url, "https://github.com/etcd-io/etcd/releases/download/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz");
        assert_eq!(r.sha256, "a".repeat(64));
        let none = |_: &str| -> Option<serde_json::Value> { None };
        let d = resolve("kubeadm", &none).unwrap();
        assert_eq!(
            d.sha256,
            get("kubeadm").unwrap().sha256(&d.version, "amd64").unwrap()
        );
        let changed = |n: &str| -> Option<serde_json::Value> {
            (n == "artifact_checksums").then(
                || serde_json::json!({"kubeadm": {d.version.clone(): {"amd64": "b".repeat(64)}}}),
            )
        };
        assert!(resolve("kubeadm", &changed)
            .unwrap_err()
            .0
            .contains("a changed checksum is refused"));
        // Declared own builds: the given checksum replaces the pin, for those names only.
        let own = |n: &str| -> Option<serde_json::Value> {
            match n {
                "artifact_checksums" => Some(serde_json::json!({
                    "kubeadm": {d.version.clone(): {"amd64": "b".repeat(64)}},
                    "kubelet": {d.version.clone(): {"amd64": "c".repeat(64)}}})),
                "artifacts_built_locally" => Some(serde_json::json!(["kubeadm"])),
                _ => None,
            }
        };
        assert_eq!(resolve("kubeadm", &own).unwrap().sha256, "b".repeat(64));
        assert!(resolve("kubelet", &own).is_err());
        let bad = |n: &str| -> Option<serde_json::Value> {
            (n == "kube_version").then(|| "1.2.3".into())
        };
        assert!(resolve("kubelet", &bad)
            .unwrap_err()
            .0
            .contains("no pinned checksum"));
    }

    #[test]
    fn table_parses_and_every_checksum_is_sha256_hex() {
        let t: Table = serde_saphyr::from_str(TABLE_TEXT).expect("artifacts.yml parses");
        assert!(!t.artifacts.is_empty());
        for a in &t.artifacts {
            assert!(
                a.checksums.contains_key(&a.default_version),
                "{}: default version has no checksum",
                a.name
            );
            for (ver, arches) in &a.checksums {
                for (arch, sha) in arches {
                    assert!(
                        ["amd64", "arm64"].contains(&arch.as_str()),
                        "{} {ver}: arch {arch}",
                        a.name
                    );
                    assert_eq!(sha.len(), 64, "{} {ver} {arch}", a.name);
                    assert!(
                        sha.chars()
                            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                        "{} {ver} {arch}",
                        a.name
                    );
                }
            }
            assert!(a.url.contains("{{ version }}"), "{}", a.name);
        }
    }
}
