//! `become_user` / `become_method` keywords: where they may be written and how the
//! inner ones win (task, then block, then role entry, then play).

use super::*;

#[test]
fn inner_keywords_win_over_outer_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("roles/r/tasks")).unwrap();
    std::fs::write(
        d.join("roles/r/tasks/main.yml"),
        "- {name: role plain, command: id}\n- {name: role own, command: id, become_user: own}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("play.yml"),
        "- hosts: all\n  become: true\n  become_user: \"{{ play_user }}\"\n  become_method: sudo\n  roles:\n    - {role: r, become_user: by-role}\n  tasks:\n    - {name: plain, command: id}\n    - {name: own, command: id, become_user: task, become_method: su}\n    - block:\n        - {name: in block, command: id}\n        - {name: own in block, command: id, become_user: inner}\n      become_user: by-block\n",
    )
    .unwrap();
    let book = load(&d.join("play.yml")).unwrap();
    let play = &book.plays[0];
    let role = &book.roles["r"];
    let as_run = |t: &Task| {
        let b = t.become_as.or(&play.become_as);
        (
            t.name.clone(),
            b.user.unwrap_or_default(),
            b.method.unwrap_or_default(),
        )
    };
    let mut got: Vec<(String, String, String)> = play.tasks.iter().map(as_run).collect();
    got.extend(role.tasks.iter().map(|t| as_run(&play.roles[0].apply(t))));
    let want = [
        ("plain", "{{ play_user }}", "sudo"),
        ("own", "task", "su"),
        ("in block", "by-block", "sudo"),
        ("own in block", "inner", "sudo"),
        ("role plain", "by-role", "sudo"),
        ("role own", "own", "sudo"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_non_string_become_user_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("play.yml");
    std::fs::write(
        &p,
        "- hosts: all\n  tasks:\n    - {name: t, command: id, become_user: [a, b]}\n",
    )
    .unwrap();
    let e = load(&p).unwrap_err();
    assert!(e.location.to_string().ends_with("play.yml:3"), "{e}");
    assert!(e.message.contains("become_user"), "{e}");
}
