use super::*;

fn args(cp: &[&str], workers: &[&str], etcd: &[&str]) -> InitArgs {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
    InitArgs {
        dir: PathBuf::from("unused"),
        control_plane: v(cp),
        worker: v(workers),
        etcd: v(etcd),
        layout: None,
        user: "root".into(),
        key: None,
        ipv6: false,
        force: false,
    }
}

fn err(a: &InitArgs) -> String {
    spec(a).unwrap_err().to_string()
}

#[test]
fn ranges_and_pairs() {
    let ips = |item: &str| -> Vec<String> {
        parse_item("worker", item)
            .unwrap()
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    assert_eq!(
        ips("10.0.0.10-10.0.0.12"),
        ["10.0.0.10", "10.0.0.11", "10.0.0.12"]
    );
    assert_eq!(ips("10.0.0.254-10.0.1.1").len(), 4);
    assert_eq!(ips("10.0.0.18-19"), ["10.0.0.18", "10.0.0.19"]);
    assert_eq!(ips("fd00::9-b"), ["fd00::9", "fd00::a", "fd00::b"]);
    assert_eq!(
        ips("10.0.0.1-2+fd00::1-2"),
        ["10.0.0.1+fd00::1", "10.0.0.2+fd00::2"]
    );
    for (bad, why) in [
        ("10.0.0.300", "not an IP address"),
        ("node1", "not an IP address"),
        ("10.0.0.9-10.0.0.1", "ends before it starts"),
        ("10.0.0.9-fd00::1", "mixes IPv4 and IPv6"),
        ("10.0.0.1-10.0.9.1", "more than 1024"),
        ("10.0.0.1-x", "end is not an address"),
        ("10.0.0.1-3+fd00::1", "pair them one to one"),
        ("fd00::1+10.0.0.1", "a pair is IPV4+IPV6"),
    ] {
        let e = parse_item("worker", bad).unwrap_err().to_string();
        assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
    }
}

#[test]
fn layouts_and_etcd_counts() {
    let s = spec(&args(&["10.0.0.1"], &["10.0.0.2-3"], &[])).unwrap();
    assert_eq!(s.layout, InitLayout::Stacked);
    assert_eq!(s.hosts[0].etcd.as_deref(), Some("etcd1"));
    let names: Vec<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["node1", "node2", "node3"]);

    let s = spec(&args(&["10.0.0.1"], &["10.0.0.2"], &["10.0.0.5-7"])).unwrap();
    assert_eq!(s.layout, InitLayout::Separate);
    assert!(s.hosts[0].etcd.is_none());
    let etcd: Vec<&str> = s.hosts.iter().filter_map(|h| h.etcd.as_deref()).collect();
    assert_eq!(etcd, ["etcd1", "etcd2", "etcd3"]);

    assert!(err(&args(&["10.0.0.1-2"], &[], &[])).contains("2 etcd members"));
    assert!(err(&args(&["10.0.0.1"], &[], &["10.0.0.5-6"])).contains("give 1 or 3"));
    assert!(err(&args(&["10.0.0.1"], &[], &["10.0.0.1"])).contains("also a control plane"));
    assert!(err(&args(&["10.0.0.1", "10.0.0.1"], &[], &[])).contains("given twice"));
    let mut a = args(&["10.0.0.1"], &[], &[]);
    a.layout = Some(InitLayout::Separate);
    assert!(err(&a).contains("needs its etcd hosts"));
    let mut a = args(&["10.0.0.1"], &[], &["10.0.0.2"]);
    a.layout = Some(InitLayout::Stacked);
    assert!(err(&a).contains("drop --etcd"));
}

#[test]
fn a_control_plane_listed_as_worker_is_one_host_in_both_groups() {
    let s = spec(&args(&["10.0.0.1"], &["10.0.0.1", "10.0.0.2"], &[])).unwrap();
    assert_eq!(s.hosts.len(), 2);
    assert!(s.hosts[0].control_plane && s.hosts[0].worker);
}

#[test]
fn families() {
    assert!(err(&args(&["fd00::1"], &[], &[])).contains("pass --ipv6"));
    let mut a = args(&["fd00::1"], &["fd00::2"], &[]);
    a.ipv6 = true;
    assert_eq!(spec(&a).unwrap().stack, Stack::V6);
    let mut a = args(&["10.0.0.1+fd00::1"], &[], &[]);
    a.ipv6 = true;
    assert_eq!(spec(&a).unwrap().stack, Stack::Dual);
    let mut a = args(&["10.0.0.1"], &[], &[]);
    a.ipv6 = true;
    assert!(err(&a).contains("needs each host's IPv6 address"));
    let mut a = args(&["10.0.0.1+fd00::1"], &["fd00::2"], &[]);
    a.ipv6 = true;
    assert!(err(&a).contains("the same families"));
}

#[test]
fn files_set_user_key_and_families_in_the_sample_text() {
    let key = tempfile::NamedTempFile::new().unwrap();
    let mut a = args(&["10.0.0.1+fd00::1"], &["10.0.0.2+fd00::2"], &[]);
    a.ipv6 = true;
    a.user = "debian".into();
    a.key = Some(key.path().to_path_buf());
    let f = files(&spec(&a).unwrap(), Path::new("inv")).unwrap();
    let get = |p: &str| f.iter().find(|(n, _)| n == p).unwrap().1.clone();
    let all = get("group_vars/all/all.yml");
    assert!(all.contains("ansible_user: \"debian\"\n"), "{all}");
    assert!(all.contains(&format!(
        "ansible_ssh_private_key_file: \"{}\"",
        std::fs::canonicalize(key.path()).unwrap().display()
    )));
    let k8s = get("group_vars/k8s_cluster/k8s-cluster.yml");
    assert!(k8s.contains("ipv4_stack: true\n") && k8s.contains("ipv6_stack: true\n"));
    let hosts = get("hosts.yaml");
    assert!(hosts.contains("ip6: \"fd00::1\""), "{hosts}");
    assert_eq!(f.len(), SAMPLE.len() + 1);
    // Every sample line init sets is still there (a changed sample fails here).
    for (path, text) in SAMPLE {
        for key in ["ansible_user:", "ipv4_stack:", "ipv6_stack:"] {
            let wanted = match key {
                "ansible_user:" => *path == "group_vars/all/all.yml",
                _ => *path == "group_vars/k8s_cluster/k8s-cluster.yml",
            };
            if wanted {
                assert!(text.lines().any(|l| l.starts_with(key)), "{path}: {key}");
            }
        }
    }
}

#[test]
fn a_missing_key_file_is_refused() {
    let mut a = args(&["10.0.0.1"], &[], &[]);
    a.key = Some(PathBuf::from("/nonexistent/id_ed25519"));
    assert!(err(&a).contains("--key /nonexistent/id_ed25519"));
}
