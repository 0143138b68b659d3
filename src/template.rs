//! The minijinja environment shared by inventory variables, tasks and templates:
//! strict undefined, Ansible's `bool`, and the Ansible filters/lookups the roles and
//! Kubespray's sample group_vars use (under short and fully qualified names).

use base64::Engine as _;
use ipnet::IpNet;
use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;

/// The shared environment (built once; filters are pure or controller-side lookups).
pub fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(build)
}

fn build() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Ansible's template defaults: trim_blocks on, trailing newline kept.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_recursion_limit(200);
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);

    env.add_filter("ipaddr", ipaddr);
    env.add_filter("ipv4", ipv4);
    env.add_filter("ipv6", ipv6);
    env.add_filter("ipwrap", ipwrap);
    env.add_filter("bool", ansible_bool);
    env.add_filter("ternary", ternary);
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_yaml);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("combine", combine);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("mandatory", mandatory);
    env.add_filter("flatten", flatten);
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("difference", difference);
    env.add_filter("union", union);
    env.add_filter("intersect", intersect);
    env.add_filter("type_debug", type_debug);
    env.add_filter("quote", quote);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("d", minijinja::filters::default);
    env.add_function("lookup", lookup);
    env.add_function("query", query);
    env.add_test("version", version_test);
    env
}

/// Rewrites Ansible's fully qualified filter and test names (`ansible.builtin.x`,
/// `ansible.utils.x`) to the bare names registered here.
pub fn normalize(src: &str) -> std::borrow::Cow<'_, str> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"(\|\s*|\bis\s+(?:not\s+)?|\blookup\(\s*'|\bquery\(\s*')ansible\.(?:builtin|utils|netcommon)\.")
            .unwrap_or_else(|_| unreachable!("static regex"))
    });
    if src.contains("ansible.") {
        re.replace_all(src, "$1")
    } else {
        std::borrow::Cow::Borrowed(src)
    }
}

/// Ansible's truthiness for the `bool` filter: yes/on/true/1 (any case) are true.
pub fn truthy(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::Number => v.as_i64().map(|n| n == 1).unwrap_or(false),
        ValueKind::String => matches!(
            v.as_str()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
                .as_str(),
            "yes" | "on" | "true" | "1" | "y" | "t"
        ),
        _ => false,
    }
}

fn ansible_bool(v: Value) -> bool {
    truthy(&v)
}

fn ternary(v: Value, yes: Value, no: Value) -> Value {
    if v.is_true() {
        yes
    } else {
        no
    }
}

fn to_json(v: Value) -> Result<String, Error> {
    serde_json::to_string(&v).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

fn to_nice_json(v: Value) -> Result<String, Error> {
    serde_json::to_string_pretty(&v)
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

fn from_json(v: String) -> Result<Value, Error> {
    let parsed: serde_json::Value = serde_json::from_str(&v)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("from_json: {e}")))?;
    Ok(Value::from(minijinja::value::Serde(&parsed)))
}

fn to_yaml(v: Value) -> Result<String, Error> {
    serde_saphyr::to_string(&v).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

fn b64encode(v: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(v.as_bytes())
}

fn b64decode(v: String) -> Result<String, Error> {
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

fn combine(base: Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
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

fn regex_replace(v: String, pattern: String, replacement: Option<String>) -> Result<String, Error> {
    let re = compile_regex(&pattern)?;
    // Python's \1 back-references become ${1}.
    let repl = replacement.unwrap_or_default();
    let repl = regex::Regex::new(r"\\(\d+)")
        .map(|r| r.replace_all(&repl, "$${$1}").into_owned())
        .unwrap_or(repl);
    Ok(re.replace_all(&v, repl.as_str()).into_owned())
}

fn regex_search(v: String, pattern: String) -> Result<Value, Error> {
    let re = compile_regex(&pattern)?;
    Ok(re
        .find(&v)
        .map(|m| Value::from(m.as_str()))
        .unwrap_or(Value::from(())))
}

fn regex_findall(v: String, pattern: String) -> Result<Value, Error> {
    let re = compile_regex(&pattern)?;
    Ok(Value::from(
        re.find_iter(&v)
            .map(|m| m.as_str().to_string())
            .collect::<Vec<_>>(),
    ))
}

fn mandatory(v: Value, msg: Option<String>) -> Result<Value, Error> {
    if v.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            msg.unwrap_or_else(|| "mandatory variable is not defined".into()),
        ));
    }
    Ok(v)
}

fn flatten(v: Value) -> Result<Value, Error> {
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

fn basename(v: String) -> String {
    Path::new(&v)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn dirname(v: String) -> String {
    Path::new(&v)
        .parent()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

fn difference(a: Value, b: Value) -> Result<Value, Error> {
    let b = items(&b)?;
    Ok(Value::from(
        items(&a)?
            .into_iter()
            .filter(|x| !b.contains(x))
            .collect::<Vec<_>>(),
    ))
}

fn union(a: Value, b: Value) -> Result<Value, Error> {
    let mut out: Vec<Value> = Vec::new();
    for x in items(&a)?.into_iter().chain(items(&b)?) {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    Ok(Value::from(out))
}

fn intersect(a: Value, b: Value) -> Result<Value, Error> {
    let b = items(&b)?;
    let mut out: Vec<Value> = Vec::new();
    for x in items(&a)? {
        if b.contains(&x) && !out.contains(&x) {
            out.push(x);
        }
    }
    Ok(Value::from(out))
}

fn type_debug(v: Value) -> &'static str {
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

fn dict2items(v: Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let val = v.get_item(&k)?;
        out.push(Value::from_pairs([("key", k), ("value", val)]));
    }
    Ok(Value::from(out))
}

fn items2dict(v: Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for it in v.try_iter()? {
        out.push((it.get_attr("key")?, it.get_attr("value")?));
    }
    Ok(Value::from_pairs(out))
}

fn quote(v: String) -> String {
    crate::shell::quote(&v)
}

// ---- ipaddr family -------------------------------------------------------------

fn parse_ip_or_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n);
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

fn net_size(n: &IpNet) -> u128 {
    let host_bits = u32::from(n.max_prefix_len() - n.prefix_len());
    if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    }
}

fn nth_addr(n: &IpNet, idx: i64) -> Option<IpAddr> {
    let size = net_size(n);
    let idx: u128 = if idx >= 0 {
        u128::try_from(idx).ok()?
    } else {
        size.checked_sub(u128::from(idx.unsigned_abs()))?
    };
    if idx >= size {
        return None;
    }
    match n.network() {
        IpAddr::V4(a) => {
            let base = u128::from(u32::from(a));
            u32::try_from(base + idx)
                .ok()
                .map(|x| IpAddr::V4(std::net::Ipv4Addr::from(x)))
        }
        IpAddr::V6(a) => u128::from(a)
            .checked_add(idx)
            .map(|x| IpAddr::V6(std::net::Ipv6Addr::from(x))),
    }
}

/// `ipaddr(query)`: Ansible's ipaddr for the queries Kubespray uses. Returns `false`
/// for input that is not an address, like Ansible.
fn ipaddr(v: Value, query: Option<Value>) -> Result<Value, Error> {
    if v.kind() == ValueKind::Seq {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            let r = ipaddr(item, query.clone())?;
            if r.is_true() {
                out.push(r);
            }
        }
        return Ok(Value::from(out));
    }
    let text = match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    };
    let Some(net) = parse_ip_or_net(&text) else {
        return Ok(Value::from(false));
    };
    let has_prefix = text.contains('/');
    let Some(q) = query else {
        return Ok(Value::from(text));
    };
    if let Some(i) = q.as_i64() {
        return Ok(nth_addr(&net.trunc(), i)
            .map(|a| Value::from(format!("{a}/{}", net.prefix_len())))
            .unwrap_or(Value::from(false)));
    }
    let q = q.as_str().unwrap_or("").to_string();
    let out = match q.as_str() {
        "" => Value::from(text),
        "address" => Value::from(net.addr().to_string()),
        "net" | "subnet" | "cidr" => {
            if has_prefix && net.addr() != net.network() {
                Value::from(false)
            } else {
                Value::from(net.trunc().to_string())
            }
        }
        "network" => Value::from(net.network().to_string()),
        "prefix" => Value::from(net.prefix_len()),
        "netmask" => Value::from(net.netmask().to_string()),
        "broadcast" => match net {
            IpNet::V4(n) => Value::from(n.broadcast().to_string()),
            IpNet::V6(_) => Value::from(false),
        },
        "size" => Value::from(net_size(&net) as u64),
        "host" => Value::from(format!("{}/{}", net.addr(), net.prefix_len())),
        "first_usable" => nth_addr(&net.trunc(), 1)
            .map(|a| Value::from(a.to_string()))
            .unwrap_or(Value::from(false)),
        "last_usable" => nth_addr(&net.trunc(), -2)
            .map(|a| Value::from(a.to_string()))
            .unwrap_or(Value::from(false)),
        "ipv4" | "4" => match net {
            IpNet::V4(_) => Value::from(text),
            IpNet::V6(_) => Value::from(false),
        },
        "ipv6" | "6" => match net {
            IpNet::V6(_) => Value::from(text),
            IpNet::V4(_) => Value::from(false),
        },
        "private" => Value::from(is_private(&net.addr())),
        "public" => Value::from(!is_private(&net.addr())),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("ipaddr query '{other}' is not supported by kubeforge (supported: address, net, network, prefix, netmask, broadcast, size, host, first_usable, last_usable, an index)"),
            ))
        }
    };
    Ok(out)
}

fn is_private(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_private() || v.is_loopback() || v.is_link_local(),
        IpAddr::V6(v) => (v.segments()[0] & 0xfe00) == 0xfc00 || v.is_loopback(),
    }
}

fn family_filter(v: Value, want_v4: bool) -> Result<Value, Error> {
    if v.kind() == ValueKind::Seq {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            let r = family_filter(item, want_v4)?;
            if r.is_true() {
                out.push(r);
            }
        }
        return Ok(Value::from(out));
    }
    let text = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    Ok(match parse_ip_or_net(&text) {
        Some(IpNet::V4(_)) if want_v4 => Value::from(text),
        Some(IpNet::V6(_)) if !want_v4 => Value::from(text),
        _ => Value::from(false),
    })
}

fn ipv4(v: Value) -> Result<Value, Error> {
    family_filter(v, true)
}

fn ipv6(v: Value) -> Result<Value, Error> {
    family_filter(v, false)
}

fn ipwrap(v: Value) -> Value {
    let text = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        Value::from(format!("[{text}]"))
    } else {
        Value::from(text)
    }
}

// ---- version test --------------------------------------------------------------

fn version_key(v: &str) -> Vec<u64> {
    v.trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}

fn version_test(v: String, other: String, op: Option<String>) -> Result<bool, Error> {
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

// ---- lookups -------------------------------------------------------------------

fn lookup(name: String, args: Rest<String>) -> Result<Value, Error> {
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

fn query(name: String, args: Rest<String>) -> Result<Value, Error> {
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

/// Evaluates a `when:`-style condition in a context. An undefined name is an error,
/// never a silent false.
pub fn eval_condition(expr: &str, ctx: &Value) -> Result<bool, String> {
    let src = normalize(expr);
    let src = src.trim();
    let src = src
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(src);
    let compiled = env()
        .compile_expression(src)
        .map_err(|e| crate::inventory::resolve::describe(&e))?;
    let v = compiled
        .eval(ctx.clone())
        .map_err(|e| crate::inventory::resolve::describe(&e))?;
    if v.is_undefined() {
        return Err(format!("'{src}' is undefined"));
    }
    Ok(v.is_true())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &str) -> Value {
        let expr = normalize(expr);
        env().compile_expression(&expr).unwrap().eval(()).unwrap()
    }

    #[test]
    fn ipaddr_queries_match_ansible() {
        let cases = [
            ("'10.233.0.0/18' | ansible.utils.ipaddr('net')", "10.233.0.0/18"),
            ("'10.233.0.0/18' | ipaddr('net') | ipaddr(1)", "10.233.0.1/18"),
            ("'10.233.0.0/18' | ipaddr('net') | ipaddr(1) | ipaddr('address')", "10.233.0.1"),
            ("'10.233.0.0/18,fd00::/108'.split(',') | first | ipaddr('net') | ipaddr(3) | ipaddr('address')", "10.233.0.3"),
            ("'fd85:ee78:d8a6:8607::1000/116' | ipaddr('net') | ipaddr(1) | ipaddr('address')", "fd85:ee78:d8a6:8607::1001"),
            ("'fd00::1' | ipwrap", "[fd00::1]"),
            ("'10.0.0.1' | ansible.utils.ipwrap", "10.0.0.1"),
            ("'10.0.0.0/8' | ipaddr('prefix')", "8"),
        ];
        for (expr, want) in cases {
            assert_eq!(eval(expr).to_string(), want, "{expr}");
        }
        assert!(!eval("'nonsense' | ipaddr").is_true());
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
