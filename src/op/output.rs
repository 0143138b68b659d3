//! Where a run's events go: the human stream (stdout, or stderr when JSON takes stdout)
//! and any `--output` files (JSON Lines, JUnit XML). Parsed before anything runs: a bad
//! `--output` is invalid input, not a surprise at the end.

use super::OpError;
use crate::report::events::Event;
use crate::report::junit::{self, Junit};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The parsed `--output` flags.
#[derive(Debug, Default)]
pub struct Outputs {
    /// JSON Lines on stdout (the human stream moves to stderr).
    pub json_stdout: bool,
    /// JSON Lines files.
    pub json_files: Vec<PathBuf>,
    /// JUnit XML files.
    pub junit_files: Vec<PathBuf>,
}

impl Outputs {
    /// Parses `json`, `json=FILE`, `junit=FILE` (repeatable, combinable).
    pub fn parse(flags: &[String]) -> Result<Outputs, OpError> {
        let mut out = Outputs::default();
        for o in flags {
            match o.split_once('=') {
                None if o == "json" => out.json_stdout = true,
                Some(("json", f)) if !f.is_empty() => out.json_files.push(PathBuf::from(f)),
                Some(("junit", f)) if !f.is_empty() => out.junit_files.push(PathBuf::from(f)),
                None if o == "junit" => {
                    return Err(OpError::Usage(
                        "--output junit needs a file: junit=FILE (stdout carries the run's output)"
                            .into(),
                    ))
                }
                _ => {
                    return Err(OpError::Usage(format!(
                        "--output takes json, json=FILE or junit=FILE, not '{o}'"
                    )))
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in out.json_files.iter().chain(&out.junit_files) {
            if !seen.insert(f) {
                return Err(OpError::Usage(format!(
                    "two --output flags write {}: give each its own file",
                    f.display()
                )));
            }
        }
        Ok(out)
    }

    /// True when stdout carries JSON.
    pub fn human_to_stderr(&self) -> bool {
        self.json_stdout
    }

    /// Opens every sink. Files are created now, so a bad path fails before the run; a
    /// JUnit file first gets a placeholder report that says the run did not finish.
    pub fn sinks(&self) -> Result<Sinks, OpError> {
        let mut json: Vec<Box<dyn Write + Send>> = Vec::new();
        if self.json_stdout {
            json.push(Box::new(std::io::stdout()));
        }
        for path in &self.json_files {
            let f = std::fs::File::create(path).map_err(|source| cannot_write(path, source))?;
            json.push(Box::new(std::io::BufWriter::new(f)));
        }
        if !self.junit_files.is_empty() {
            let placeholder = junit::unfinished().map_err(|source| OpError::Io {
                what: "cannot build the JUnit report".into(),
                source,
            })?;
            for path in &self.junit_files {
                std::fs::write(path, &placeholder).map_err(|source| cannot_write(path, source))?;
            }
        }
        Ok(Sinks {
            json,
            junit: (!self.junit_files.is_empty()).then(Junit::new),
            junit_files: self.junit_files.clone(),
        })
    }
}

fn cannot_write(path: &Path, source: std::io::Error) -> OpError {
    OpError::Io {
        what: format!("cannot write {} (--output)", path.display()),
        source,
    }
}

/// The open `--output` sinks of a run.
pub struct Sinks {
    json: Vec<Box<dyn Write + Send>>,
    junit: Option<Junit>,
    junit_files: Vec<PathBuf>,
}

impl Sinks {
    /// Takes one event: a JSON line to every JSON sink; the JUnit report collects it.
    pub fn event(&mut self, ev: &Event) {
        write_json(&mut self.json, ev);
        if let Some(j) = &mut self.junit {
            j.event(ev);
        }
    }

    /// Flushes the JSON sinks and writes the JUnit reports (each replaced at once, so a
    /// reader never sees half a file). A report that cannot be written is a warning.
    pub fn finish(&mut self) {
        for w in self.json.iter_mut() {
            let _ = w.flush();
        }
        let Some(j) = &self.junit else { return };
        let xml = match j.to_xml() {
            Ok(x) => x,
            Err(e) => {
                eprintln!("warning: cannot build the JUnit report: {e}");
                return;
            }
        };
        for path in &self.junit_files {
            if let Err(e) = replace(path, &xml) {
                eprintln!(
                    "warning: cannot write the JUnit report {}: {e}",
                    path.display()
                );
            }
        }
    }
}

/// Writes a file through a temp file in the same directory and a rename.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    // A report is read by CI's upload step, maybe as another user: not 0600.
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
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
        let o = Outputs::parse(&[
            "json".into(),
            "json=/tmp/x.jsonl".into(),
            "junit=/tmp/x.xml".into(),
        ])
        .unwrap();
        assert!(o.json_stdout);
        assert_eq!(o.json_files, [PathBuf::from("/tmp/x.jsonl")]);
        assert_eq!(o.junit_files, [PathBuf::from("/tmp/x.xml")]);
        for bad in ["xml", "json=", "jsonl=f", "junit=", "junit"] {
            let e = Outputs::parse(&[bad.into()]).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
        let e = Outputs::parse(&["json=a".into(), "junit=a".into()]).unwrap_err();
        assert!(e.to_string().contains("two --output flags write a"), "{e}");
    }

    #[test]
    fn junit_file_holds_a_placeholder_until_the_run_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.xml");
        let o = Outputs::parse(&[format!("junit={}", path.display())]).unwrap();
        let mut sinks = o.sinks().unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.contains("the run did not finish"), "{first}");
        sinks.event(&Event::PlayStart {
            play: "p".into(),
            hosts: vec!["h".into()],
        });
        sinks.finish();
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains("<testsuite name=\"p\""), "{last}");
        assert!(!last.contains("did not finish"), "{last}");
    }
}
