//! `image_pull`: a container image present in containerd (`ctr -n k8s.io images pull`),
//! through the registry mirrors of `/etc/containerd/certs.d`. Already there by name (and,
//! for a reference pinned `@sha256:...`, by that digest) = nothing to do. A failed pull
//! names the image and the registry's answer.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{q, Action, Args, Context, ModuleError, RemoteStep};

/// A reference `ctr` accepts: `host[:port]/path:tag` or `...@sha256:<hex>`.
fn check_reference(a: &Args, image: &str) -> Result<(), ModuleError> {
    let ok = !image.is_empty()
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "./:-_@".contains(c))
        && !image.starts_with(['/', ':', '@', '-']);
    if ok {
        Ok(())
    } else {
        Err(a.err("image", &format!("'{image}' is not an image reference")))
    }
}

/// Prepares an `image_pull` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let image = a.req("image")?;
    check_reference(a, &image)?;
    let ns = a.str_or("namespace", "k8s.io")?;
    let hosts_dir = a.str_or("hosts_dir", "/etc/containerd/certs.d")?;
    let ctr = a.str_or("ctr", "/usr/local/bin/ctr")?;
    let snapshotter = a.str_or("snapshotter", "")?;
    let platform = a.str_or("platform", "")?;
    // `repo:tag@sha256:x` is listed under that name; its DIGEST column is the pin.
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n.to_string(), d.to_string()),
        None => (image.clone(), String::new()),
    };
    let (c, n, i, nm, d) = (q(&ctr), q(&ns), q(&image), q(&name), q(&digest));
    // containerd not answering yet (check mode before it is installed) means "to pull";
    // the apply then says why it cannot.
    let probe = format!(
        "if [ ! -x {c} ]; then echo 'pull {image} (containerd not installed yet)'; exit $KF_CHANGE; fi\n\
         if ! kf_l=$({c} -n {n} images ls 2>&1); then echo 'pull {image} (containerd does not answer yet)'; exit $KF_CHANGE; fi\n\
         kf_got=$(printf '%s\\n' \"$kf_l\" | awk -v a={i} -v b={nm} '$1 == a || $1 == b {{ print $3; exit }}')\n\
         if [ -z \"$kf_got\" ]; then echo 'pull {image}'; exit $KF_CHANGE; fi\n\
         if [ -n {d} ] && [ \"$kf_got\" != {d} ]; then echo \"pull {image} (present as $kf_got)\"; exit $KF_CHANGE; fi\n\
         exit 0"
    );
    let mut flags = format!("--hosts-dir {}", q(&hosts_dir));
    if !snapshotter.is_empty() {
        flags.push_str(&format!(" --snapshotter {}", q(&snapshotter)));
    }
    if !platform.is_empty() {
        flags.push_str(&format!(" --platform {}", q(&platform)));
    }
    let apply = format!(
        "if kf_e=$({c} -n {n} images pull {flags} {i} 2>&1 >/dev/null); then exit 0; fi\n\
         echo \"cannot pull {image}: $(printf '%s\\n' \"$kf_e\" | tail -n 3)\" >&2\n\
         exit 1"
    );
    Ok(Action::Remote(RemoteStep {
        probe,
        apply,
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "image_pull",
    aliases: &[],
    args: &["image", "namespace", "hosts_dir", "ctr", "snapshotter", "platform"],
    required: &["image"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(args: serde_json::Value) -> Result<RemoteStep, ModuleError> {
        let scope = minijinja::Value::from(());
        let ctx = Context {
            scope: &scope,
            role_dir: None,
            playbook_dir: std::path::Path::new("."),
            cache_dir: std::path::Path::new("."),
            host: "h",
            check: false,
        };
        match prepare(&Args::new("image_pull", &args), &ctx)? {
            Action::Remote(s) => Ok(s),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn probe_and_apply_name_the_image() {
        let s = step(json!({"image": "10.0.0.1:5000/pause:3.10.2", "snapshotter": "native"})).unwrap();
        assert!(s.probe.contains("images ls"), "{}", s.probe);
        assert!(s.apply.contains("images pull --hosts-dir /etc/containerd/certs.d --snapshotter native 10.0.0.1:5000/pause:3.10.2"), "{}", s.apply);
        assert!(s.apply.contains("cannot pull 10.0.0.1:5000/pause:3.10.2"));
        let pinned = step(json!({"image": format!("r/x:1@sha256:{}", "a".repeat(64))})).unwrap();
        assert!(pinned.probe.contains(&format!("sha256:{}", "a".repeat(64))));
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        assert!(step(json!({"image": "a b"})).is_err());
        assert!(step(json!({"image": "x;rm -rf /"})).is_err());
        assert!(step(json!({"image": ""})).is_err());
    }
}
