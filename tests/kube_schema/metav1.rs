// Scalar wire types shared by every Kubernetes config API, mirrored from
// kubernetes/kubernetes (facts only, no Go code copied):
//   staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go     @ 007b1173faf533318108a04b3fdc227173aa4cb1 (TypeMeta)
//   staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/duration.go  @ 819ecd4dbe6afbaa4f6227d22b9c46938d48e603 (Duration)
//   staging/src/k8s.io/component-base/logs/api/v1/types.go        @ 008b3652959ca58af8be3fb5b6ecfe9ae7638282 (TimeOrMetaDuration)
//   cmd/kubeadm/app/apis/bootstraptoken/v1/types.go               @ 2d350a359e7b251ffa047415af6bf64350f41888 (BootstrapTokenString)
//
// Wire formats (what the Go UnmarshalJSON accepts):
//   int32/int64/uint32/float32/float64/bool  a plain JSON number/boolean; a quoted "6443" is a string
//                        and refused (Int32, Int64, Uint32, Float32, Float64, Bool below).
//   metav1.Duration      a JSON string parsed by Go's time.ParseDuration ("10s", "1m30s", "0s", "0").
//                        A number is rejected ("cannot unmarshal number into ... string").
//   metav1.Time          a JSON string in RFC 3339 form, or null.
//   resource.Quantity    a JSON string ("100Mi", "250m", "1e3") or a JSON number.
//   TimeOrMetaDuration   a duration string, or an integer number of nanoseconds.
//   BootstrapTokenString a string "[a-z0-9]{6}.[a-z0-9]{16}".

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// Parses a Go `time.ParseDuration` string and returns nanoseconds.
/// Grammar: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or exactly `0`; units ns, us, µs, μs, ms, s, m, h.
pub fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let bad = || format!("time: invalid duration {orig:?}");
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            neg = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    let mut total_int: u128 = 0;
    while !s.is_empty() {
        let b = s.as_bytes()[0];
        if !(b == b'.' || b.is_ascii_digit()) {
            return Err(bad());
        }
        let int_len = s.bytes().take_while(|c| c.is_ascii_digit()).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let pre = int_len > 0;
        let mut frac_part = "";
        let mut post = false;
        if s.starts_with('.') {
            s = &s[1..];
            let frac_len = s.bytes().take_while(|c| c.is_ascii_digit()).count();
            frac_part = &s[..frac_len];
            post = frac_len > 0;
            s = &s[frac_len..];
        }
        if !pre && !post {
            return Err(bad());
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {orig:?}"));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{00b5}s" | "\u{03bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {orig:?}")),
        };
        let v: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<u128>().map_err(|_| bad())?
        };
        total_int = total_int
            .checked_add(v.checked_mul(nanos_per_unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        if !frac_part.is_empty() {
            let f: f64 = format!("0.{frac_part}").parse().map_err(|_| bad())?;
            total += f * nanos_per_unit as f64;
        }
        if total_int + total as u128 > (1u128 << 63) {
            return Err(bad());
        }
    }
    let n = total_int + total as u128;
    if n == (1u128 << 63) && !neg {
        return Err(bad());
    }
    Ok(if neg { -(n as i128) } else { n as i128 })
}

/// metav1.Duration: serialized as a Go duration string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration(pub String);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Go duration string such as \"10s\" or \"1m30s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_go_duration(v).map_err(E::custom)?;
                Ok(Duration(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// metav1.Time: an RFC 3339 timestamp string (null is accepted by Option<Time>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Time(pub String);

fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        r.clone()
            .all(|i| b.get(i).is_some_and(|c| c.is_ascii_digit()))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
    {
        return false;
    }
    if b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+') | Some(b'-') => {
            i + 6 == b.len() && digits(i + 1..i + 3) && b[i + 3] == b':' && digits(i + 4..i + 6)
        }
        _ => false,
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Time, E> {
                if is_rfc3339(v) {
                    Ok(Time(v.to_string()))
                } else {
                    Err(E::custom(format!("{v:?} is not an RFC 3339 timestamp")))
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// resource.Quantity (and resource.QuantityValue): a quantity string or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantity {
    Str(String),
    Int(i128),
    Float(f64),
}

/// Checks the text form of a resource.Quantity: sign, decimal number, then one suffix
/// (n u m "" k M G T P E, Ki Mi Gi Ti Pi Ei) or a decimal exponent (e/E followed by an integer).
pub fn is_quantity(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let num_len = s
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let (num, suffix) = s.split_at(num_len);
    if num.is_empty() || num.matches('.').count() > 1 || !num.bytes().any(|c| c.is_ascii_digit()) {
        return false;
    }
    match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti"
        | "Pi" | "Ei" => true,
        _ => {
            let Some(exp) = suffix.strip_prefix(['e', 'E']) else {
                return false;
            };
            let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !exp.is_empty() && exp.bytes().all(|c| c.is_ascii_digit())
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a resource quantity (string such as \"100Mi\" or a number)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                if is_quantity(v) {
                    Ok(Quantity::Str(v.to_string()))
                } else {
                    Err(E::custom(format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {v:?}")))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::Int(v as i128))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity::Int(v as i128))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity::Float(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// logs/api/v1 TimeOrMetaDuration (logging.flushFrequency): a duration string or
/// an integer count of nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeOrMetaDuration {
    Duration(String),
    Nanoseconds(i64),
}

impl<'de> Deserialize<'de> for TimeOrMetaDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeOrMetaDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Go duration string or an integer number of nanoseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeOrMetaDuration, E> {
                parse_go_duration(v).map_err(E::custom)?;
                Ok(TimeOrMetaDuration::Duration(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TimeOrMetaDuration, E> {
                Ok(TimeOrMetaDuration::Nanoseconds(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TimeOrMetaDuration, E> {
                i64::try_from(v)
                    .map(TimeOrMetaDuration::Nanoseconds)
                    .map_err(|_| E::custom("duration out of range for int64 nanoseconds"))
            }
        }
        d.deserialize_any(V)
    }
}

/// bootstraptoken/v1 BootstrapTokenString: "abcdef.0123456789abcdef" ([a-z0-9]{6}.[a-z0-9]{16}).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapTokenString(pub String);

pub fn is_bootstrap_token(s: &str) -> bool {
    let ok = |p: &str, n: usize| {
        p.len() == n
            && p.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    matches!(s.split_once('.'), Some((id, secret)) if ok(id, 6) && ok(secret, 16))
}

impl<'de> Deserialize<'de> for BootstrapTokenString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BootstrapTokenString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bootstrap token \"[a-z0-9]{6}.[a-z0-9]{16}\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BootstrapTokenString, E> {
                if is_bootstrap_token(v) {
                    Ok(BootstrapTokenString(v.to_string()))
                } else {
                    Err(E::custom(format!("the bootstrap token {v:?} was not of the form \"[a-z0-9]{{6}}.[a-z0-9]{{16}}\"")))
                }
            }
        }
        d.deserialize_str(V)
    }
}

// JSON scalars with Go's strictness. serde-saphyr's typed integer/boolean paths accept a quoted
// "6443" or "true"; sigs.k8s.io/yaml turns a quoted scalar into a JSON string and encoding/json
// refuses a string for an int32/bool field. These wrappers decode through deserialize_any, where a
// quoted scalar stays a string, so only plain (unquoted) numbers and booleans are accepted.
macro_rules! strict_scalar {
    ($(#[$doc:meta])* $name:ident($t:ty), $expect:literal, $($visit:ident($vt:ty) => $conv:expr),+ $(,)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
        pub struct $name(pub $t);

        impl $name {
            pub fn get(self) -> $t {
                self.0
            }
        }

        impl PartialEq<$t> for $name {
            fn eq(&self, other: &$t) -> bool {
                self.0 == *other
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expect)
                    }
                    $(
                        fn $visit<E: de::Error>(self, v: $vt) -> Result<$name, E> {
                            #[allow(clippy::redundant_closure_call)]
                            let r: Result<$t, String> = ($conv)(v);
                            r.map($name).map_err(E::custom)
                        }
                    )+
                }
                d.deserialize_any(V)
            }
        }
    };
}

fn out_of_range<T: fmt::Display>(v: T, ty: &str) -> String {
    format!("number {v} out of range for Go type {ty}")
}

strict_scalar!(
    /// Go int32: a plain YAML integer.
    Int32(i32), "an unquoted integer (Go int32)",
    visit_i64(i64) => |v: i64| i32::try_from(v).map_err(|_| out_of_range(v, "int32")),
    visit_u64(u64) => |v: u64| i32::try_from(v).map_err(|_| out_of_range(v, "int32")),
);
strict_scalar!(
    /// Go int64 / int: a plain YAML integer.
    Int64(i64), "an unquoted integer (Go int64)",
    visit_i64(i64) => |v: i64| Ok(v),
    visit_u64(u64) => |v: u64| i64::try_from(v).map_err(|_| out_of_range(v, "int64")),
);
strict_scalar!(
    /// Go uint32: a plain non-negative YAML integer.
    Uint32(u32), "an unquoted non-negative integer (Go uint32)",
    visit_i64(i64) => |v: i64| u32::try_from(v).map_err(|_| out_of_range(v, "uint32")),
    visit_u64(u64) => |v: u64| u32::try_from(v).map_err(|_| out_of_range(v, "uint32")),
);
strict_scalar!(
    /// Go float32: a plain YAML number.
    Float32(f32), "an unquoted number (Go float32)",
    visit_i64(i64) => |v: i64| Ok(v as f32),
    visit_u64(u64) => |v: u64| Ok(v as f32),
    visit_f64(f64) => |v: f64| if v.is_finite() && v.abs() <= f32::MAX as f64 { Ok(v as f32) } else { Err(out_of_range(v, "float32")) },
);
strict_scalar!(
    /// Go float64: a plain YAML number.
    Float64(f64), "an unquoted number (Go float64)",
    visit_i64(i64) => |v: i64| Ok(v as f64),
    visit_u64(u64) => |v: u64| Ok(v as f64),
    visit_f64(f64) => |v: f64| if v.is_finite() { Ok(v) } else { Err(out_of_range(v, "float64")) },
);
strict_scalar!(
    /// Go bool: a plain YAML boolean (true/false; YAML 1.1 yes/no/on/off as Go's yaml.v2 reads them).
    Bool(bool), "an unquoted boolean",
    visit_bool(bool) => |v: bool| Ok(v),
);
