//! Fuzzing the value readers of issue 9 with proptest: Python literals (every INI value
//! goes through literal_eval) and YAML 1.1 scalars with Ansible's tags, alone and inside
//! inventories taken through `Cluster::build` and `show_json`. Errors are fine; panics
//! are not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kubeforge::cluster::Cluster;
use kubeforge::inventory::Inventory;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn pipeline(text: &str, name: &str) {
    if let Ok(inv) = Inventory::from_text(text, name) {
        let cluster = Cluster::build(inv);
        let _ = kubeforge::validate::validate(&cluster);
        let _ = kubeforge::report::inventory::show_json(&cluster, None, true);
        let opts = kubeforge::report::inventory::ShowOptions {
            show_secrets: false,
            magic: true,
        };
        let _ = kubeforge::report::inventory::show_json_text(&cluster, None, opts);
    }
}

/// Pieces of Python literals (issue 9: INI values go through literal_eval).
const PY_TOKENS: &[&str] = &[
    "0",
    "1",
    "9",
    "08",
    "0x",
    "0X1F",
    "0o",
    "0o17",
    "0b",
    "0b101",
    "_",
    "__",
    ".",
    "e",
    "E",
    "+",
    "-",
    "j",
    "'",
    "\"",
    "'''",
    "\\",
    "\\x4",
    "\\u00e9",
    "\\N{",
    "r'",
    "b'",
    "f'",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ",",
    ":",
    " ",
    "#",
    ";",
    "True",
    "False",
    "None",
    "yes",
    "1e999",
    "123456789012345678901234567890",
    "é",
    "{{",
    "}}",
];

/// Pieces of YAML 1.1 scalars and Ansible's tags (issue 9: PyYAML's resolution).
const YAML_SCALARS: &[&str] = &[
    "yes",
    "On",
    "oN",
    "y",
    "1:30",
    "1:70",
    "-1:30:00.5",
    "0x",
    "0x1F",
    "0o17",
    "0644",
    "-0644",
    "1e3",
    "1.5e+3",
    ".inf",
    "-.Inf",
    ".nan",
    "~",
    "null",
    "1_000",
    "+12",
    "09",
    "123456789012345678901234567890",
    "-99999999999999999999999",
    "!unsafe ",
    "!vault ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!str ",
    "!!null ",
    "!foo ",
    "'",
    "\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    ": ",
    "<<: ",
    "&a ",
    "*a",
    "$ANSIBLE_VAULT;1.1;AES256",
    "\n",
    "  ",
    "{{ x }}",
];

fn py_literal() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PY_TOKENS), 0..24).prop_map(|t| t.concat())
}

fn yaml_scalar() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(YAML_SCALARS), 0..8).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(Config { cases: 3000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn python_literals_never_panic(value in py_literal(), text in any::<String>()) {
        let _ = kubeforge::inventory::pyliteral::literal_eval(&value);
        let _ = kubeforge::inventory::pyliteral::literal_eval(&text);
        // On a host line (after shlex) and as a [group:vars] value (raw text).
        pipeline(&format!("[kube_node]\nn1 v={value}\n[kube_node:vars]\nw={value}\n"), "x.ini");
    }

    #[test]
    fn yaml_scalars_never_panic(value in yaml_scalar(), key in yaml_scalar()) {
        let _ = kubeforge::yaml::parse(&value);
        pipeline(&format!("all:\n  vars:\n    v: {value}\n    {key}: 1\n  hosts:\n    n1:\n"), "x.yaml");
        pipeline(&format!("all:\n  hosts:\n    {value}:\n      ip: 10.0.0.1\n"), "x.yaml");
    }
}
