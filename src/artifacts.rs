//! The artifact table: every binary kubeforge downloads, its upstream URL template,
//! versions and pinned sha256 per architecture, and the component that needs it.
//! Declared once in `src/artifacts.yml` (shipped inside the binary).

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

#[cfg(test)]
mod tests {
    use super::*;

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
