//! Lookups on the controller: env, file and password (generated once, stored 0600).

use minijinja::value::Rest;
use minijinja::{Error, ErrorKind, Value};
use std::path::Path;

pub(super) fn lookup(name: String, args: Rest<String>) -> Result<Value, Error> {
    let first = args.first().cloned().unwrap_or_default();
    match name.as_str() {
        "env" => Ok(Value::from(std::env::var(&first).unwrap_or_default())),
        "file" => std::fs::read_to_string(&first)
            .map(|s| Value::from(s.trim_end_matches('\n').to_string()))
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("lookup('file', '{first}'): {e}"),
                )
            }),
        "password" => password_lookup(&first).map(Value::from),
        other => Err(Error::new(
            ErrorKind::UnknownFunction,
            format!("lookup plugin '{other}' is not provided by kubeforge (supported: env, file, password)"),
        )),
    }
}

pub(super) fn query(name: String, args: Rest<String>) -> Result<Value, Error> {
    let v = lookup(name, args)?;
    Ok(Value::from(vec![v]))
}

/// `lookup('password', 'PATH length=N chars=...')`: generated once, stored at PATH
/// with mode 0600, and read back on every later run.
fn password_lookup(spec: &str) -> Result<String, Error> {
    let mut parts = spec.split_whitespace();
    let path = parts.next().unwrap_or("");
    let mut length = 20usize;
    let mut charset: Vec<char> = Vec::new();
    for p in parts {
        if let Some(n) = p.strip_prefix("length=") {
            length = n.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("password lookup: bad length '{n}'"),
                )
            })?;
        } else if let Some(c) = p.strip_prefix("chars=") {
            for set in c.split(',') {
                match set {
                    "hexdigits" => charset.extend("0123456789abcdefABCDEF".chars()),
                    "digits" => charset.extend('0'..='9'),
                    "ascii_letters" => charset.extend(('a'..='z').chain('A'..='Z')),
                    "ascii_lowercase" => charset.extend('a'..='z'),
                    "ascii_uppercase" => charset.extend('A'..='Z'),
                    "punctuation" => charset.extend(".,:-_".chars()),
                    other => charset.extend(other.chars()),
                }
            }
        } else if p == "/dev/null" {
            // Ansible's "/dev/null" path: generate but never store.
        }
    }
    if charset.is_empty() {
        charset.extend(
            ('a'..='z')
                .chain('A'..='Z')
                .chain('0'..='9')
                .chain(".,:-_".chars()),
        );
    }
    if path.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "password lookup needs a path",
        ));
    }
    let p = Path::new(path);
    if p.exists() && path != "/dev/null" {
        let s = std::fs::read_to_string(p).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("password lookup: {path}: {e}"),
            )
        })?;
        // Ansible stores "secret salt=..." on one line; the secret is the first word.
        return Ok(s.split_whitespace().next().unwrap_or("").to_string());
    }
    use rand::Rng;
    let mut rng = rand::rng();
    let secret: String = (0..length)
        .map(|_| charset[rng.random_range(0..charset.len())])
        .collect();
    if path != "/dev/null" {
        write_secret(p, &secret).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("password lookup: cannot store {path}: {e}"),
            )
        })?;
    }
    Ok(secret)
}

fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(tmp, "{secret}")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::template::env;

    #[test]
    fn password_lookup_is_generated_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds/key.creds");
        let spec = format!("{} length=64 chars=hexdigits", path.display());
        let a = password_lookup(&spec).unwrap();
        let b = password_lookup(&spec).unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, b);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn unknown_lookup_names_itself() {
        let err = env()
            .compile_expression("lookup('k8s', 'x')")
            .unwrap()
            .eval(())
            .unwrap_err();
        assert!(err.to_string().contains("lookup plugin 'k8s'"), "{err}");
    }
}
