//! Every module's name and arguments: the loader rejects unknown modules and unknown
//! arguments at file:line before anything runs.

use crate::yaml::{Node, NodeKind};
use serde_json::Value;

/// A module's accepted arguments.
pub struct ModuleSpec {
    /// Module name.
    pub name: &'static str,
    /// Accepted argument names (empty with `any_args`: anything goes, e.g. set_fact).
    pub args: &'static [&'static str],
    /// Arguments that must be present (one of each group separated by `|`).
    pub required: &'static [&'static str],
    /// The free-form string form maps to this argument (`command: ls` -> cmd).
    pub free_form: Option<&'static str>,
    /// Any argument name is accepted.
    pub any_args: bool,
}

const OWNERSHIP: [&str; 3] = ["mode", "owner", "group"];

macro_rules! spec {
    ($name:expr, [$($a:expr),* $(,)?], [$($r:expr),* $(,)?], $ff:expr) => {
        ModuleSpec { name: $name, args: &[$($a),*], required: &[$($r),*], free_form: $ff, any_args: false }
    };
}

/// The module table.
pub const SPECS: [ModuleSpec; 21] = [
    spec!("etcd_certs", ["dir", "members", "clients"], ["dir"], None),
    spec!(
        "download",
        ["artifact", "dest", "mode", "download_once", "timeout"],
        ["artifact"],
        None
    ),
    spec!(
        "file",
        ["path", "state", "mode", "owner", "group", "src", "recurse"],
        ["path"],
        None
    ),
    spec!(
        "copy",
        [
            "dest",
            "content",
            "src",
            "mode",
            "owner",
            "group",
            "remote_src",
            "backup"
        ],
        ["dest", "content|src"],
        None
    ),
    spec!(
        "template",
        ["src", "dest", "mode", "owner", "group", "backup"],
        ["src", "dest"],
        None
    ),
    spec!(
        "lineinfile",
        [
            "path",
            "line",
            "regexp",
            "state",
            "create",
            "mode",
            "owner",
            "group",
            "insertafter",
            "insertbefore"
        ],
        ["path"],
        None
    ),
    spec!(
        "blockinfile",
        ["path", "block", "marker", "state", "create", "mode", "owner", "group"],
        ["path"],
        None
    ),
    spec!(
        "command",
        [
            "cmd",
            "argv",
            "creates",
            "removes",
            "chdir",
            "environment",
            "stdin"
        ],
        ["cmd|argv"],
        Some("cmd")
    ),
    spec!(
        "shell",
        [
            "cmd",
            "creates",
            "removes",
            "chdir",
            "environment",
            "executable",
            "stdin"
        ],
        ["cmd"],
        Some("cmd")
    ),
    spec!(
        "systemd",
        ["name", "state", "enabled", "daemon_reload", "masked"],
        [],
        None
    ),
    spec!(
        "sysctl",
        ["name", "value", "state", "sysctl_file", "reload"],
        ["name"],
        None
    ),
    spec!(
        "modprobe",
        ["name", "state", "persistent", "params"],
        ["name"],
        None
    ),
    spec!(
        "get_url",
        [
            "url",
            "dest",
            "checksum",
            "mode",
            "owner",
            "group",
            "timeout",
            "validate_certs",
            "download_once"
        ],
        ["url", "dest", "checksum"],
        None
    ),
    spec!(
        "unarchive",
        [
            "src",
            "dest",
            "remote_src",
            "creates",
            "extra_opts",
            "mode",
            "owner",
            "group",
            "include"
        ],
        ["src", "dest"],
        None
    ),
    spec!(
        "wait_for",
        [
            "port",
            "host",
            "path",
            "state",
            "timeout",
            "delay",
            "search_regex"
        ],
        [],
        None
    ),
    spec!(
        "uri",
        [
            "url",
            "status_code",
            "method",
            "ca_path",
            "client_cert",
            "client_key",
            "validate_certs",
            "return_content",
            "timeout",
            "body",
            "headers"
        ],
        ["url"],
        None
    ),
    spec!(
        "assert",
        ["that", "fail_msg", "success_msg", "msg", "quiet"],
        ["that"],
        None
    ),
    ModuleSpec {
        name: "set_fact",
        args: &[],
        required: &[],
        free_form: None,
        any_args: true,
    },
    spec!("debug", ["msg", "var", "verbosity"], [], None),
    spec!("fail", ["msg"], [], None),
    spec!("meta", ["action"], ["action"], Some("action")),
];

/// Module names, for messages.
pub const NAMES: [&str; 20] = [
    "download",
    "file",
    "copy",
    "template",
    "lineinfile",
    "blockinfile",
    "command",
    "shell",
    "systemd",
    "sysctl",
    "modprobe",
    "get_url",
    "unarchive",
    "wait_for",
    "uri",
    "assert",
    "set_fact",
    "debug",
    "fail",
    "meta",
];

fn canonical(name: &str) -> &str {
    match name {
        "systemd_service" | "service" => "systemd",
        "ansible.builtin.systemd_service" => "systemd",
        "community.general.modprobe" => "modprobe",
        "ansible.posix.sysctl" => "sysctl",
        other => other,
    }
}

/// The spec of a module (aliases accepted), or None.
pub fn spec(name: &str) -> Option<&'static ModuleSpec> {
    let n = canonical(name);
    SPECS.iter().find(|s| s.name == n)
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
    let Some(spec) = spec(module) else {
        return Err((
            format!("unknown module '{module}'"),
            format!("modules: {}", NAMES.join(", ")),
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
    let _ = OWNERSHIP;
    Ok(Value::Object(map))
}

/// Checks that a module's required arguments are present (after `args:` is merged).
pub fn check_required(module: &str, args: &Value) -> Result<(), (String, String)> {
    let Some(spec) = spec(module) else {
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
}
