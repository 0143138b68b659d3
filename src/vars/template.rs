//! The minijinja environment shared by inventory variables, tasks and templates:
//! strict undefined, Ansible's `bool`, and the Ansible filters/lookups the roles and
//! Kubespray's sample group_vars use (under short and fully qualified names).

use super::filters::*;
use super::ipaddr::{ipaddr, ipv4, ipv6, ipwrap};
use super::lookup::{lookup, query};
use minijinja::value::ValueKind;
use minijinja::{Environment, UndefinedBehavior, Value};
use std::sync::OnceLock;

/// A template or expression that cannot be rendered, in one line (kind and detail).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        TemplateError(describe(&e))
    }
}

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

/// Evaluates a `when:`-style condition in a context. An undefined name is an error,
/// never a silent false.
pub fn eval_condition(expr: &str, ctx: &Value) -> Result<bool, TemplateError> {
    let src = normalize(expr);
    let src = src.trim();
    let src = src
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(src);
    let compiled = env().compile_expression(src)?;
    let v = compiled.eval(ctx.clone())?;
    if v.is_undefined() {
        return Err(TemplateError(format!("'{src}' is undefined")));
    }
    Ok(v.is_true())
}

/// The top-level variable names a `when:`-style condition reads (loop variables and
/// names it sets itself excluded); empty when it does not compile.
pub fn condition_names(expr: &str) -> std::collections::BTreeSet<String> {
    let src = normalize(expr);
    let src = src.trim();
    let src = src
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(src);
    env()
        .compile_expression(src)
        .map(|e| e.undeclared_variables(false).into_iter().collect())
        .unwrap_or_default()
}

/// A template error in one line: kind and detail.
pub fn describe(e: &minijinja::Error) -> String {
    use minijinja::ErrorKind as K;
    let detail = e.detail().unwrap_or("").to_string();
    match e.kind() {
        K::UndefinedError => {
            if detail.is_empty() {
                "uses an undefined variable".into()
            } else {
                format!("undefined: {detail}")
            }
        }
        K::UnknownFilter => format!("unknown filter: {detail} (not provided by kubeforge)"),
        K::UnknownFunction => format!("unknown function: {detail}"),
        K::UnknownTest => format!("unknown test: {detail}"),
        K::UnknownMethod => format!("unknown method: {detail}"),
        K::SyntaxError => format!("template syntax error: {detail}"),
        _ => {
            let mut s = e.to_string();
            if let Some(src) = std::error::Error::source(e) {
                s.push_str(&format!(": {src}"));
            }
            s
        }
    }
}
