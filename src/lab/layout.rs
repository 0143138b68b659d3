//! Which hosts of a lab go in which Kubespray group, by layout (Kubespray's CI modes).

use super::error::LabError;

/// How a lab's hosts are split into kube_control_plane, kube_node and etcd.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// node1 control plane, the last node etcd only, the others workers (3+ hosts).
    Separate,
    /// node1 and node2 control plane, node1..3 etcd, node3 and after workers (3+ hosts).
    Ha,
    /// node1 control plane and etcd, the others workers (node1 too when it is alone).
    Default,
    /// node1 everything; any other host is a worker.
    AllInOne,
}

/// The groups of a lab: host numbers (1-based) in each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    /// kube_control_plane.
    pub control_plane: Vec<usize>,
    /// kube_node.
    pub nodes: Vec<usize>,
    /// etcd.
    pub etcd: Vec<usize>,
}

impl Layout {
    /// The fewest hosts the layout needs.
    pub fn min_hosts(self) -> usize {
        match self {
            Layout::Separate | Layout::Ha => 3,
            Layout::Default | Layout::AllInOne => 1,
        }
    }

    /// The layout's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Separate => "separate",
            Layout::Ha => "ha",
            Layout::Default => "default",
            Layout::AllInOne => "all-in-one",
        }
    }

    /// The groups for `n` hosts.
    pub fn groups(self, n: usize) -> Result<Groups, LabError> {
        if n < self.min_hosts() {
            return Err(LabError::Usage(format!(
                "layout {} needs at least {} hosts (-n {})",
                self.name(),
                self.min_hosts(),
                self.min_hosts()
            )));
        }
        let all: Vec<usize> = (1..=n).collect();
        Ok(match self {
            Layout::Separate => Groups {
                control_plane: vec![1],
                nodes: (2..n).collect(),
                etcd: vec![n],
            },
            Layout::Ha => Groups {
                control_plane: vec![1, 2],
                nodes: (3..=n).collect(),
                etcd: vec![1, 2, 3],
            },
            Layout::Default => Groups {
                control_plane: vec![1],
                nodes: if n == 1 { vec![1] } else { (2..=n).collect() },
                etcd: vec![1],
            },
            Layout::AllInOne => Groups {
                control_plane: vec![1],
                nodes: all,
                etcd: vec![1],
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubespray_modes_on_three_hosts() {
        let g = Layout::Separate.groups(3).unwrap();
        assert_eq!(
            (g.control_plane, g.nodes, g.etcd),
            (vec![1], vec![2], vec![3])
        );
        let g = Layout::Ha.groups(3).unwrap();
        assert_eq!(
            (g.control_plane, g.nodes, g.etcd),
            (vec![1, 2], vec![3], vec![1, 2, 3])
        );
        let g = Layout::Default.groups(3).unwrap();
        assert_eq!(
            (g.control_plane, g.nodes, g.etcd),
            (vec![1], vec![2, 3], vec![1])
        );
        let g = Layout::AllInOne.groups(1).unwrap();
        assert_eq!(
            (g.control_plane, g.nodes, g.etcd),
            (vec![1], vec![1], vec![1])
        );
    }

    #[test]
    fn bigger_and_too_small() {
        let g = Layout::Separate.groups(5).unwrap();
        assert_eq!(
            (g.control_plane, g.nodes, g.etcd),
            (vec![1], vec![2, 3, 4], vec![5])
        );
        assert_eq!(Layout::Default.groups(1).unwrap().nodes, vec![1]);
        let e = Layout::Ha.groups(2).unwrap_err().to_string();
        assert_eq!(e, "layout ha needs at least 3 hosts (-n 3)");
        assert!(Layout::Separate.groups(1).is_err());
    }
}
