//! `Match` blocks, table by table.

use super::*;
use crate::transport::ssh_config::{Setting, SshConfig};
use std::path::Path;

fn cfg(text: &str) -> SshConfig {
    SshConfig::parse(text, Path::new("/cfg"), Path::new("/nonexistent")).unwrap()
}

/// (what the case shows, config, host, settings given first as (key, value), the
/// User, HostName and Port the host gets)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    (Option<&'static str>, Option<&'static str>, Option<u16>),
);

#[test]
fn criteria_select_blocks_as_openssh_does() {
    let me = local_login();
    let localuser = format!("Match localuser {me}\n  Port 2201\n");
    let not_localuser = format!("Match !localuser {me}\n  Port 2201\nHost *\n  Port 2202\n");
    let cases: Vec<Case> = vec![
        ("all applies to every host", "Match all\n  User a\n", "x", &[], (Some("a"), None, None)),
        ("host tests the name given without HostName", "Match host web*\n  User w\n", "web1", &[], (Some("w"), None, None)),
        ("host misses", "Match host web*\n  User w\n", "db1", &[], (None, None, None)),
        ("host ignores case", "Match host WEB1\n  User w\n", "web1", &[], (Some("w"), None, None)),
        (
            "host tests the HostName-substituted name",
            "Host n1\n  HostName 10.0.0.%h\nMatch host 10.0.0.*\n  User sub\n",
            "n1",
            &[],
            (Some("sub"), Some("10.0.0.%h"), None),
        ),
        (
            "originalhost tests the name given",
            "Host n1\n  HostName 10.0.0.1\nMatch originalhost n1\n  User orig\nMatch host n1\n  Port 9\n",
            "n1",
            &[],
            (Some("orig"), Some("10.0.0.1"), None),
        ),
        ("comma lists: one positive hit", "Match host a,b,c\n  User l\n", "b", &[], (Some("l"), None, None)),
        ("comma lists: a negated hit rejects", "Match host *,!b\n  User l\n", "b", &[], (None, None, None)),
        ("comma lists: negated only never matches", "Match host !b\n  User l\n", "a", &[], (None, None, None)),
        ("! negates a criterion", "Match !host b\n  User nb\n", "a", &[], (Some("nb"), None, None)),
        ("! negates a criterion (miss)", "Match !host b\n  User nb\n", "b", &[], (None, None, None)),
        ("all criteria must hold", "Match host a user ops\n  Port 2200\n", "a", &[("User", "ops")], (Some("ops"), None, Some(2200))),
        ("all criteria must hold (user differs)", "Match host a user ops\n  Port 2200\n", "a", &[("User", "dev")], (Some("dev"), None, None)),
        ("user defaults to root", "Match user root\n  Port 2200\n", "a", &[], (None, None, Some(2200))),
        ("user patterns keep case", "Match user Ops\n  Port 2200\n", "a", &[("User", "ops")], (Some("ops"), None, None)),
        (
            "user is what is known when the block is reached",
            "Host a\n  User early\nMatch user early\n  Port 1\nMatch user late\n  Port 2\n",
            "a",
            &[],
            (Some("early"), None, Some(1)),
        ),
        ("localuser", Box::leak(localuser.into_boxed_str()), "a", &[], (None, None, Some(2201))),
        ("!localuser", Box::leak(not_localuser.into_boxed_str()), "a", &[], (None, None, Some(2202))),
        ("tagged", "Host *\n  Tag blue\nMatch tagged blue\n  User b\n", "a", &[], (Some("b"), None, None)),
        ("canonical never holds without a final pass", "Match canonical\n  User c\n", "a", &[], (None, None, None)),
        (
            "final holds in the second pass; first values keep winning",
            "Match final\n  User f\n  Port 2\nHost a\n  Port 1\n",
            "a",
            &[],
            (Some("f"), None, Some(1)),
        ),
        (
            "canonical holds in the final pass",
            "Match final host nothing\nMatch canonical all\n  User c\n",
            "a",
            &[],
            (Some("c"), None, None),
        ),
        (
            "the final pass matches Host lines against the HostName",
            "Host a\n  HostName real.example\nHost real.example\n  User byname\nMatch final all\n",
            "a",
            &[],
            (Some("byname"), Some("real.example"), None),
        ),
        (
            "exec is not run when another criterion rules the block out",
            "Match host other exec \"touch /tmp/never\"\n  User e\n",
            "a",
            &[],
            (None, None, None),
        ),
        (
            "a Host line ends the Match block",
            "Match host nothing\n  User m\nHost *\n  User h\n",
            "a",
            &[],
            (Some("h"), None, None),
        ),
    ];
    for (what, text, host, first, (user, hostname, port)) in cases {
        let first: Vec<Setting> = first
            .iter()
            .map(|(k, v)| Setting::var(k, v, "inventory"))
            .collect();
        let h = cfg(text)
            .resolve(host, &first)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = (
            h.user.map(|u| u.value),
            h.hostname.map(|u| u.value),
            h.port.map(|p| p.value),
        );
        let want = (user.map(String::from), hostname.map(String::from), port);
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn refusals_name_the_file_and_line() {
    // (config, host, error) at resolve time: only when the outcome depends on it.
    for (text, host, want) in [
        (
            "Host *\n  User u\nMatch host a exec \"test -f /x\"\n  Port 1\n",
            "a",
            "/cfg:3: Match exec \"test -f /x\" would run a program for every connection, and kubeforge runs none from an ssh config: select these hosts with Match host/originalhost/user/localuser (or a Host block), or give the options as inventory variables (ansible_ssh_common_args: -o Option=value)",
        ),
        (
            "Match !exec true\n  Port 1\n",
            "a",
            "/cfg:1: Match exec \"true\" would run a program for every connection, and kubeforge runs none from an ssh config: select these hosts with Match host/originalhost/user/localuser (or a Host block), or give the options as inventory variables (ansible_ssh_common_args: -o Option=value)",
        ),
        (
            "Match localnetwork 10.0.0.0/8\n  Port 1\n",
            "a",
            "/cfg:1: Match localnetwork 10.0.0.0/8: kubeforge cannot decide this criterion; select these hosts with Match host/originalhost/user/localuser (or a Host block) instead",
        ),
    ] {
        let e = cfg(text).resolve(host, &[]).unwrap_err();
        assert_eq!(e.to_string(), want, "{text}");
    }
    // At read time: bad Match lines.
    for (text, want) in [
        ("Match\n", "/cfg:1: Match needs criteria (e.g. `Match host NAME`)"),
        ("Match host\n", "/cfg:1: Match host needs an argument"),
        ("Match all host a\n", "/cfg:1: Match all cannot be combined with other criteria (except a canonical or final before it)"),
        ("Match host a all\n", "/cfg:1: Match all cannot be combined with other criteria (except a canonical or final before it)"),
        ("Match hostname a\n", "/cfg:1: Match hostname: unknown criterion (ssh_config(5) has all, canonical, final, exec, host, originalhost, user, localuser, tagged, localnetwork, version, sessiontype, command)"),
    ] {
        let e = SshConfig::parse(text, Path::new("/cfg"), Path::new("/")).unwrap_err();
        assert_eq!(e.to_string(), want, "{text}");
    }
}

#[test]
fn pattern_lists() {
    for (text, list, fold, want) in [
        ("a", "a", true, true),
        ("A", "a", true, true),
        ("A", "a", false, false),
        ("web3", "web*,!web2", true, true),
        ("web2", "web*,!web2", true, false),
        ("x", "!y", true, false),
        ("x", "", true, false),
        ("x", "y,,x", true, true),
    ] {
        assert_eq!(pattern_list(text, list, fold), want, "{text} {list}");
    }
}
