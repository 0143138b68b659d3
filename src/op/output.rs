//! Where a run's events go: the human stream (stdout, or stderr when JSON takes stdout)
//! and any `--output` files. Parsed before anything runs: a bad `--output` is invalid
//! input, not a surprise at the end.

use super::OpError;
use crate::report::events::Event;
use std::io::Write;
use std::path::PathBuf;

/// The parsed `--output` flags.
#[derive(Debug, Default)]
pub struct Outputs {
    /// JSON Lines on stdout (the human stream moves to stderr).
    pub json_stdout: bool,
    /// JSON Lines files.
    pub json_files: Vec<PathBuf>,
}

impl Outputs {
    /// Parses `json`, `json=FILE` (repeatable).
    pub fn parse(flags: &[String]) -> Result<Outputs, OpError> {
        let mut out = Outputs::default();
        for o in flags {
            match o.split_once('=') {
                None if o == "json" => out.json_stdout = true,
                Some(("json", f)) if !f.is_empty() => out.json_files.push(PathBuf::from(f)),
                _ => {
                    return Err(OpError::Usage(format!(
                        "--output takes json or json=FILE, not '{o}'"
                    )))
                }
            }
        }
        Ok(out)
    }

    /// True when stdout carries JSON.
    pub fn human_to_stderr(&self) -> bool {
        self.json_stdout
    }

    /// Opens every writer (files are created now, so a bad path fails before the run).
    pub fn writers(&self) -> Result<Vec<Box<dyn Write + Send>>, OpError> {
        let mut w: Vec<Box<dyn Write + Send>> = Vec::new();
        if self.json_stdout {
            w.push(Box::new(std::io::stdout()));
        }
        for path in &self.json_files {
            let f = std::fs::File::create(path).map_err(|source| OpError::Io {
                what: format!("cannot write {}", path.display()),
                source,
            })?;
            w.push(Box::new(std::io::BufWriter::new(f)));
        }
        Ok(w)
    }
}

/// Writes one event as a JSON line to every writer.
pub fn write_json(writers: &mut [Box<dyn Write + Send>], ev: &Event) {
    if writers.is_empty() {
        return;
    }
    if let Ok(line) = serde_json::to_string(ev) {
        for w in writers.iter_mut() {
            let _ = writeln!(w, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_flags() {
        let o = Outputs::parse(&["json".into(), "json=/tmp/x.jsonl".into()]).unwrap();
        assert!(o.json_stdout);
        assert_eq!(o.json_files, [PathBuf::from("/tmp/x.jsonl")]);
        for bad in ["xml", "json=", "jsonl=f"] {
            let e = Outputs::parse(&[bad.into()]).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
