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
    let limit = Duration::from_secs(ssh.connect_timeout.max(1) + 20);
    Ok(runtime.block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        for h in targets {
            let connector = connector.clone();
            set.spawn(async move {
                let name = h.name.clone();
                let outcome = tokio::time::timeout(limit, async move {
                    let conn = connector(h).await.map_err(|e| e.to_string())?;
                    let out = conn
                        .exec(crate::transport::ExecRequest {
                            script: "true".into(),
                            become_: false,
                            timeout: Duration::from_secs(20),
                        })
                        .await
                        .map_err(|e| e.to_string());
                    conn.close().await;
                    out.map(|_| ())
                })
                .await;
                let why = match outcome {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(_) => Some(format!("no answer within {} s", limit.as_secs())),
                };
                (name, why)
            });
        }
        let mut out = BTreeMap::new();
        while let Some(r) = set.join_next().await {
            if let Ok((h, why)) = r {
                out.insert(h, why);
            }
        }
        out
    }))
}
