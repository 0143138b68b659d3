//! Ansible Vault, formats 1.1 and 1.2 with AES256: `!vault` values and whole encrypted
//! files, opened with `--vault-password-file FILE` or `ANSIBLE_VAULT_PASSWORD_FILE`.
//! PBKDF2-HMAC-SHA256 (10000 rounds) gives the AES-256 key, the HMAC key and the CTR
//! counter; the HMAC-SHA256 of the ciphertext is checked before anything is decrypted.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::path::{Path, PathBuf};

type HmacSha256 = hmac::Hmac<sha2_v11::Sha256>;
type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// The flag and variable that give the password (named in every vault error).
pub const HOW: &str = crate::value::VAULT_HOW;

/// A vault password (never printed).
#[derive(Clone)]
pub struct Password(Vec<u8>);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(********)")
    }
}

/// Why vault text cannot be opened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VaultError {
    /// Not `$ANSIBLE_VAULT;1.1;AES256` / `1.2;AES256;label` followed by hex.
    #[error("not a vault payload: {0}")]
    Format(String),
    /// The HMAC does not match: another password (or damaged text).
    #[error("the vault password does not open it (HMAC mismatch)")]
    WrongPassword,
    /// The password file could not be read or run.
    #[error("cannot read the vault password from {path}: {message}")]
    PasswordFile {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl Password {
    /// A password from bytes (tests).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Password {
        Password(bytes.into())
    }

    /// Reads a password file as Ansible does: an executable file is run and its
    /// standard output used; either way surrounding newlines are dropped.
    pub fn from_file(path: &Path) -> Result<Password, VaultError> {
        let fail = |message: String| VaultError::PasswordFile {
            path: path.display().to_string(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
        let executable = {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode() & 0o111 != 0
        };
        let bytes = if executable {
            let out = std::process::Command::new(absolute(path))
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| fail(format!("running it failed: {e}")))?;
            if !out.status.success() {
                return Err(fail(format!(
                    "the script exited with {}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            out.stdout
        } else {
            std::fs::read(path).map_err(|e| fail(e.to_string()))?
        };
        let text: &[u8] = trim_newlines(&bytes);
        if text.is_empty() {
            return Err(fail("it is empty".into()));
        }
        Ok(Password(text.to_vec()))
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn trim_newlines(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b'\r' | b'\n'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b'\r' | b'\n'))
        .map_or(start, |i| i + 1);
    &b[start..end.max(start)]
}

/// True when the text is vault-encrypted (a whole file or a `!vault` value).
pub fn is_vault(text: &str) -> bool {
    text.trim_start().starts_with("$ANSIBLE_VAULT;")
}

/// Decrypts vault text (header line, then hex lines) with the password.
pub fn decrypt(text: &str, password: &Password) -> Result<Vec<u8>, VaultError> {
    let mut lines = text.trim().lines();
    let header = lines.next().unwrap_or("");
    let fields: Vec<&str> = header.trim().split(';').collect();
    match fields.as_slice() {
        ["$ANSIBLE_VAULT", "1.1" | "1.2", cipher, ..] if cipher.trim() == "AES256" => {}
        ["$ANSIBLE_VAULT", version, cipher, ..] => {
            return Err(VaultError::Format(format!(
                "vault format {version} with cipher {cipher} is not supported (only 1.1 and 1.2 with AES256)"
            )))
        }
        _ => return Err(VaultError::Format("no $ANSIBLE_VAULT header".into())),
    }
    let body: String = lines.map(str::trim).collect();
    let inner =
        hex::decode(body).map_err(|e| VaultError::Format(format!("body is not hex: {e}")))?;
    let inner =
        String::from_utf8(inner).map_err(|_| VaultError::Format("body is not text".into()))?;
    let parts: Vec<&str> = inner.split('\n').collect();
    let [salt, mac, ciphertext] = parts[..] else {
        return Err(VaultError::Format(
            "expected salt, HMAC and ciphertext".into(),
        ));
    };
    let hexed = |s: &str| hex::decode(s.trim()).map_err(|e| VaultError::Format(e.to_string()));
    let (salt, mac, mut data) = (hexed(salt)?, hexed(mac)?, hexed(ciphertext)?);
    let mut keys = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<sha2_v11::Sha256>(&password.0, &salt, 10_000, &mut keys);
    let (key, rest) = keys.split_at(32);
    let (hmac_key, iv) = rest.split_at(32);
    let mut check = <HmacSha256 as KeyInit>::new_from_slice(hmac_key)
        .map_err(|_| VaultError::Format("bad HMAC key length".into()))?;
    check.update(&data);
    check
        .verify_slice(&mac)
        .map_err(|_| VaultError::WrongPassword)?;
    let mut cipher = Aes256Ctr::new_from_slices(key, iv)
        .map_err(|_| VaultError::Format("bad key length".into()))?;
    cipher.apply_keystream(&mut data);
    // PKCS#7 padding to the AES block size.
    let pad = usize::from(*data.last().ok_or(VaultError::WrongPassword)?);
    if pad == 0 || pad > 16 || pad > data.len() {
        return Err(VaultError::Format("bad padding".into()));
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

/// Encrypts as `ansible-vault encrypt_string` does (format 1.1, AES256, a random salt):
/// the text of a `!vault |` value or an encrypted file.
pub fn encrypt(plaintext: &[u8], password: &Password) -> String {
    use rand::Rng;
    let salt: [u8; 32] = rand::rng().random();
    let mut keys = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<sha2_v11::Sha256>(&password.0, &salt, 10_000, &mut keys);
    let (key, rest) = keys.split_at(32);
    let (hmac_key, iv) = rest.split_at(32);
    // PKCS#7 padding to the AES block size.
    let pad = 16 - plaintext.len() % 16;
    let mut data = plaintext.to_vec();
    data.extend(std::iter::repeat_n(pad as u8, pad));
    if let Ok(mut cipher) = Aes256Ctr::new_from_slices(key, iv) {
        cipher.apply_keystream(&mut data);
    }
    let mac = match <HmacSha256 as KeyInit>::new_from_slice(hmac_key) {
        Ok(mut m) => {
            m.update(&data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(salt),
        hex::encode(mac),
        hex::encode(&data)
    );
    let body = hex::encode(inner);
    let mut out = String::from("$ANSIBLE_VAULT;1.1;AES256");
    for chunk in body.as_bytes().chunks(80) {
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(chunk));
    }
    out
}

/// Opens every `!vault` value inside `v` with the password: the plaintext becomes an
/// untemplated string, as Ansible keeps vaulted text. Without a password the values
/// stay locked (an error only where one is used).
pub fn open_values(v: &mut Value, password: Option<&Password>) -> Result<(), VaultError> {
    let Some(password) = password else {
        return Ok(());
    };
    match crate::value::special(v) {
        Some(crate::value::Special::Vault(text)) => {
            let plain = decrypt(text, password)?;
            *v = crate::value::unsafe_value(Value::String(
                String::from_utf8_lossy(&plain).into_owned(),
            ));
            Ok(())
        }
        Some(_) => Ok(()),
        None => match v {
            Value::Array(items) => items
                .iter_mut()
                .try_for_each(|i| open_values(i, Some(password))),
            Value::Object(m) => m
                .values_mut()
                .try_for_each(|i| open_values(i, Some(password))),
            _ => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with ansible-vault 2.18 (`encrypt_string`), password "pw" (test-only).
    const SAMPLE: &str = "$ANSIBLE_VAULT;1.1;AES256
          62366334396363363061343137363561373038316161363237313731356532396666323339643430
          3463313232623031333532646139303961313235333932640a636239306537623263623164613433
          39323162383266666134353434356134323464616461666530326538306137653132346132656339
          3332623734376131300a663834366661366337356331656332363930343662656138343364396639
          3161";
    const SAMPLE_12: &str = "$ANSIBLE_VAULT;1.2;AES256;lbl
31303261396466613034646236656465373339376338626665633237643330353963646235366262
6132636662326331373135353465303536303063336261340a396333623230333765366164623065
63326362623362666235656438353163303033366133336565386665633530336166343663656165
3830383664663362390a643734303864373762343537346632383865386564353938336165373464
3837";

    #[test]
    fn encrypted_text_opens_again() {
        let pw = Password::new("test-only");
        for text in [&b""[..], b"sixteen bytes!!!", b"a sudo password"] {
            let v = encrypt(text, &pw);
            assert!(v.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{v}");
            assert!(v.lines().skip(1).all(|l| l.len() <= 80));
            assert_eq!(decrypt(&v, &pw).unwrap(), text);
            assert_eq!(
                decrypt(&v, &Password::new("other")),
                Err(VaultError::WrongPassword)
            );
        }
    }

    #[test]
    fn decrypts_formats_1_1_and_1_2() {
        let pw = Password::new("pw");
        assert_eq!(decrypt(SAMPLE, &pw).unwrap(), b"hello vault");
        assert_eq!(decrypt(SAMPLE_12, &pw).unwrap(), b"label 1.2");
    }

    #[test]
    fn header_and_body_are_checked() {
        assert!(is_vault(SAMPLE));
        assert!(matches!(
            decrypt("$ANSIBLE_VAULT;2.0;AES\n00", &Password::new("x")),
            Err(VaultError::Format(_))
        ));
        assert!(matches!(
            decrypt("plain", &Password::new("x")),
            Err(VaultError::Format(_))
        ));
        assert_eq!(trim_newlines(b"\npw\r\n"), b"pw");
    }

    #[test]
    fn wrong_password_is_refused() {
        assert_eq!(
            decrypt(SAMPLE, &Password::new("not-it")),
            Err(VaultError::WrongPassword)
        );
    }
}
