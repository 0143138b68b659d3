//! Typed access to a module's rendered arguments, with errors naming the argument.

use super::ModuleError;
use serde_json::Value;

/// A module's arguments after rendering.
pub struct Args<'a> {
    module: &'a str,
    v: &'a Value,
}

impl<'a> Args<'a> {
    /// Wraps rendered arguments.
    pub fn new(module: &'a str, v: &'a Value) -> Self {
        Args { module, v }
    }

    /// All arguments as given.
    pub fn value(&self) -> &'a Value {
        self.v
    }

    /// The raw value of an argument.
    pub fn raw(&self, k: &str) -> Option<&'a Value> {
        self.v.get(k).filter(|v| !v.is_null())
    }

    /// A string argument (numbers and booleans are turned into text). A NUL byte is
    /// refused: no path, word or file line can hold one.
    pub fn str(&self, k: &str) -> Result<Option<String>, ModuleError> {
        Ok(match self.raw(k) {
            None => None,
            Some(Value::String(s)) if s.contains('\0') => {
                return Err(self.err(k, "contains a NUL byte, which no shell word can hold"))
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(other) => return Err(self.err(k, &format!("must be text, got {other}"))),
        })
    }

    /// A required string argument.
    pub fn req(&self, k: &str) -> Result<String, ModuleError> {
        self.str(k)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.err(k, "is required"))
    }

    /// A string argument with a default.
    pub fn str_or(&self, k: &str, d: &str) -> Result<String, ModuleError> {
        Ok(self.str(k)?.unwrap_or_else(|| d.to_string()))
    }

    /// A boolean argument with Ansible's spellings.
    pub fn bool(&self, k: &str, d: bool) -> Result<bool, ModuleError> {
        match self.raw(k) {
            None => Ok(d),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => {
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
                    .to_ascii_lowercase();
                match s.as_str() {
                    "yes" | "true" | "on" | "1" => Ok(true),
                    "no" | "false" | "off" | "0" => Ok(false),
                    _ => Err(self.err(k, &format!("must be true or false, got '{s}'"))),
                }
            }
        }
    }

    /// A whole-number argument.
    pub fn uint(&self, k: &str, d: u64) -> Result<u64, ModuleError> {
        match self.raw(k) {
            None => Ok(d),
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| self.err(k, "must be a whole number")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| self.err(k, &format!("must be a whole number, got '{s}'"))),
            Some(other) => Err(self.err(k, &format!("must be a whole number, got {other}"))),
        }
    }

    /// A file mode: octal text such as "0644" (a number is read as written: 644 means 0644).
    pub fn mode(&self, k: &str) -> Result<String, ModuleError> {
        let Some(m) = self.str(k)? else {
            return Ok(String::new());
        };
        let t = m.trim();
        if t.is_empty() || t.len() > 5 || !t.chars().all(|c| ('0'..='7').contains(&c)) {
            return Err(self.err(
                k,
                &format!("'{m}' is not an octal mode; write it quoted, e.g. \"0644\""),
            ));
        }
        let digits = t.trim_start_matches('0');
        Ok(if digits.is_empty() {
            "0".to_string()
        } else {
            format!("0{digits}")
        })
    }

    /// A user or group name (or numeric id) for owner/group arguments; empty = unset.
    pub fn account(&self, k: &str) -> Result<String, ModuleError> {
        let v = self.str_or(k, "")?;
        let ok = v.is_empty()
            || (!v.starts_with('-')
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-$".contains(c)));
        if ok {
            Ok(v)
        } else {
            Err(self.err(k, &format!("'{v}' is not a user or group name")))
        }
    }

    /// One of a set of values.
    pub fn choice(&self, k: &str, d: &str, allowed: &[&str]) -> Result<String, ModuleError> {
        let v = self.str_or(k, d)?;
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(self.err(k, &format!("'{v}' is not one of {}", allowed.join(", "))))
        }
    }

    /// An error naming the module and argument.
    pub fn err(&self, k: &str, what: &str) -> ModuleError {
        ModuleError(format!("{}: {k} {what}", self.module))
    }
}
