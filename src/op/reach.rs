//! Can these hosts be reached? One connection and one `true` each, all at once, each
//! bounded by the connect timeout: what day-2 operations check before they change
//! anything (existing hosts for scale, the nodes being removed for remove-node).

use super::OpError;
use crate::cli::SshArgs;
use crate::cluster::Cluster;
use std::collections::BTreeMap;
use std::time::Duration;

/// For each host: None when it answered, else why not.
pub fn probe(
    cluster: &Cluster,
    hosts: &[String],
    ssh: &SshArgs,
) -> Result<BTreeMap<String, Option<String>>, OpError> {
    Ok(run(cluster, hosts, ssh, "true", false)?
        .into_iter()
        .map(|(h, r)| (h, r.err()))
        .collect())
}

/// Runs `script` on each host at once: its stdout when it exited 0, else why not
/// (unreachable, or the exit code and stderr).
pub fn run(
    cluster: &Cluster,
    hosts: &[String],
    ssh: &SshArgs,
    script: &str,
    become_: bool,
) -> Result<BTreeMap<String, Result<String, String>>, OpError> {
    let connector = super::connect::connector(super::connect::options(ssh, cluster));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| OpError::Io {
            what: "cannot start the runtime".into(),
            source,
        })?;
    let targets: Vec<_> = hosts
        .iter()
        .filter_map(|h| cluster.host(h).cloned())
        .collect();
    // The ssh config may set a longer ConnectTimeout per host: allow for 120 s.
    let limit = Duration::from_secs(ssh.connect_timeout.unwrap_or(120).max(1) + 70);
    Ok(runtime.block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        for h in targets {
            let connector = connector.clone();
            let script = script.to_string();
            set.spawn(async move {
                let name = h.name.clone();
                let outcome = tokio::time::timeout(limit, async move {
                    let conn = connector(h).await.map_err(|e| e.to_string())?;
                    let out = conn
                        .exec(crate::transport::ExecRequest {
                            script,
                            become_: crate::transport::Become::root_if(become_),
                            timeout: Duration::from_secs(60),
                        })
                        .await
                        .map_err(|e| e.to_string());
                    conn.close().await;
                    let out = out?;
                    if out.exit_code == Some(0) {
                        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
                    } else {
                        Err(format!(
                            "exit {:?}: {}",
                            out.exit_code,
                            String::from_utf8_lossy(&out.stderr).trim()
                        ))
                    }
                })
                .await;
                let result = match outcome {
                    Ok(r) => r,
                    Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
                };
                (name, result)
            });
        }
        let mut out = BTreeMap::new();
        while let Some(r) = set.join_next().await {
            if let Ok((h, result)) = r {
                out.insert(h, result);
            }
        }
        out
    }))
}
