//! `become` with a password, run by this machine's sh with stand-ins for `id` (a login
//! user that is not root) and `sudo` (one that wants the password, one with NOPASSWD).
//! Real sudo is exercised by tests/ssh_auth.rs.

use super::*;
use std::io::Write;
use std::process::{Command, Stdio};

const FAKE_SUDO: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case $1 in -S|-n|-H) shift ;; -p) printf '%s' "$2" >&2; shift 2 ;; -u) export KF_AS="$2"; shift 2 ;; --) shift; break ;; *) break ;; esac
done
case $FAKE_SUDO in
nopasswd) exec "$@" ;;
esac
IFS= read -r pw
[ "$pw" = "$FAKE_SUDO_PW" ] && exec "$@"
echo "Sorry, try again." >&2
echo "sudo: 1 incorrect password attempt" >&2
exit 1
"#;

struct Bin(tempfile::TempDir);

impl Bin {
    fn new(as_root: bool) -> Bin {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = d.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write("sudo", FAKE_SUDO);
        if !as_root {
            write("id", "#!/bin/sh\necho 1000\n");
        }
        Bin(d)
    }

    /// Runs `w` with `input` after its prefix: (exit code, stdout, stderr).
    fn run(&self, w: &Wrapped, input: &[u8], mode: &str) -> ExecOutput {
        let path = format!(
            "{}:{}",
            self.0.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&w.command)
            .env("PATH", path)
            .env("FAKE_SUDO", mode)
            .env("FAKE_SUDO_PW", "s3cret pass")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&w.prefix).unwrap();
        stdin.write_all(input).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        ExecOutput {
            exit_code: out.status.code().map(|c| c as u32),
            stdout: out.stdout,
            stderr: out.stderr,
            signal: None,
        }
    }
}

#[test]
fn the_password_reaches_sudo_and_nothing_else() {
    let pw = Secret::new("s3cret pass");
    let script = &b"echo out; echo err >&2\n"[..];
    // (login user is root, sudo mode, expected stdout)
    for (root, mode) in [(false, "check"), (false, "nopasswd"), (true, "check")] {
        let bin = Bin::new(root);
        let w = shell_command(&Become::Root, Some(&pw));
        assert!(
            !w.command.contains("s3cret"),
            "the password is never in a command line"
        );
        let out = bin.run(&w, script, mode);
        let out = check_sudo(out, &Become::Root, Some(&pw)).unwrap();
        // The password never reached the script (as a command it would fail loudly).
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "out\n",
            "root {root}, {mode}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "err\n",
            "root {root}, {mode}"
        );
        assert_eq!(out.exit_code, Some(0));
    }
}

#[test]
fn a_wrong_password_is_reported_as_such() {
    let bin = Bin::new(false);
    let wrong = Secret::new("wrong");
    let out = bin.run(
        &shell_command(&Become::Root, Some(&wrong)),
        b"echo never\n",
        "check",
    );
    assert!(out.stdout.is_empty());
    let e = check_sudo(out, &Become::Root, Some(&wrong)).unwrap_err();
    assert!(matches!(e, TransportError::BecomePassword(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("ansible_become_password"), "{msg}");
    assert!(msg.contains("1 incorrect password attempt"), "{msg}");
    assert!(!msg.contains("wrong"), "{msg}");
}

#[test]
fn uploads_with_a_password_write_exactly_the_input() {
    let bin = Bin::new(false);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("sub/file");
    let pw = Secret::new("s3cret pass");
    let body = b"first line\n\0binary\xff no newline";
    let w = upload_command(dest.to_str().unwrap(), 0o600, &Become::Root, Some(&pw));
    let out = bin.run(&w, body, "check");
    let out = check_sudo(out, &Become::Root, Some(&pw)).unwrap();
    assert_eq!(
        out.exit_code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}

#[test]
fn without_a_password_sudo_never_prompts_and_the_variable_is_named() {
    let w = shell_command(&Become::Root, None);
    assert!(w.command.contains("sudo -n"), "{}", w.command);
    assert!(w.prefix.is_empty());
    let out = ExecOutput {
        exit_code: Some(1),
        stderr: b"sudo: a password is required\n".to_vec(),
        ..Default::default()
    };
    let e = check_sudo(out, &Become::Root, None).unwrap_err();
    assert_eq!(e, TransportError::SudoPassword);
    assert!(e.to_string().contains("ansible_become_password"), "{e}");
    assert_eq!(format!("{:?}", Secret::new("hidden")), "********");
}

#[test]
fn become_user_runs_through_sudo_u_with_or_without_a_password() {
    let pw = Secret::new("s3cret pass");
    let script = &b"echo \"as=${KF_AS:-root} home=${HOME:+set}\"\n"[..];
    // (who, password, sudo mode, login user is root, stdout)
    for (who, password, mode, root, want) in [
        (
            Become::user("app user"),
            Some(&pw),
            "check",
            false,
            "as=app user home=set\n",
        ),
        (
            Become::user("app"),
            Some(&pw),
            "nopasswd",
            false,
            "as=app home=set\n",
        ),
        (
            Become::user("app"),
            None,
            "nopasswd",
            false,
            "as=app home=set\n",
        ),
        // From root too: sudo -u, not root's own shell.
        (
            Become::user("app"),
            None,
            "nopasswd",
            true,
            "as=app home=set\n",
        ),
        // become_user root is plain become.
        (
            Become::user("root"),
            None,
            "nopasswd",
            true,
            "as=root home=set\n",
        ),
    ] {
        let bin = Bin::new(root);
        let w = shell_command(&who, password);
        if let Become::User(u) = &who {
            assert!(w.command.contains("-H -u"), "{}", w.command);
            assert!(w.command.contains(&crate::shell::quote(u)), "{}", w.command);
        }
        let out = bin.run(&w, script, mode);
        let out = check_sudo(out, &who, password).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{who:?} {mode}");
        assert_eq!(out.exit_code, Some(0));
    }
    // A wrong password for sudo -u is reported as for root.
    let bin = Bin::new(false);
    let wrong = Secret::new("wrong");
    let who = Become::user("app");
    let out = bin.run(&shell_command(&who, Some(&wrong)), b"echo never\n", "check");
    let e = check_sudo(out, &who, Some(&wrong)).unwrap_err();
    assert!(matches!(e, TransportError::BecomePassword(_)), "{e:?}");
}
