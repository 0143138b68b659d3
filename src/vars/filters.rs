//! Ansible's general-purpose filters and the `version` test, as Kubespray's inventories
//! and kubeforge's roles use them.

use base64::Engine as _;
use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, ErrorKind, Value};
use std::path::Path;

pub(super) fn ansible_bool(v: Value) -> bool {
    super::template::truthy(&v)
}

pub(super) fn ternary(v: Value, yes: Value, no: Value) -> Value {
    if v.is_true() {
        yes
    } else {
        no
    }
}

pub(super) fn to_json(v: Value) -> Result<String, Error> {
    serde_json::to_string(&v).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

pub(super) fn to_nice_json(v: Value) -> Result<String, Error> {
    serde_json::to_string_pretty(&v)
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

pub(super) fn from_json(v: String) -> Result<Value, Error> {
    let parsed: serde_json::Value = serde_json::from_str(&v)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("from_json: {e}")))?;
    Ok(Value::from(minijinja::value::Serde(&parsed)))
}

pub(super) fn to_yaml(v: Value) -> Result<String, Error> {
    serde_saphyr::to_string(&v).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

pub(super) fn b64encode(v: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(v.as_bytes())
}

pub(super) fn b64decode(v: String) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("b64decode: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("b64decode: {e}")))
}

fn to_json_value(v: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

fn merge_json(base: &mut serde_json::Value, over: serde_json::Value, recursive: bool) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if recursive && existing.is_object() && v.is_object() => {
                        merge_json(existing, v, true)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

pub(super) fn combine(base: Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive: bool = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let mut acc = to_json_value(&base)?;
    for o in others.iter() {
        merge_json(&mut acc, to_json_value(o)?, recursive);
    }
    Ok(Value::from(minijinja::value::Serde(&acc)))
}

fn compile_regex(pattern: &str) -> Result<regex::Regex, Error> {
    regex::Regex::new(pattern)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("bad regex: {e}")))
}

pub(super) fn regex_replace(
    v: String,
    pattern: String,
    replacement: Option<String>,
) -> Result<String, Error> {
    let re = compile_regex(&pattern)?;
    // Python's \1 back-references become ${1}.
    let repl = replacement.unwrap_or_default();
    let repl = regex::Regex::new(r"\\(\d+)")
        .map(|r| r.replace_all(&repl, "$${$1}").into_owned())
        .unwrap_or(repl);
    Ok(re.replace_all(&v, repl.as_str()).into_owned())
}

pub(super) fn regex_search(v: String, pattern: String) -> Result<Value, Error> {
    let re = compile_regex(&pattern)?;
    Ok(re
        .find(&v)
        .map(|m| Value::from(m.as_str()))
        .unwrap_or(Value::from(())))
}

pub(super) fn regex_findall(v: String, pattern: String) -> Result<Value, Error> {
    let re = compile_regex(&pattern)?;
    Ok(Value::from(
        re.find_iter(&v)
            .map(|m| m.as_str().to_string())
            .collect::<Vec<_>>(),
    ))
}

pub(super) fn mandatory(v: Value, msg: Option<String>) -> Result<Value, Error> {
    if v.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            msg.unwrap_or_else(|| "mandatory variable is not defined".into()),
        ));
    }
    Ok(v)
}

pub(super) fn flatten(v: Value) -> Result<Value, Error> {
    fn walk(v: &Value, out: &mut Vec<Value>) -> Result<(), Error> {
        if v.kind() == ValueKind::Seq {
            for item in v.try_iter()? {
                walk(&item, out)?;
            }
        } else {
            out.push(v.clone());
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(&v, &mut out)?;
    Ok(Value::from(out))
}

pub(super) fn basename(v: String) -> String {
    Path::new(&v)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn dirname(v: String) -> String {
    Path::new(&v)
        .parent()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

pub(super) fn difference(a: Value, b: Value) -> Result<Value, Error> {
    let b = items(&b)?;
    Ok(Value::from(
        items(&a)?
            .into_iter()
            .filter(|x| !b.contains(x))
            .collect::<Vec<_>>(),
    ))
}

pub(super) fn union(a: Value, b: Value) -> Result<Value, Error> {
    let mut out: Vec<Value> = Vec::new();
    for x in items(&a)?.into_iter().chain(items(&b)?) {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    Ok(Value::from(out))
}

pub(super) fn intersect(a: Value, b: Value) -> Result<Value, Error> {
    let b = items(&b)?;
    let mut out: Vec<Value> = Vec::new();
    for x in items(&a)? {
        if b.contains(&x) && !out.contains(&x) {
            out.push(x);
        }
    }
    Ok(Value::from(out))
}

pub(super) fn type_debug(v: Value) -> &'static str {
    match v.kind() {
        ValueKind::Bool => "bool",
        ValueKind::Number => {
            if v.as_i64().is_some() {
                "int"
            } else {
                "float"
            }
        }
        ValueKind::String => "str",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::None | ValueKind::Undefined => "NoneType",
        _ => "object",
    }
}

pub(super) fn dict2items(v: Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let val = v.get_item(&k)?;
        out.push(Value::from_pairs([("key", k), ("value", val)]));
    }
    Ok(Value::from(out))
}

pub(super) fn items2dict(v: Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for it in v.try_iter()? {
        out.push((it.get_attr("key")?, it.get_attr("value")?));
    }
    Ok(Value::from_pairs(out))
}

pub(super) fn quote(v: String) -> String {
    crate::shell::quote(&v)
}
fn version_key(v: &str) -> Vec<u64> {
    v.trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}

pub(super) fn version_test(v: String, other: String, op: Option<String>) -> Result<bool, Error> {
    let (a, b) = (version_key(&v), version_key(&other));
    let ord = a.cmp(&b);
    use std::cmp::Ordering::*;
    Ok(match op.as_deref().unwrap_or("eq") {
        "lt" | "<" => ord == Less,
        "le" | "<=" => ord != Greater,
        "gt" | ">" => ord == Greater,
        "ge" | ">=" => ord != Less,
        "eq" | "==" | "=" => ord == Equal,
        "ne" | "!=" | "<>" => ord != Equal,
        o => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("version test: unknown operator '{o}'"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::vars::template::{env, normalize};
    use minijinja::Value;

    fn eval(expr: &str) -> Value {
        let expr = normalize(expr);
        env().compile_expression(&expr).unwrap().eval(()).unwrap()
    }

    #[test]
    fn ansible_bool_semantics() {
        for (s, want) in [
            ("'yes'", true),
            ("'on'", true),
            ("'no'", false),
            ("'False'", false),
            ("1", true),
            ("'x'", false),
        ] {
            assert_eq!(eval(&format!("{s} | bool")).is_true(), want, "{s}");
        }
    }

    #[test]
    fn version_test_compares_numerically() {
        assert!(eval("'1.10.0' is version('1.9.3', '>=')").is_true());
        assert!(!eval("'v1.2' is version('1.10', 'gt')").is_true());
    }

    #[test]
    fn dict2items_round_trips() {
        assert_eq!(eval("({'a': 1} | dict2items)[0].key").to_string(), "a");
        assert_eq!(
            eval("({'a': 1} | dict2items | items2dict).a").to_string(),
            "1"
        );
        assert_eq!(
            eval("[{'n': 'x'}, {'n': 'y'}] | selectattr('n', 'in', ['y']) | list | length")
                .to_string(),
            "1"
        );
    }

    #[test]
    fn combine_and_regex() {
        assert_eq!(
            eval("{'a': 1} | combine({'b': 2}) | to_json").to_string(),
            r#"{"a":1,"b":2}"#
        );
        assert_eq!(
            eval("'v1.2.3' | regex_replace('^v', '')").to_string(),
            "1.2.3"
        );
    }
}
