//! Inventory text (as INI and as YAML) through the loader, the cluster model,
//! validation and the JSON report: errors are fine, panics and hangs are bugs.
//! The same pipeline runs under proptest in tests/fuzz_parsers.rs.
#![no_main]

use kubeforge::cluster::Cluster;
use kubeforge::inventory::Inventory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["x.ini", "x.yaml"] {
        match Inventory::from_text(text, name) {
            Ok(inv) => {
                let cluster = Cluster::build(inv);
                let diags = kubeforge::validate::validate(&cluster);
                for d in &diags {
                    let _ = d.to_string();
                }
                let _ = kubeforge::report::inventory::show_json(&cluster, None, false);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
