//! Container images in the artifact table (`images:` in src/artifacts.yml): each image
//! with the components that need it, its registry variable and path, Kubespray's repo/tag
//! variables and the tag pinned per Kubernetes minor or Cilium version. Resolved per host
//! from its variables alone: a mirror (`registry_host`, `kube_image_repo`, ...) replaces
//! the registry part and keeps the upstream path.

use crate::topology::Component;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// When an image is pulled besides its components: a variable is true, or equals a value.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The variable read.
    pub var: String,
    /// The value it must equal (absent: it must be true).
    pub equals: Option<String>,
}

impl Condition {
    /// The condition holds for a host whose variables `get` reads.
    pub fn holds(&self, get: &dyn Fn(&str) -> Option<Value>) -> bool {
        let v = get(&self.var).unwrap_or(Value::Null);
        match &self.equals {
            Some(want) => text(&v).as_deref() == Some(want.as_str()),
            None => crate::vars::truthy_setting(&v),
        }
    }
}

/// One image of the table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Name (Kubespray's download key where it has one: pod_infra, coredns, cilium, ...).
    pub name: String,
    /// Components whose hosts run it.
    pub components: Vec<String>,
    /// The registry variable (kube_image_repo, quay_image_repo, ...).
    pub registry_var: String,
    /// The path below the registry (kept by a mirror).
    pub path: String,
    /// Appended to the repository when pulling (the Cilium chart's `-generic`).
    #[serde(default)]
    pub suffix: String,
    /// Kubespray's variable for the whole repository (overrides registry + path).
    pub repo_var: Option<String>,
    /// Kubespray's variable for the tag.
    pub tag_var: Option<String>,
    /// The tag, with `{{ version }}` from `version_var`.
    pub tag: Option<String>,
    /// The variable holding the version in `tag`.
    pub version_var: Option<String>,
    /// Tags pinned per Kubernetes minor (`kube_version`'s first two numbers).
    #[serde(default)]
    pub tag_by_kube_minor: BTreeMap<String, String>,
    /// Pulled only when this holds.
    pub when: Option<Condition>,
}

#[derive(Deserialize)]
struct Table {
    registries: BTreeMap<String, String>,
    images: Vec<Image>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        // Only the image part; a broken table is a unit-test failure.
        #[derive(Deserialize)]
        struct Whole {
            #[serde(default)]
            registries: BTreeMap<String, String>,
            #[serde(default)]
            images: Vec<Image>,
        }
        serde_saphyr::from_str::<Whole>(super::TABLE_TEXT)
            .map(|w| Table {
                registries: w.registries,
                images: w.images,
            })
            .unwrap_or(Table {
                registries: BTreeMap::new(),
                images: Vec::new(),
            })
    })
}

/// Every image of the table, in table order.
pub fn all() -> &'static [Image] {
    &table().images
}

/// The registry variables and their upstream defaults (kube_image_repo: registry.k8s.io, ...).
pub fn registries() -> &'static BTreeMap<String, String> {
    &table().registries
}

/// An image resolved for one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedImage {
    /// Table name.
    pub name: String,
    /// Components that need it.
    pub components: Vec<String>,
    /// Repository pulled from (the mirror when set).
    pub repo: String,
    /// Tag.
    pub tag: String,
    /// Pinned digest (`sha256:<hex>`), when `<name>_digest_checksum` is set.
    pub digest: Option<String>,
    /// What the host pulls: `repo:tag` (with `@digest` when pinned).
    pub reference: String,
    /// The upstream reference (what a mirror must hold, at the same path).
    pub upstream: String,
    /// The condition holds for this host (Kubespray's `enabled`).
    pub enabled: bool,
}

/// An image that cannot be resolved (no tag pinned for this Kubernetes minor, a bad digest).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("image {image}: {message}")]
pub struct ImageError {
    /// The image's table name.
    pub image: String,
    /// The variable to fix.
    pub var: String,
    /// What is wrong.
    pub message: String,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `1.36.4` (or `v1.36.4-double`) -> `1.36`.
pub fn kube_minor(version: &str) -> Option<String> {
    let v = version.trim().trim_start_matches('v');
    let mut parts = v.split('.');
    let major = parts.next()?.parse::<u32>().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let minor = minor.parse::<u32>().ok()?;
    Some(format!("{major}.{minor}"))
}

/// The registry an image's registry variable names for this host (`kubeadm_image_repo`
/// follows `kube_image_repo` unless set).
fn registry(var: &str, get: &dyn Fn(&str) -> Option<Value>) -> String {
    if let Some(r) = get(var).as_ref().and_then(text).filter(|s| !s.is_empty()) {
        return r.trim_end_matches('/').to_string();
    }
    if var == "kubeadm_image_repo" {
        return registry("kube_image_repo", get);
    }
    registries()
        .get(var)
        .cloned()
        .unwrap_or_else(|| "registry.k8s.io".into())
}

fn upstream_registry(var: &str) -> String {
    let var = if var == "kubeadm_image_repo" {
        "kube_image_repo"
    } else {
        var
    };
    registries()
        .get(var)
        .cloned()
        .unwrap_or_else(|| "registry.k8s.io".into())
}

impl Image {
    /// The digest variable (Kubespray's `<name>_digest_checksum`).
    pub fn digest_var(&self) -> String {
        format!("{}_digest_checksum", self.name.replace('-', "_"))
    }

    /// Every variable resolving this image reads (kubeforge renders them before planning).
    pub fn variables(&self) -> Vec<String> {
        let mut v = vec![self.registry_var.clone(), self.digest_var()];
        v.extend(self.repo_var.iter().cloned());
        v.extend(self.tag_var.iter().cloned());
        v.extend(self.version_var.iter().cloned());
        v.extend(self.when.iter().map(|c| c.var.clone()));
        if !self.tag_by_kube_minor.is_empty() {
            v.push("kube_version".into());
        }
        v
    }

    /// The image's condition holds for a host (Kubespray's `enabled`).
    pub fn enabled(&self, get: &dyn Fn(&str) -> Option<Value>) -> bool {
        self.when.as_ref().is_none_or(|c| c.holds(get))
    }

    fn pinned_tag(&self, get: &dyn Fn(&str) -> Option<Value>) -> Result<String, ImageError> {
        let err = |var: &str, message: String| ImageError {
            image: self.name.clone(),
            var: var.to_string(),
            message,
        };
        if !self.tag_by_kube_minor.is_empty() {
            let version = get("kube_version")
                .as_ref()
                .and_then(text)
                .ok_or_else(|| err("kube_version", "kube_version is not set".into()))?;
            let minor = kube_minor(&version).ok_or_else(|| {
                err(
                    "kube_version",
                    format!("'{version}' is not a Kubernetes version"),
                )
            })?;
            let var = self
                .tag_var
                .clone()
                .unwrap_or_else(|| "kube_version".into());
            return self.tag_by_kube_minor.get(&minor).cloned().ok_or_else(|| {
                err(
                    &var,
                    format!(
                        "no tag pinned for Kubernetes {minor} (pinned: {}); set {var}",
                        self.tag_by_kube_minor
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            });
        }
        let tag = self.tag.clone().unwrap_or_default();
        match &self.version_var {
            Some(var) => {
                let version = get(var)
                    .as_ref()
                    .and_then(text)
                    .ok_or_else(|| err(var, format!("{var} is not set")))?;
                Ok(tag.replace("{{ version }}", version.trim().trim_start_matches('v')))
            }
            None => Ok(tag),
        }
    }

    /// Resolves the image with a host's variables.
    pub fn resolve(
        &self,
        get: &dyn Fn(&str) -> Option<Value>,
    ) -> Result<ResolvedImage, ImageError> {
        let upstream_tag = self.pinned_tag(get)?;
        let tag = self
            .tag_var
            .as_ref()
            .and_then(|v| get(v))
            .as_ref()
            .and_then(text)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| upstream_tag.clone());
        let repo = match self
            .repo_var
            .as_ref()
            .and_then(|v| get(v))
            .as_ref()
            .and_then(text)
            .filter(|s| !s.is_empty())
        {
            Some(r) => format!("{}{}", r.trim_end_matches('/'), self.suffix),
            None => format!(
                "{}/{}{}",
                registry(&self.registry_var, get),
                self.path,
                self.suffix
            ),
        };
        let upstream = format!(
            "{}/{}{}:{}",
            upstream_registry(&self.registry_var),
            self.path,
            self.suffix,
            upstream_tag
        );
        let digest = match get(&self.digest_var()).as_ref().and_then(text) {
            Some(d) if !d.trim().is_empty() => {
                let hex = d.trim().trim_start_matches("sha256:").to_ascii_lowercase();
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ImageError {
                        image: self.name.clone(),
                        var: self.digest_var(),
                        message: format!("'{d}' is not a sha256 digest"),
                    });
                }
                Some(format!("sha256:{hex}"))
            }
            _ => None,
        };
        let reference = match &digest {
            Some(d) => format!("{repo}:{tag}@{d}"),
            None => format!("{repo}:{tag}"),
        };
        let enabled = self.enabled(get);
        Ok(ResolvedImage {
            name: self.name.clone(),
            components: self.components.clone(),
            repo,
            tag,
            digest,
            reference,
            upstream,
            enabled,
        })
    }
}

/// The image called `name`.
pub fn get(name: &str) -> Option<&'static Image> {
    all().iter().find(|i| i.name == name)
}

/// Every variable image resolution reads.
pub fn variables() -> Vec<String> {
    let mut v: Vec<String> = registries().keys().cloned().collect();
    v.push("kubeadm_image_repo".into());
    v.push("registry_host".into());
    for i in all() {
        v.extend(i.variables());
    }
    v.sort();
    v.dedup();
    v
}

/// Every image resolved for a host (enabled or not), in table order.
pub fn resolve_all(get: &dyn Fn(&str) -> Option<Value>) -> Vec<Result<ResolvedImage, ImageError>> {
    all().iter().map(|i| i.resolve(get)).collect()
}

/// The images a host with these components pulls: enabled, needed by one of its
/// components; an error for an image it would pull but cannot resolve.
pub fn for_host(
    components: &[Component],
    get: &dyn Fn(&str) -> Option<Value>,
) -> Result<Vec<ResolvedImage>, ImageError> {
    let mut out = Vec::new();
    for i in all() {
        if !i
            .components
            .iter()
            .any(|c| components.iter().any(|h| h.as_str() == c))
        {
            continue;
        }
        // A disabled image is neither pulled nor resolved (its variables may be unset).
        if i.enabled(get) {
            out.push(i.resolve(get)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars<'a>(pairs: &'a [(&'a str, Value)]) -> impl Fn(&str) -> Option<Value> + 'a {
        move |n: &str| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())
    }

    #[test]
    fn table_parses_and_names_known_components() {
        assert!(all().len() >= 15, "{}", all().len());
        for i in all() {
            assert!(!i.components.is_empty(), "{}", i.name);
            for c in &i.components {
                assert!(Component::parse(c).is_some(), "{}: component {c}", i.name);
            }
            assert!(
                i.tag.is_some() || !i.tag_by_kube_minor.is_empty(),
                "{}: no tag",
                i.name
            );
            assert!(
                registries().contains_key(&i.registry_var)
                    || i.registry_var == "kubeadm_image_repo",
                "{}",
                i.name
            );
        }
    }

    #[test]
    fn kubespray_defaults_for_kube_1_36() {
        let v = [
            ("kube_version", json!("1.36.4")),
            ("cilium_version", json!("1.20.1")),
            ("etcd_version", json!("3.6.14")),
        ];
        let get = vars(&v);
        let r = |n: &str| get_image(n).resolve(&get).unwrap();
        assert_eq!(r("pod_infra").reference, "registry.k8s.io/pause:3.10.2");
        assert_eq!(
            r("kube-apiserver").reference,
            "registry.k8s.io/kube-apiserver:v1.36.4"
        );
        assert_eq!(
            r("coredns").reference,
            "registry.k8s.io/coredns/coredns:v1.14.2"
        );
        assert_eq!(r("cilium").reference, "quay.io/cilium/cilium:v1.20.1");
        assert_eq!(
            r("cilium_operator").reference,
            "quay.io/cilium/operator-generic:v1.20.1"
        );
        assert_eq!(
            r("nginx").reference,
            "docker.io/library/nginx:1.30.1-alpine"
        );
        assert_eq!(r("etcd").reference, "quay.io/coreos/etcd:v3.6.14");
        assert!(!r("nginx").enabled && !r("etcd").enabled && !r("cilium_hubble_ui").enabled);
        assert!(r("cilium").enabled);
    }

    fn get_image(n: &str) -> &'static Image {
        get(n).unwrap_or_else(|| panic!("no image {n}"))
    }

    #[test]
    fn a_mirror_replaces_the_registry_and_keeps_the_path() {
        let v = [
            ("kube_version", json!("1.35.2")),
            ("cilium_version", json!("1.20.1")),
            ("kube_image_repo", json!("mirror.example:5000")),
            ("quay_image_repo", json!("mirror.example:5000/")),
            ("loadbalancer_apiserver_type", json!("nginx")),
            ("docker_image_repo", json!("mirror.example:5000")),
            ("pod_infra_digest_checksum", json!("AB".repeat(32))),
        ];
        let get = vars(&v);
        let r = |n: &str| get_image(n).resolve(&get).unwrap();
        let pause = r("pod_infra");
        assert_eq!(pause.upstream, "registry.k8s.io/pause:3.10.1");
        assert_eq!(
            pause.reference,
            format!(
                "mirror.example:5000/pause:3.10.1@sha256:{}",
                "ab".repeat(32)
            )
        );
        assert_eq!(
            r("kube-scheduler").reference,
            "mirror.example:5000/kube-scheduler:v1.35.2"
        );
        assert_eq!(
            r("cilium_operator").repo,
            "mirror.example:5000/cilium/operator-generic"
        );
        assert_eq!(
            r("nginx").reference,
            "mirror.example:5000/library/nginx:1.30.1-alpine"
        );
        assert!(r("nginx").enabled);
    }

    #[test]
    fn kubespray_repo_and_tag_variables_win() {
        let v = [
            ("kube_version", json!("1.36.4")),
            ("pod_infra_image_repo", json!("reg/x/pause")),
            ("pod_infra_image_tag", json!("9.9")),
            ("kubeadm_image_repo", json!("reg/k8s")),
        ];
        let get = vars(&v);
        assert_eq!(
            get_image("pod_infra").resolve(&get).unwrap().reference,
            "reg/x/pause:9.9"
        );
        assert_eq!(
            get_image("kube-proxy").resolve(&get).unwrap().reference,
            "reg/k8s/kube-proxy:v1.36.4"
        );
    }

    #[test]
    fn an_unpinned_minor_names_the_variable() {
        let v = [("kube_version", json!("1.33.1"))];
        let e = get_image("pod_infra").resolve(&vars(&v)).unwrap_err();
        assert_eq!(e.var, "pod_infra_image_tag");
        assert!(
            e.message.contains("no tag pinned for Kubernetes 1.33"),
            "{e}"
        );
        let bad = [
            ("kube_version", json!("1.36.4")),
            ("coredns_digest_checksum", json!("xyz")),
        ];
        assert!(get_image("coredns").resolve(&vars(&bad)).is_err());
    }

    #[test]
    fn placement_follows_components() {
        let v = [
            ("kube_version", json!("1.36.4")),
            ("cilium_version", json!("1.20.1")),
        ];
        let get = vars(&v);
        let names = |c: &[Component]| {
            for_host(c, &get)
                .unwrap()
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        };
        assert!(names(&[Component::Etcd]).is_empty());
        let worker = names(&[Component::Kubelet, Component::KubeProxy, Component::Cilium]);
        assert!(worker.contains(&"pod_infra".to_string()));
        assert!(!worker.iter().any(|n| n == "kube-apiserver"));
        let cp = names(&[Component::Kubelet, Component::ControlPlane]);
        assert!(cp.contains(&"kube-apiserver".to_string()));
        assert_eq!(kube_minor("v1.36.4-double").as_deref(), Some("1.36"));
    }
}
