//! Host facts (distribution, architecture, ...), gathered only when a task refers to
//! them, in one small round trip.

use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Fact names a task may refer to (besides `ansible_facts`).
pub const FACT_NAMES: [&str; 11] = [
    "ansible_facts",
    "ansible_distribution",
    "ansible_distribution_version",
    "ansible_distribution_major_version",
    "ansible_distribution_release",
    "ansible_os_family",
    "ansible_architecture",
    "ansible_hostname",
    "ansible_kernel",
    "ansible_processor_vcpus",
    "ansible_memtotal_mb",
];

/// The script that prints `key=value` facts.
pub const SCRIPT: &str = r#"
[ -r /etc/os-release ] && . /etc/os-release
echo "id=${ID:-unknown}"; echo "version_id=${VERSION_ID:-}"; echo "codename=${VERSION_CODENAME:-}"; echo "id_like=${ID_LIKE:-}"
echo "machine=$(uname -m)"; echo "hostname=$(hostname 2>/dev/null || uname -n)"; echo "kernel=$(uname -r)"
echo "vcpus=$(nproc 2>/dev/null || echo 1)"; echo "mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
"#;

fn distribution(id: &str) -> String {
    match id {
        "debian" => "Debian".into(),
        "ubuntu" => "Ubuntu".into(),
        "rhel" => "RedHat".into(),
        "rocky" => "Rocky".into(),
        "almalinux" => "AlmaLinux".into(),
        "centos" => "CentOS".into(),
        "fedora" => "Fedora".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// Parses the script's output into Ansible-named facts.
pub fn parse(out: &str) -> BTreeMap<String, Value> {
    let kv: BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| kv.get(k).copied().unwrap_or("").trim().to_string();
    let id = get("id");
    let like = get("id_like");
    let family = if id == "debian" || id == "ubuntu" || like.contains("debian") {
        "Debian"
    } else if like.contains("rhel")
        || like.contains("fedora")
        || ["rhel", "rocky", "almalinux", "centos", "fedora"].contains(&id.as_str())
    {
        "RedHat"
    } else {
        "Unknown"
    };
    let version = get("version_id");
    let major = version.split('.').next().unwrap_or("").to_string();
    let mem_mb = get("mem_kb").parse::<u64>().map(|k| k / 1024).unwrap_or(0);
    let mut f: BTreeMap<String, Value> = BTreeMap::new();
    f.insert("ansible_distribution".into(), json!(distribution(&id)));
    f.insert("ansible_distribution_version".into(), json!(version));
    f.insert("ansible_distribution_major_version".into(), json!(major));
    f.insert(
        "ansible_distribution_release".into(),
        json!(get("codename")),
    );
    f.insert("ansible_os_family".into(), json!(family));
    f.insert("ansible_architecture".into(), json!(get("machine")));
    f.insert("ansible_hostname".into(), json!(get("hostname")));
    f.insert("ansible_kernel".into(), json!(get("kernel")));
    f.insert(
        "ansible_processor_vcpus".into(),
        json!(get("vcpus").parse::<u64>().unwrap_or(1)),
    );
    f.insert("ansible_memtotal_mb".into(), json!(mem_mb));
    let facts: serde_json::Map<String, Value> = f
        .iter()
        .map(|(k, v)| (k.trim_start_matches("ansible_").to_string(), v.clone()))
        .collect();
    f.insert("ansible_facts".into(), Value::Object(facts));
    f
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_debian() {
        let f = super::parse("id=debian\nversion_id=12\nid_like=\nmachine=x86_64\nhostname=h\nkernel=6.1\nvcpus=2\nmem_kb=2048000\n");
        assert_eq!(f["ansible_distribution"], "Debian");
        assert_eq!(f["ansible_os_family"], "Debian");
        assert_eq!(f["ansible_distribution_major_version"], "12");
        assert_eq!(f["ansible_architecture"], "x86_64");
        assert_eq!(f["ansible_memtotal_mb"], 2000);
        assert_eq!(f["ansible_facts"]["distribution"], "Debian");
    }
}
