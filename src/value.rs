//! Values that JSON cannot hold directly, kept inside `serde_json::Value` as one-key
//! objects (the way Ansible's own JSON encoder tags vault and unsafe values): text that
//! must never be templated (`!unsafe`, decrypted vault values), vault ciphertext with no
//! password, integers beyond 64 bits, and the floats inf/nan.

use serde_json::{Map, Value};

/// How a vault password is given (named in every vault error).
pub const VAULT_HOW: &str = "--vault-password-file FILE (or ANSIBLE_VAULT_PASSWORD_FILE)";

/// Key of a value that is never templated (YAML `!unsafe`, a decrypted `!vault`).
pub const UNSAFE: &str = "__ansible_unsafe";
/// Key of a `!vault` value that could not be decrypted (no password given).
pub const VAULT: &str = "__ansible_vault";
/// Key of an integer beyond 64 bits, as its decimal digits.
pub const BIG_INT: &str = "__kubeforge_int";
/// Key of a non-finite float: `inf`, `-inf` or `nan`.
pub const FLOAT: &str = "__kubeforge_float";

/// One of the tagged values, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Special<'a> {
    /// Never templated; the inner value is used as it is.
    Unsafe(&'a Value),
    /// Vault ciphertext that no password has opened.
    Vault(&'a str),
    /// An integer beyond 64 bits (decimal digits, optional '-').
    BigInt(&'a str),
    /// inf, -inf or nan.
    Float(f64),
}

fn tagged(key: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.to_string(), v);
    Value::Object(m)
}

/// A value that is never templated.
pub fn unsafe_value(v: Value) -> Value {
    tagged(UNSAFE, v)
}

/// Vault ciphertext kept locked.
pub fn vault(ciphertext: &str) -> Value {
    tagged(VAULT, Value::String(ciphertext.to_string()))
}

/// An integer given as decimal digits: a JSON number when it fits 64 bits.
pub fn int_from_digits(digits: &str) -> Value {
    if let Ok(i) = digits.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = digits.parse::<u64>() {
        return Value::from(u);
    }
    tagged(BIG_INT, Value::String(digits.to_string()))
}

/// A float: a JSON number when finite, else tagged.
pub fn float(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => {
            let text = if f.is_nan() {
                "nan"
            } else if f > 0.0 {
                "inf"
            } else {
                "-inf"
            };
            tagged(FLOAT, Value::String(text.into()))
        }
    }
}

/// The tagged value inside `v`, if it is one.
pub fn special(v: &Value) -> Option<Special<'_>> {
    let Value::Object(m) = v else { return None };
    if m.len() != 1 {
        return None;
    }
    let (k, inner) = m.iter().next()?;
    match (k.as_str(), inner) {
        (UNSAFE, inner) => Some(Special::Unsafe(inner)),
        (VAULT, Value::String(s)) => Some(Special::Vault(s)),
        (BIG_INT, Value::String(s)) => Some(Special::BigInt(s)),
        (FLOAT, Value::String(s)) => Some(Special::Float(match s.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            _ => f64::NAN,
        })),
        _ => None,
    }
}

/// True when a vault value no password opened sits anywhere inside `v`.
pub fn has_locked_vault(v: &Value) -> bool {
    match special(v) {
        Some(Special::Vault(_)) => true,
        Some(_) => false,
        None => match v {
            Value::Array(items) => items.iter().any(has_locked_vault),
            Value::Object(m) => m.values().any(has_locked_vault),
            _ => false,
        },
    }
}

/// The value as plain JSON for output: unsafe values unwrapped, big integers and
/// non-finite floats as `placeholder(text)` (the caller writes them as bare tokens),
/// locked vault values as `masked`.
pub fn for_output(v: &Value, masked: &Value, placeholder: &dyn Fn(&str) -> Value) -> Value {
    match special(v) {
        Some(Special::Unsafe(inner)) => for_output(inner, masked, placeholder),
        Some(Special::Vault(_)) => masked.clone(),
        Some(Special::BigInt(d)) => placeholder(d),
        Some(Special::Float(f)) => placeholder(if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        }),
        None => match v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| for_output(i, masked, placeholder))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, i)| (k.clone(), for_output(i, masked, placeholder)))
                    .collect(),
            ),
            other => other.clone(),
        },
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent as `e+16`/`e-05`.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let s = format!("{f:?}");
    match s.split_once('e') {
        Some((mant, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mant}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        assert_eq!(int_from_digits("42"), Value::from(42));
        assert_eq!(
            int_from_digits("18446744073709551615"),
            Value::from(u64::MAX)
        );
        let big = int_from_digits("123456789012345678901234567890");
        assert_eq!(
            special(&big),
            Some(Special::BigInt("123456789012345678901234567890"))
        );
        assert!(
            matches!(special(&float(f64::INFINITY)), Some(Special::Float(f)) if f.is_infinite())
        );
        assert!(has_locked_vault(&Value::Array(vec![vault("x")])));
        assert!(special(&Value::from("x")).is_none());
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(python_float_repr(1.5), "1.5");
        assert_eq!(python_float_repr(1e16), "1e+16");
        assert_eq!(python_float_repr(1e-5), "1e-05");
        assert_eq!(python_float_repr(1000.0), "1000.0");
    }
}
