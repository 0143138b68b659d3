//! A module's declaration: its name and aliases, its arguments (unknown ones are refused
//! at file:line when the playbook is loaded), where it runs, its time limit and which
//! arguments are expressions. The runner asks the declaration, never a module's name.

use super::{Action, Args, Context, ModuleError};
use crate::yaml::{Node, NodeKind};
use serde_json::Value;

/// Where a module's work happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// Decided on the controller (debug, assert, set_fact...): no round trip; the
    /// host's queued steps are sent first so that it sees their results.
    Controller,
    /// A probe and an apply on the host, batched with the host's other steps.
    Host,
}

/// How long a module's step may run.
#[derive(Debug, Clone, Copy)]
pub enum Timeout {
    /// The task's `timeout:`, else the run's default.
    Task,
    /// At least what the arguments ask for (plus 30 s of slack), e.g. wait_for's own
    /// `timeout` + `delay`.
    Own(fn(&Value) -> u64),
}

impl Timeout {
    /// Seconds for a step with these (rendered) arguments, given the task's limit.
    pub fn seconds(&self, args: &Value, task: u64) -> u64 {
        match self {
            Timeout::Task => task,
            Timeout::Own(f) => task.max(f(args).saturating_add(30)),
        }
    }
}

/// Prepares a step from rendered arguments.
pub type Prepare = fn(&Args, &Context) -> Result<Action, ModuleError>;

/// Everything kubeforge knows about a module, in one place.
pub struct ModuleDecl {
    /// Module name.
    pub name: &'static str,
    /// Other names it answers to (Ansible's, e.g. `service` for systemd).
    pub aliases: &'static [&'static str],
    /// Accepted argument names (ignored with `any_args`).
    pub args: &'static [&'static str],
    /// Arguments that must be present (one of each group separated by `|`).
    pub required: &'static [&'static str],
    /// The free-form string form maps to this argument (`command: ls` -> cmd).
    pub free_form: Option<&'static str>,
    /// Any argument name is accepted (set_fact).
    pub any_args: bool,
    /// Controller or host.
    pub runs: Runs,
    /// Its time limit.
    pub timeout: Timeout,
    /// Arguments holding bare Jinja expressions (assert's `that`, debug's `var`): the
    /// runner reads the variables they use to order steps.
    pub expressions: &'static [&'static str],
    /// Builds the step.
    pub prepare: Prepare,
}

/// Collection prefixes Ansible users write before module names.
const PREFIXES: [&str; 3] = ["ansible.builtin.", "ansible.posix.", "community.general."];

/// The declaration of a module by name or alias (collection prefixes accepted).
pub fn find(name: &str) -> Option<&'static ModuleDecl> {
    let short = PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    super::all().find(|d| d.name == short || d.aliases.contains(&short))
}

/// Module names, for messages.
pub fn names() -> Vec<&'static str> {
    super::all().map(|d| d.name).collect()
}

fn split_kv(s: &str) -> Vec<(String, String)> {
    crate::shell::split_words(s)
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (w, String::new()),
        })
        .collect()
}

/// Turns a module's YAML value into its argument object, checking names.
/// Errors are (message, help).
pub fn parse_args(module: &str, node: &Node) -> Result<Value, (String, String)> {
    let Some(spec) = find(module) else {
        return Err((
            format!("unknown module '{module}'"),
            format!("modules: {}", names().join(", ")),
        ));
    };
    let mut map = serde_json::Map::new();
    match &node.kind {
        NodeKind::Null => {}
        NodeKind::Map(pairs) => {
            for (k, v) in pairs {
                map.insert(k.key_string(), v.to_value());
            }
        }
        NodeKind::Str(s) => {
            if let Some(ff) = spec.free_form {
                // command/shell: the string is the command, with creates=/chdir= words allowed.
                let mut rest = Vec::new();
                for word in s.split(' ') {
                    match word.split_once('=') {
                        Some((k, v))
                            if spec.args.contains(&k)
                                && k != ff
                                && !rest.iter().any(|w: &&str| !w.is_empty()) =>
                        {
                            map.insert(k.to_string(), Value::from(v));
                        }
                        _ => rest.push(word),
                    }
                }
                map.insert(
                    ff.to_string(),
                    Value::from(rest.join(" ").trim().to_string()),
                );
            } else {
                for (k, v) in split_kv(s) {
                    if v.is_empty() && !s.contains('=') {
                        return Err((
                            format!("{module} takes arguments as a mapping or key=value words, found '{s}'"),
                            format!("write {module}: {{ {}: ... }}", spec.args.first().unwrap_or(&"arg")),
                        ));
                    }
                    map.insert(k, Value::from(v));
                }
            }
        }
        _ => {
            return Err((
                format!(
                    "{module}'s arguments must be a mapping, found a {}",
                    node.type_name()
                ),
                format!(
                    "write {module}: {{ {}: ... }}",
                    spec.args.first().unwrap_or(&"arg")
                ),
            ))
        }
    }
    // Common aliases.
    for (alias, real) in [("dest", "path"), ("name", "path")] {
        if spec.args.contains(&real) && !spec.args.contains(&alias) {
            if let Some(v) = map.remove(alias) {
                map.insert(real.to_string(), v);
            }
        }
    }
    if !spec.any_args {
        for k in map.keys() {
            if !spec.args.contains(&k.as_str()) {
                return Err((
                    format!("{module}: unknown argument '{k}'"),
                    format!("{module} takes: {}", spec.args.join(", ")),
                ));
            }
        }
    }
    Ok(Value::Object(map))
}

/// Checks that a module's required arguments are present (after `args:` is merged).
pub fn check_required(module: &str, args: &Value) -> Result<(), (String, String)> {
    let Some(spec) = find(module) else {
        return Ok(());
    };
    for req in spec.required {
        if !req.split('|').any(|r| args.get(r).is_some()) {
            return Err((
                format!("{module}: missing argument {}", req.replace('|', " or ")),
                format!("{module} takes: {}", spec.args.join(", ")),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(y: &str) -> Node {
        crate::yaml::parse(y).unwrap()
    }

    #[test]
    fn free_form_and_kv_forms() {
        let v = parse_args("command", &node("\"creates=/x ls -l /tmp\"")).unwrap();
        assert_eq!(v["cmd"], "ls -l /tmp");
        assert_eq!(v["creates"], "/x");
        let v = parse_args("file", &node("\"path=/a state=directory mode=0755\"")).unwrap();
        assert_eq!(v["state"], "directory");
        assert_eq!(v["mode"], "0755");
        let v = parse_args("file", &node("{dest: /a}")).unwrap();
        assert_eq!(v["path"], "/a");
    }

    #[test]
    fn unknown_and_missing_arguments() {
        let e = parse_args("file", &node("{path: /a, colour: red}")).unwrap_err();
        assert!(e.0.contains("unknown argument 'colour'"), "{e:?}");
        let v = parse_args("copy", &node("{dest: /a}")).unwrap();
        let e = check_required("copy", &v).unwrap_err();
        assert!(e.0.contains("missing argument content or src"), "{e:?}");
        assert!(parse_args("set_fact", &node("{anything: 1}")).is_ok());
    }

    #[test]
    fn aliases_and_collection_prefixes_find_the_declaration() {
        for (name, want) in [
            ("service", "systemd"),
            ("ansible.builtin.systemd_service", "systemd"),
            ("community.general.modprobe", "modprobe"),
            ("ansible.posix.sysctl", "sysctl"),
            ("ansible.builtin.command", "command"),
        ] {
            assert_eq!(find(name).map(|d| d.name), Some(want), "{name}");
        }
        assert!(find("k8s").is_none());
        let mut all = names();
        let n = all.len();
        all.dedup();
        assert_eq!(all.len(), n, "every module is declared once");
    }
}
