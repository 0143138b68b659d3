//! Modules: one file each. A module probes (is the host already so?) and applies.
mod spec;

pub use spec::{parse_args, spec, ModuleSpec, NAMES, SPECS};
