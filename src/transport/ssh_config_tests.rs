//! ssh_config reading, table by table.

use super::*;

fn cfg(text: &str) -> SshConfig {
    SshConfig::parse(text, Path::new("/cfg"), Path::new("/nonexistent")).unwrap()
}

const SAMPLE: &str = "\
# the site's config
Host bastion
HostName 10.0.0.1
User jump
Port 2200

Host node-* !node-9
User ops
IdentityFile ~/.ssh/nodes
IdentityFile /keys/%r-%h
ProxyJump bastion

Host node-1 node-2
HostName 192.168.1.%n
Port=2222
User never-used

Host *.db.example.com
  ProxyCommand ssh -W %h:%p gw.example.com
  StrictHostKeyChecking accept-new
  UserKnownHostsFile ~/.ssh/db_hosts /etc/db_hosts
  ConnectTimeout 1m30s
  CertificateFile \"/keys/with space-cert.pub\"

Match host foo user nobody exec \"true\"
  User from-match

Host *
  User default
  IdentitiesOnly yes
  ProxyJump none
";

#[test]
fn first_value_wins_and_files_add_up() {
    let c = cfg(SAMPLE);
    struct Case {
        host: &'static str,
        hostname: Option<&'static str>,
        user: Option<&'static str>,
        port: Option<u16>,
        identities: Vec<&'static str>,
        proxy: Option<Proxy>,
    }
    let jump = Proxy::Jump(vec![Hop {
        user: None,
        host: "bastion".into(),
        port: None,
    }]);
    for case in [
        Case {
            host: "bastion",
            hostname: Some("10.0.0.1"),
            user: Some("jump"),
            port: Some(2200),
            identities: vec![],
            proxy: Some(Proxy::Direct),
        },
        Case {
            host: "node-1",
            hostname: Some("192.168.1.%n"),
            user: Some("ops"),
            port: Some(2222),
            identities: vec!["~/.ssh/nodes", "/keys/%r-%h"],
            proxy: Some(jump.clone()),
        },
        Case {
            host: "NODE-5",
            hostname: None,
            user: Some("ops"),
            port: None,
            identities: vec!["~/.ssh/nodes", "/keys/%r-%h"],
            proxy: Some(jump.clone()),
        },
        // Excluded by the negated pattern: only `Host *` applies.
        Case {
            host: "node-9",
            hostname: None,
            user: Some("default"),
            port: None,
            identities: vec![],
            proxy: Some(Proxy::Direct),
        },
        Case {
            host: "a.db.example.com",
            hostname: None,
            user: Some("default"),
            port: None,
            identities: vec![],
            proxy: Some(Proxy::Command("ssh -W %h:%p gw.example.com".into())),
        },
        // The Match block does not apply (the user is not nobody), so its exec is not
        // refused either.
        Case {
            host: "foo",
            hostname: None,
            user: Some("default"),
            port: None,
            identities: vec![],
            proxy: Some(Proxy::Direct),
        },
    ] {
        let h = c.resolve(case.host, &[]).unwrap();
        let v = |f: &Option<Found<String>>| f.as_ref().map(|f| f.value.clone());
        assert_eq!(v(&h.hostname).as_deref(), case.hostname, "{}", case.host);
        assert_eq!(v(&h.user).as_deref(), case.user, "{}", case.host);
        assert_eq!(h.port.as_ref().map(|p| p.value), case.port, "{}", case.host);
        let ids: Vec<_> = h.identity_files.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(ids, case.identities, "{}", case.host);
        assert_eq!(h.proxy.map(|p| p.value), case.proxy, "{}", case.host);
        assert_eq!(h.identities_only, Some(true));
    }
    let db = c.resolve("x.db.example.com", &[]).unwrap();
    assert_eq!(db.strict.map(|s| s.value), Some(Strict::AcceptNew));
    assert_eq!(
        db.user_known_hosts.map(|f| f.value),
        Some(vec![
            "~/.ssh/db_hosts".to_string(),
            "/etc/db_hosts".to_string()
        ])
    );
    assert_eq!(
        db.connect_timeout.map(|f| f.value),
        Some(Some(Duration::from_secs(90)))
    );
    assert_eq!(
        db.certificate_files[0].value, "/keys/with space-cert.pub",
        "quoted"
    );
    // Where a value came from is kept for messages.
    let n = c.resolve("node-1", &[]).unwrap();
    assert_eq!(n.port.unwrap().at.to_string(), "/cfg:15");
}

#[test]
fn settings_given_first_win_over_the_file() {
    let c = cfg(SAMPLE);
    let first = vec![
        Setting::var("User", "admin", "ansible_user"),
        Setting::var("IdentityFile", "/inv/key", "ansible_ssh_private_key_file"),
        Setting::parse("ProxyCommand=nc %h %p", Origin::Var("args".into()))
            .unwrap()
            .unwrap(),
    ];
    let h = c.resolve("node-1", &first).unwrap();
    let user = h.user.unwrap();
    assert_eq!(
        (user.value.as_str(), user.at.to_string().as_str()),
        ("admin", "ansible_user")
    );
    let ids: Vec<_> = h.identity_files.iter().map(|f| f.value.as_str()).collect();
    assert_eq!(ids, ["/inv/key", "~/.ssh/nodes", "/keys/%r-%h"]);
    assert_eq!(h.proxy.unwrap().value, Proxy::Command("nc %h %p".into()));
    assert_eq!(h.port.unwrap().value, 2222);
}

#[test]
fn bad_values_name_the_file_and_line() {
    for (text, want) in [
        (
            "Host a\n  Port ssh\n",
            "/cfg:2: Port must be a port number (1-65535), not 'ssh'",
        ),
        (
            "Host *\n  IdentitiesOnly maybe\n",
            "/cfg:2: IdentitiesOnly takes yes or no, not 'maybe'",
        ),
        (
            "Host *\n StrictHostKeyChecking sometimes\n",
            "/cfg:2: StrictHostKeyChecking takes yes, accept-new, no or ask, not 'sometimes'",
        ),
        (
            "Host *\n ConnectTimeout soon\n",
            "/cfg:2: ConnectTimeout must be seconds, not 'soon'",
        ),
        (
            "Host *\n ProxyJump a,,b\n",
            "/cfg:2: ProxyJump a,,b: an empty jump host in the chain",
        ),
        (
            "Host *\n ProxyJump a,b:x\n",
            "/cfg:2: the ProxyJump port must be a port number (1-65535), not 'x'",
        ),
    ] {
        let c = cfg(text);
        let e = c.resolve("a", &[]).unwrap_err();
        assert_eq!(e.to_string(), want);
    }
    for (text, want) in [
        ("Host\n", "/cfg:1: Host needs at least one pattern"),
        ("Host *\n User \"unclosed\n", "/cfg:2: unclosed \" quote"),
    ] {
        let e = SshConfig::parse(text, Path::new("/cfg"), Path::new("/")).unwrap_err();
        assert_eq!(e.to_string(), want);
    }
    // A bad value in a block that does not apply is not an error (OpenSSH reads only
    // the blocks that apply).
    assert!(cfg("Host other\n  Port x\n").resolve("a", &[]).is_ok());
}

#[test]
fn jump_specs() {
    let at = Origin::Var("v".into());
    for (spec, want) in [
        ("none", Proxy::Direct),
        (
            "b",
            Proxy::Jump(vec![Hop {
                user: None,
                host: "b".into(),
                port: None,
            }]),
        ),
        (
            "u@b:2200",
            Proxy::Jump(vec![Hop {
                user: Some("u".into()),
                host: "b".into(),
                port: Some(2200),
            }]),
        ),
        (
            "ssh://u@b:22",
            Proxy::Jump(vec![Hop {
                user: Some("u".into()),
                host: "b".into(),
                port: Some(22),
            }]),
        ),
        (
            "[fd00::1]:2200",
            Proxy::Jump(vec![Hop {
                user: None,
                host: "fd00::1".into(),
                port: Some(2200),
            }]),
        ),
        (
            "fd00::1",
            Proxy::Jump(vec![Hop {
                user: None,
                host: "fd00::1".into(),
                port: None,
            }]),
        ),
    ] {
        assert_eq!(parse_jump(spec, &at).unwrap(), want, "{spec}");
    }
    assert!(parse_jump("b:notaport", &at).is_err());
    // A chain: the first hop is reached first.
    let hop = |u: Option<&str>, h: &str, p: Option<u16>| Hop {
        user: u.map(String::from),
        host: h.into(),
        port: p,
    };
    assert_eq!(
        parse_jump("u@a,b:2200,ssh://v@[fd00::1]:22", &at).unwrap(),
        Proxy::Jump(vec![
            hop(Some("u"), "a", None),
            hop(None, "b", Some(2200)),
            hop(Some("v"), "fd00::1", Some(22)),
        ])
    );
}

#[test]
fn patterns() {
    for (pattern, text, want) in [
        ("*", "anything", true),
        ("node-?", "node-1", true),
        ("node-?", "node-10", false),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "example.com", false),
        ("10.0.*", "10.0.3.4", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("HOST", "host", true),
    ] {
        assert_eq!(wildcard(pattern, text), want, "{pattern} {text}");
    }
    let p = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    assert!(host_matches("web1", &p("web* !web2")));
    assert!(!host_matches("web2", &p("web* !web2")));
    assert!(!host_matches("db1", &p("!web2")), "only negated: no match");
    assert!(host_matches("b", &p("a,b")));
}

#[test]
fn tokens_expand_where_allowed() {
    let t = Tokens {
        name: "n1".into(),
        hostname: "10.0.0.5".into(),
        port: 2222,
        user: "ops".into(),
        key_alias: "n1-key".into(),
    };
    let at = Origin::Var("v".into());
    assert_eq!(
        t.expand("ssh -W %h:%p -l %r gw # %%", PROXY_TOKENS, false, &at)
            .unwrap(),
        "ssh -W 10.0.0.5:2222 -l ops gw # %"
    );
    std::env::set_var("KF_TEST_KEYS", "/k");
    assert_eq!(
        t.expand("${KF_TEST_KEYS}/%n-%k", PATH_TOKENS, true, &at)
            .unwrap(),
        "/k/n1-n1-key"
    );
    assert_eq!(
        t.expand("~/.ssh/%r", PATH_TOKENS, true, &at).unwrap(),
        home().join(".ssh/ops").display().to_string()
    );
    assert_eq!(
        t.expand("nc %d", PROXY_TOKENS, false, &at)
            .unwrap_err()
            .to_string(),
        "v: 'nc %d': the token %d is not supported here"
    );
}

#[test]
fn includes_are_read_in_place_and_inherit_the_host_block() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("conf.d")).unwrap();
    std::fs::write(d.join("conf.d/10-a.conf"), "Host a\n  User from-include\n").unwrap();
    std::fs::write(d.join("conf.d/20-b.conf"), "Port 2201\n").unwrap();
    std::fs::write(d.join("conf.d/.hidden.conf"), "Port 1\n").unwrap();
    std::fs::write(d.join("c.inc"), "HostName c.example\n").unwrap();
    std::fs::write(
        d.join("config"),
        "Include conf.d/*.conf\nHost c\n  Include c.inc\nHost *\n  User last\n",
    )
    .unwrap();
    let c = SshConfig::load(&d.join("config"), true, d).unwrap();
    let a = c.resolve("a", &[]).unwrap();
    assert_eq!(a.user.unwrap().value, "from-include");
    // Each included file starts out applying to every host (as OpenSSH reads it),
    // whatever the file before it ended with.
    assert_eq!(a.port.unwrap().value, 2201);
    assert_eq!(c.resolve("z", &[]).unwrap().port.unwrap().value, 2201);
    let c2 = c.resolve("c", &[]).unwrap();
    assert_eq!(
        c2.hostname.unwrap().value,
        "c.example",
        "included inside Host c"
    );
    assert_eq!(c2.user.unwrap().value, "last");
    assert!(c.resolve("z", &[]).unwrap().hostname.is_none());
    // A missing file is empty unless it was named.
    assert!(SshConfig::load(&d.join("nope"), false, d).is_ok());
    let e = SshConfig::load(&d.join("nope"), true, d).unwrap_err();
    assert!(e.to_string().contains("nope: cannot read it"), "{e}");
}

#[test]
fn ansible_ssh_args() {
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let mut a = SshArgs::default();
    a.add(
        &words("-F /etc/kf/ssh-bastion.conf -o StrictHostKeyChecking=no -oPort=2200 -C -J u@gw -o User=x"),
        "ansible_ssh_common_args",
    )
    .unwrap();
    assert_eq!(
        a.config_file.as_ref().map(|(p, _)| p.clone()),
        Some(PathBuf::from("/etc/kf/ssh-bastion.conf"))
    );
    let keys: Vec<_> = a.settings.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["stricthostkeychecking", "port", "proxyjump", "user"]);
    let h = SshConfig::default().resolve("h", &a.settings).unwrap();
    assert_eq!(h.port.as_ref().unwrap().value, 2200);
    assert_eq!(
        h.port.unwrap().at.to_string(),
        "ansible_ssh_common_args (-o Port=2200)"
    );
    let e = SshArgs::default()
        .add(&words("-o"), "ansible_ssh_extra_args")
        .unwrap_err();
    assert_eq!(e.to_string(), "ansible_ssh_extra_args: -o needs a value");
    let e = SshArgs::default()
        .add(&words("host1"), "ansible_ssh_extra_args")
        .unwrap_err();
    assert!(e
        .to_string()
        .starts_with("ansible_ssh_extra_args: 'host1' is not an ssh option"));
}
