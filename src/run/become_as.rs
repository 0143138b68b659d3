//! Who a task runs as. `become` (task, block, role entry, play) turns it on; the user is
//! `ansible_become_user` (an inventory or play/task variable) else the `become_user`
//! keyword (task, block, role entry, play) else root; the method is
//! `ansible_become_method` else `become_method` else sudo. As in Ansible, the variables
//! win over the keywords. sudo is the only method: `su` reads its password from a
//! terminal, which kubeforge never opens, and anything else is unknown to it; both are
//! refused naming the host and the variable or keyword that chose them.

use super::worker::Worker;
use crate::playbook::Task;
use crate::transport::Become;
use serde_json::Value;

impl Worker<'_> {
    /// How `task` runs on this host, or why it cannot.
    pub(super) fn become_for(&self, task: &Task) -> Result<Become, String> {
        if !task.become_.unwrap_or(self.play.play.become_) {
            return Ok(Become::No);
        }
        let kw = task.become_as.or(&self.play.play.become_as);
        let scope = self.scope(task, None);
        let var = |name: &str| -> Option<String> {
            scope
                .get_attr(name)
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_none())
                .map(|v| v.to_string())
        };
        let keyword = |raw: &Option<String>, name: &str| -> Result<Option<String>, String> {
            let Some(raw) = raw else { return Ok(None) };
            match crate::vars::render(&scope, &Value::String(raw.clone())) {
                Ok(Value::String(s)) => Ok(Some(s)),
                Ok(other) => Ok(Some(other.to_string())),
                Err(e) => Err(format!("{name} ({}): {e}", task.location)),
            }
        };
        let host = &self.host;
        let chosen =
            |v: &str, k: &str, raw: &Option<String>| -> Result<Option<(String, String)>, String> {
                if let Some(x) = var(v) {
                    return Ok(Some((x, v.to_string())));
                }
                Ok(keyword(raw, k)?.map(|x| (x, format!("{k} (at {})", task.location))))
            };
        if let Some((method, from)) = chosen("ansible_become_method", "become_method", &kw.method)?
        {
            check_method(host, &method, &from)?;
        }
        match chosen("ansible_become_user", "become_user", &kw.user)? {
            None => Ok(Become::Root),
            Some((user, from)) => {
                let user = user.trim().to_string();
                if user.is_empty() || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("{host}: {from} must be a user name, not '{user}'"));
                }
                Ok(Become::user(&user))
            }
        }
    }
}

/// sudo, or the refusal naming host and setting.
pub(super) fn check_method(host: &str, method: &str, from: &str) -> Result<(), String> {
    match method.trim() {
        "sudo" => Ok(()),
        "su" => Err(format!(
            "{host}: {from} is su, which kubeforge does not support: su reads its password from a terminal and kubeforge opens none (it never prompts); use sudo (set {from} to sudo, or remove it) with ansible_become_password when sudo asks for one"
        )),
        other => Err(format!(
            "{host}: {from} is '{other}', which kubeforge does not support: it becomes root or another user with sudo only; set {from} to sudo, or remove it"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::check_method;

    #[test]
    fn only_sudo_is_accepted_and_refusals_name_host_and_setting() {
        // (method, from, Ok or the start of the refusal)
        for (method, from, want) in [
            ("sudo", "ansible_become_method", Ok(())),
            (" sudo ", "become_method (at play.yml:3)", Ok(())),
            ("su", "ansible_become_method", Err("n1: ansible_become_method is su, which kubeforge does not support: su reads its password from a terminal")),
            ("doas", "ansible_become_method", Err("n1: ansible_become_method is 'doas', which kubeforge does not support")),
            ("pbrun", "become_method (at play.yml:3)", Err("n1: become_method (at play.yml:3) is 'pbrun', which kubeforge does not support")),
        ] {
            match (check_method("n1", method, from), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{got}"),
                (got, want) => panic!("{method}: got {got:?}, want {want:?}"),
            }
        }
    }
}
