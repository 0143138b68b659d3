use super::*;
use crate::report::events::Counts;
use quick_xml::events::Event as X;
use quick_xml::Reader;

fn step(host: &str, play: &str, task: &str, status: Status) -> Event {
    Event::StepResult {
        host: host.into(),
        play: play.into(),
        task: task.into(),
        role: None,
        status,
        changed: status == Status::Changed,
        duration_ms: 1250,
        started_ms: 0,
        error: matches!(status, Status::Failed | Status::Unreachable)
            .then(|| format!("{task} went wrong\nsecond line")),
        msg: None,
        diff: None,
        ignored: false,
    }
}

fn play(name: &str, hosts: &[&str]) -> Event {
    Event::PlayStart {
        play: name.into(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
    }
}

fn recap(interrupted: bool) -> Event {
    Event::Recap {
        hosts: BTreeMap::from([("h1".to_string(), Counts::default())]),
        duration_ms: 4321,
        exit_code: 2,
        interrupted,
    }
}

/// An element: its path from the root and its attributes.
type El = (String, BTreeMap<String, String>);

/// (element path, attributes) of every element, in document order.
fn elements(xml: &[u8]) -> Vec<El> {
    let mut r = Reader::from_reader(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        let (e, empty) = match r.read_event().unwrap() {
            X::Start(e) => (e, false),
            X::Empty(e) => (e, true),
            X::End(_) => {
                stack.pop();
                continue;
            }
            X::Eof => break,
            _ => continue,
        };
        let attrs = e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                let v = a.normalized_value(quick_xml::XmlVersion::Implicit1_0);
                (a.key.as_ref().to_string(), v.unwrap().into_owned())
            })
            .collect();
        stack.push(e.name().as_ref().to_string());
        out.push((stack.join("/"), attrs));
        if empty {
            stack.pop();
        }
    }
    out
}

fn report(events: &[Event]) -> (String, Vec<El>) {
    let mut j = Junit::new();
    for e in events {
        j.event(e);
    }
    let xml = j.to_xml().unwrap();
    (String::from_utf8(xml.clone()).unwrap(), elements(&xml))
}

fn cases(els: &[El]) -> Vec<(String, String)> {
    els.iter()
        .filter(|(p, _)| p.ends_with("/testcase"))
        .map(|(_, a)| (a["classname"].clone(), a["name"].clone()))
        .collect()
}

#[test]
fn one_suite_per_play_one_case_per_host_and_task() {
    let (xml, els) = report(&[
        Event::RunStart {
            playbook: "playbooks/cluster.yml".into(),
            hosts: vec!["h1".into(), "h2".into()],
            check: false,
        },
        play("etcd", &["h1", "h2"]),
        step("h1", "etcd", "install etcd", Status::Changed),
        step("h2", "etcd", "install etcd", Status::Failed),
        Event::HostStopped {
            host: "h2".into(),
            reason: "failed: install etcd went wrong".into(),
        },
        play("nodes", &["h1"]),
        step("h1", "nodes", "kubelet", Status::Skipped),
        step("h1", "nodes", "containerd", Status::Ok),
        recap(false),
    ]);
    let root = &els[0].1;
    assert_eq!(els[0].0, "testsuites");
    assert_eq!(root["tests"], "4");
    assert_eq!(root["failures"], "1");
    assert_eq!(root["errors"], "0");
    assert_eq!(root["time"], "4.321");
    assert_eq!(root["name"], "kubeforge playbooks/cluster.yml");
    let suites: Vec<&BTreeMap<String, String>> = els
        .iter()
        .filter(|(p, _)| p == "testsuites/testsuite")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(suites.len(), 2);
    assert_eq!(
        (suites[0]["name"].as_str(), suites[0]["tests"].as_str()),
        ("etcd", "2")
    );
    assert_eq!(suites[0]["failures"], "1");
    assert_eq!(suites[1]["skipped"], "1");
    assert_eq!(
        cases(&els),
        [
            ("h1".to_string(), "install etcd".to_string()),
            ("h2".into(), "install etcd".into()),
            ("h1".into(), "kubelet".into()),
            ("h1".into(), "containerd".into()),
        ]
    );
    let failure = els
        .iter()
        .find(|(p, _)| p.ends_with("testcase/failure"))
        .unwrap();
    assert_eq!(failure.1["message"], "install etcd went wrong");
    assert_eq!(failure.1["type"], "failed");
    assert!(
        xml.contains("install etcd went wrong\nsecond line</failure>"),
        "{xml}"
    );
    assert!(xml.contains("time=\"1.250\""), "{xml}");
    // The failed host's own step says why it left: no extra `stopped` case.
    assert!(!xml.contains("name=\"stopped\""), "{xml}");
    assert!(xml.contains("<property name=\"playbook\" value=\"playbooks/cluster.yml\"/>"));
}

#[test]
fn unreachable_is_an_error_and_not_reported_twice() {
    let (xml, els) = report(&[
        play("p", &["h1", "h3"]),
        step("h3", "p", "first task", Status::Unreachable),
        Event::HostStopped {
            host: "h3".into(),
            reason: "unreachable: connection refused".into(),
        },
        step("h1", "p", "first task", Status::Ok),
        recap(false),
    ]);
    let err = els
        .iter()
        .find(|(p, _)| p.ends_with("testcase/error"))
        .unwrap();
    assert_eq!(err.1["type"], "unreachable");
    assert_eq!(els[0].1["errors"], "1");
    assert_eq!(cases(&els).len(), 2, "{xml}");
}

#[test]
fn hosts_stopped_without_a_failing_step_of_their_own_get_a_stopped_case() {
    let (xml, els) = report(&[
        play("p", &["h1", "h2", "h3"]),
        step("h1", "p", "t", Status::Failed),
        Event::HostStopped {
            host: "h1".into(),
            reason: "failed: t".into(),
        },
        Event::HostStopped {
            host: "h2".into(),
            reason: "stopped: max_fail_percentage 0 exceeded in play p".into(),
        },
        Event::HostStopped {
            host: "h3".into(),
            reason: "failed: gathering facts: no python".into(),
        },
        recap(false),
    ]);
    let c = cases(&els);
    assert!(c.contains(&("h2".into(), STOPPED_CASE.into())), "{xml}");
    assert!(c.contains(&("h3".into(), STOPPED_CASE.into())), "{xml}");
    assert!(
        xml.contains("<skipped message=\"stopped: max_fail_percentage 0 exceeded in play p\"/>"),
        "{xml}"
    );
    assert!(
        xml.contains("message=\"failed: gathering facts: no python\""),
        "{xml}"
    );
    assert_eq!(els[0].1["failures"], "2");
}

#[test]
fn text_is_escaped_and_cleaned_of_what_xml_cannot_carry() {
    let mut ev = step("h<1>", "p&q", "say \"hi\"", Status::Failed);
    if let Event::StepResult { error, msg, .. } = &mut ev {
        *error = Some("\u{1b}[31mred\u{1b}[0m & <bold>\u{0}nul".into());
        *msg = Some("stdout: ok".into());
    }
    let (xml, els) = report(&[play("p&q", &["h<1>"]), ev, recap(false)]);
    let f = els.iter().find(|(p, _)| p.ends_with("failure")).unwrap();
    assert_eq!(f.1["message"], "red & <bold>\u{fffd}nul");
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}'));
    assert_eq!(
        cases(&els),
        [("h<1>".to_string(), "say \"hi\"".to_string())]
    );
    assert!(xml.contains("stdout: ok"), "{xml}");
}

#[test]
fn ignored_failures_pass_and_say_so() {
    let mut ev = step("h1", "p", "t", Status::Failed);
    if let Event::StepResult { ignored, .. } = &mut ev {
        *ignored = true;
    }
    let (xml, els) = report(&[play("p", &["h1"]), ev, recap(false)]);
    assert_eq!(els[0].1["failures"], "0");
    assert!(
        xml.contains("failed, ignored (ignore_errors): t went wrong"),
        "{xml}"
    );
}

#[test]
fn interrupted_runs_end_with_an_error_case() {
    let (xml, els) = report(&[play("p", &["h1"]), recap(true)]);
    assert_eq!(els[0].1["errors"], "1");
    assert!(xml.contains("type=\"interrupted\""), "{xml}");
}

#[test]
fn repeated_play_names_get_a_suite_each() {
    let (_, els) = report(&[
        play("p", &["h1"]),
        step("h1", "p", "a", Status::Ok),
        play("p", &["h1"]),
        step("h1", "p", "b", Status::Ok),
        recap(false),
    ]);
    let suites: Vec<&String> = els
        .iter()
        .filter(|(p, _)| p == "testsuites/testsuite")
        .map(|(_, a)| &a["tests"])
        .collect();
    assert_eq!(suites, ["1", "1"]);
}

#[test]
fn the_placeholder_is_a_report_with_one_error() {
    let xml = unfinished().unwrap();
    let els = elements(&xml);
    assert_eq!(els[0].1["errors"], "1");
    assert!(String::from_utf8(xml)
        .unwrap()
        .contains("the run did not finish"));
}

#[test]
fn seconds_and_timestamps() {
    assert_eq!(secs(0), "0.000");
    assert_eq!(secs(61_005), "61.005");
    let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400 + 3_661);
    assert_eq!(timestamp(t), "1970-01-02T01:01:01");
}
