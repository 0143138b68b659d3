//! `cordon`: cordons or uncordons a Kubernetes node with kubectl, keeping kubeforge's
//! own mark on the node (annotation `kubeforge.io/cordoned-by`). It cordons only a node
//! that is schedulable (marking it first, so an interruption never leaves a cordon
//! without the mark) and uncordons only a node that carries its mark: a node an
//! operator cordoned stays cordoned. The mark also goes to the last-applied record (the
//! runner reports `mark_*` of a changed step), so an interrupted run is remembered.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{q, Action, Args, Context, ModuleError, RemoteStep};
use crate::shell::{kfvar, say};

/// The annotation kubeforge sets on a node it cordoned.
pub const MARK: &str = "kubeforge.io/cordoned-by";

fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let node = a.req("node")?;
    let state = a.choice("state", "cordoned", &["cordoned", "uncordoned"])?;
    let kubectl = a.str_or("kubectl", "kubectl")?;
    let kubeconfig = a.str_or("kubeconfig", "/etc/kubernetes/admin.conf")?;
    let owner = a.str_or("owner", "kubeforge")?;
    let k = format!("{} --kubeconfig={} --request-timeout=30s", q(&kubectl), q(&kubeconfig));
    let n = q(&node);
    let o = q(&owner);
    // One read gives both facts: `unschedulable` and the mark (jsonpath escapes the dot).
    let read = format!(
        "out=$({k} get node {n} -o 'jsonpath={{.spec.unschedulable}}|{{.metadata.annotations.kubeforge\\.io/cordoned-by}}' 2>\"$KFS/kerr\"); rc=$?\n\
         u=${{out%%|*}}; m=${{out#*|}}\n\
         {}; echo 'KFVAR mark=cordoned-by'\n",
        kfvar("mark_node", &node)
    );
    let (probe, apply) = if state == "cordoned" {
        (
            format!(
                "{read}if [ $rc != 0 ]; then cat \"$KFS/kerr\" >&2; exit 1; fi\n\
                 if [ \"$u\" = true ]; then if [ \"$m\" = {o} ]; then echo 'already cordoned by kubeforge'; else echo 'already cordoned by the operator: left as it is'; fi; exit 0; fi\n\
                 echo 'KFVAR mark_state=set'; {}; exit $KF_CHANGE",
                say(&format!("cordon {node} (marked {MARK}={owner})"))
            ),
            format!("{k} annotate node {n} --overwrite {MARK}={o} >/dev/null && {k} cordon {n}"),
        )
    } else {
        (
            format!(
                "{read}if [ $rc != 0 ]; then if grep -q 'NotFound\\|not found' \"$KFS/kerr\"; then {}; exit 0; fi; cat \"$KFS/kerr\" >&2; exit 1; fi\n\
                 if [ \"$m\" = {o} ]; then echo 'KFVAR mark_state=cleared'; {}; exit $KF_CHANGE; fi\n\
                 if [ \"$u\" = true ]; then echo 'cordoned by the operator, not by kubeforge: left cordoned'; fi; exit 0",
                say(&format!("no node {node}: nothing to uncordon")),
                say(&format!("uncordon {node} (cordoned by kubeforge)"))
            ),
            format!("{k} uncordon {n} && {k} annotate node {n} {MARK}- >/dev/null"),
        )
    };
    Ok(Action::Remote(RemoteStep {
        probe,
        apply,
        probe_vars: true,
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "cordon",
    aliases: &[],
    args: &["node", "state", "kubectl", "kubeconfig", "owner"],
    required: &["node"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
