//! `image_pull`: a container image present in containerd (`ctr -n k8s.io images pull`),
//! through the registry mirrors of `/etc/containerd/certs.d`. Already there by name (and,
//! for a reference pinned `@sha256:...`, by that digest) = nothing to do. A failed pull
//! names the image and the registry's answer.
//!
//! `via_controller` is `download_run_once` for images: `save` (on one host) pulls the
//! image into a namespace of its own, exports it and brings the archive to the
//! controller's cache once; `load` (on every host) imports that archive, pushed from the
//! controller, instead of pulling from the registry.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{q, Action, Args, Context, ModuleError, Pull, RemoteStep, STAGE_DIR};
use crate::shell::say;
use std::path::PathBuf;

/// The namespace `save` pulls into: the host's k8s.io namespace keeps exactly its images.
const SAVE_NAMESPACE: &str = "kubeforge";

/// The archive's file name for a reference (readable, and unique by a hash of it).
fn archive_name(image: &str) -> String {
    let readable: String = image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = super::sha256_hex(image.as_bytes());
    format!("{readable}-{}.tar", &hash[..12])
}

/// Where the controller keeps an image saved once.
fn controller_archive(ctx: &Context, image: &str) -> PathBuf {
    ctx.cache_dir.join("images").join(archive_name(image))
}

/// Where a host holds the archive between the push and the import.
fn staged_archive(image: &str) -> String {
    format!("{STAGE_DIR}/images/{}", archive_name(image))
}

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
fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
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
    let via = a.str_or("via_controller", "")?;
    // containerd not answering yet (check mode before it is installed) means "to pull";
    // the apply then says why it cannot. Present: exit 0; otherwise falls through with
    // `kf_why` set.
    let present = format!(
        "if [ ! -x {c} ]; then kf_why=' (containerd not installed yet)'\n\
         elif ! kf_l=$({c} -n {n} images ls 2>&1); then kf_why=' (containerd does not answer yet)'\n\
         else\n\
         kf_got=$(printf '%s\\n' \"$kf_l\" | KA={i} KB={nm} awk '$1 == ENVIRON[\"KA\"] || $1 == ENVIRON[\"KB\"] {{ print $3; exit }}')\n\
         if [ -z \"$kf_got\" ]; then kf_why=''\n\
         elif [ -n {d} ] && [ \"$kf_got\" != {d} ]; then kf_why=\" (present as $kf_got)\"\n\
         else exit 0; fi\n\
         fi\n"
    );
    let probe = if via == "load" {
        format!("{present}printf 'pull %s%s (no archive saved on this controller)\\n' {i} \"$kf_why\"; exit $KF_CHANGE")
    } else {
        format!("{present}printf 'pull %s%s\\n' {i} \"$kf_why\"; exit $KF_CHANGE")
    };
    let mut flags = format!("--hosts-dir {}", q(&hosts_dir));
    if !snapshotter.is_empty() {
        flags.push_str(&format!(" --snapshotter {}", q(&snapshotter)));
    }
    if !platform.is_empty() {
        flags.push_str(&format!(" --platform {}", q(&platform)));
    }
    match via.as_str() {
        "" => {}
        "save" => return save(ctx, &image, &ctr, &flags),
        "load" if controller_archive(ctx, &image).is_file() || ctx.check => {
            return load(ctx, &image, &ctr, &ns, &snapshotter, &present)
        }
        // No archive on this controller (a scale from another machine, a cache cleared):
        // the host pulls from the registry itself, and says so.
        "load" => {}
        other => {
            return Err(a.err(
                "via_controller",
                &format!("'{other}' is not one of save, load (or empty)"),
            ))
        }
    }
    let apply = format!(
        "if kf_e=$({c} -n {n} images pull {flags} {i} 2>&1 >/dev/null); then exit 0; fi\n\
         printf 'cannot pull %s: %s\\n' {i} \"$(printf '%s\\n' \"$kf_e\" | tail -n 3)\" >&2\n\
         exit 1"
    );
    Ok(Action::Remote(RemoteStep {
        probe,
        apply,
        ..RemoteStep::default()
    }))
}

/// `via_controller: save`: pulled into a namespace of its own, exported, brought back to
/// the controller; nothing to do once the controller holds the archive.
fn save(ctx: &Context, image: &str, ctr: &str, flags: &str) -> Result<Action, ModuleError> {
    let local = controller_archive(ctx, image);
    if local.is_file() {
        return Ok(Action::Remote(RemoteStep {
            probe: "exit 0".into(),
            probe_quick: true,
            ..RemoteStep::default()
        }));
    }
    let staged = staged_archive(image);
    let (c, ns, i, st) = (q(ctr), q(SAVE_NAMESPACE), q(image), q(&staged));
    Ok(Action::Remote(RemoteStep {
        probe: format!("{}; exit $KF_CHANGE", say(&format!("save {image} on the controller"))),
        apply: format!(
            "mkdir -p {dir} || exit 1\n\
             if ! {c} -n {ns} images ls -q 2>/dev/null | grep -qxF {i}; then\n\
             if ! kf_e=$({c} -n {ns} images pull {flags} {i} 2>&1 >/dev/null); then printf 'cannot pull %s: %s\\n' {i} \"$(printf '%s\\n' \"$kf_e\" | tail -n 3)\" >&2; exit 1; fi\n\
             fi\n\
             if ! kf_e=$({c} -n {ns} images export {stp} {i} 2>&1); then rm -f {stp}; printf 'cannot export %s: %s\\n' {i} \"$kf_e\" >&2; exit 1; fi\n\
             mv -f -- {stp} {st}",
            stp = q(&format!("{staged}.part")),
            dir = q(&format!("{STAGE_DIR}/images")),
        ),
        pull: Some(Pull {
            remote: staged,
            local,
        }),
        ..RemoteStep::default()
    }))
}

/// `via_controller: load`: present = nothing to do; otherwise the controller's archive
/// is pushed (unless already there) and imported.
fn load(
    ctx: &Context,
    image: &str,
    ctr: &str,
    ns: &str,
    snapshotter: &str,
    present: &str,
) -> Result<Action, ModuleError> {
    let local = controller_archive(ctx, image);
    let staged = staged_archive(image);
    let (c, n, st) = (q(ctr), q(ns), q(&staged));
    if !local.is_file() {
        // Check mode: the save earlier in the run has not happened.
        return Ok(Action::Remote(RemoteStep {
            probe: format!("{present}{}; exit $KF_CHANGE", say(&format!("import {image} (saved on the controller earlier in a real run)"))),
            ..RemoteStep::default()
        }));
    }
    let snap = if snapshotter.is_empty() {
        String::new()
    } else {
        format!(" --snapshotter {}", q(snapshotter))
    };
    Ok(Action::Remote(RemoteStep {
        probe: format!(
            "{present}if [ -s {st} ]; then {}; exit $KF_CHANGE; fi\n{}; exit $KF_UPLOAD",
            say(&format!("import {image} (saved once)")),
            say(&format!("push {image} from the controller"))
        ),
        // A damaged archive is removed either way, so the next run pushes it again.
        apply: format!(
            "kf_e=$({c} -n {n} images import{snap} {st} 2>&1); kf_rc=$?; rm -f {st}\n\
             if [ $kf_rc != 0 ]; then printf 'cannot import %s: %s\\n' {i} \"$kf_e\" >&2; exit 1; fi",
            i = q(image)
        ),
        uploads: vec![(local, staged, 0o600)],
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "image_pull",
    aliases: &[],
    args: &[
        "image",
        "namespace",
        "hosts_dir",
        "ctr",
        "snapshotter",
        "platform",
        "via_controller",
    ],
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
        assert!(s.apply.contains("cannot pull %s") && s.apply.contains("10.0.0.1:5000/pause:3.10.2"));
        let pinned = step(json!({"image": format!("r/x:1@sha256:{}", "a".repeat(64))})).unwrap();
        assert!(pinned.probe.contains(&format!("sha256:{}", "a".repeat(64))));
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        assert!(step(json!({"image": "a b"})).is_err());
        assert!(step(json!({"image": "x;rm -rf /"})).is_err());
        assert!(step(json!({"image": ""})).is_err());
    }

    fn step_in(
        cache: &std::path::Path,
        check: bool,
        args: serde_json::Value,
    ) -> Result<RemoteStep, ModuleError> {
        let scope = minijinja::Value::from(());
        let ctx = Context {
            scope: &scope,
            role_dir: None,
            playbook_dir: std::path::Path::new("."),
            cache_dir: cache,
            host: "h",
            check,
        };
        match prepare(&Args::new("image_pull", &args), &ctx)? {
            Action::Remote(s) => Ok(s),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn saved_once_on_the_controller_then_loaded_from_it() {
        let cache = tempfile::tempdir().unwrap();
        let image = "10.0.0.1:5000/coredns/coredns:v1.12.1";
        let save = json!({"image": image, "via_controller": "save"});
        let s = step_in(cache.path(), false, save.clone()).unwrap();
        assert!(s.apply.contains("-n kubeforge images export"), "{}", s.apply);
        let pull = s.pull.expect("brought back to the controller");
        assert!(pull.remote.starts_with("/var/cache/kubeforge/images/10.0.0.1_5000_coredns_coredns_v1.12.1-"));
        assert_eq!(pull.local, controller_archive_in(cache.path(), image));
        // No archive on this controller: the host pulls from the registry and says so;
        // in check mode the save earlier in the run would have made it.
        let load = json!({"image": image, "via_controller": "load", "snapshotter": "native"});
        let fallback = step_in(cache.path(), false, load.clone()).unwrap();
        assert!(fallback.apply.contains("images pull"), "{}", fallback.apply);
        assert!(fallback.probe.contains("no archive saved on this controller"));
        assert!(fallback.uploads.is_empty());
        let would = step_in(cache.path(), true, load.clone()).unwrap();
        assert!(would.probe.contains("earlier in a real run"), "{}", would.probe);
        // Once the controller holds it: the save has nothing to do; the load pushes it.
        std::fs::create_dir_all(pull.local.parent().unwrap()).unwrap();
        std::fs::write(&pull.local, b"archive").unwrap();
        assert_eq!(step_in(cache.path(), false, save).unwrap().probe, "exit 0");
        let l = step_in(cache.path(), false, load).unwrap();
        assert!(l.probe.contains("$KF_UPLOAD") && l.probe.contains("images ls"), "{}", l.probe);
        assert_eq!(l.uploads, vec![(pull.local.clone(), pull.remote.clone(), 0o600)]);
        assert!(l.apply.contains("images import --snapshotter native"), "{}", l.apply);
        let bad = step_in(cache.path(), false, json!({"image": image, "via_controller": "maybe"}));
        assert!(bad.is_err());
    }

    #[test]
    fn archive_names_differ_for_references_that_read_alike() {
        assert_ne!(archive_name("a/b:c"), archive_name("a_b:c"));
        assert!(archive_name("r/x:1").ends_with(".tar"));
    }

    fn controller_archive_in(cache: &std::path::Path, image: &str) -> std::path::PathBuf {
        cache.join("images").join(archive_name(image))
    }
}
