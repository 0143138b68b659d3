//! `kubeforge lab`: throwaway Debian 12 hosts on this machine (systemd-nspawn, one network
//! namespace each, on a private bridge), with a Kubespray-style inventory for them.
//! Several labs run side by side by name; each is removed by its own record.
//!
//! Files: [`names`] (names and addresses), [`layout`] (groups per layout), [`inventory`]
//! (the inventory directory), [`record`] (what a lab made), [`tools`] (root and
//! packages), [`rootfs`] (debootstrap cache), [`net`] (bridge, namespaces, isolation,
//! NAT), [`cgroup`], [`host`] (overlay, boot, stop), [`ssh`] (key, readiness, commands),
//! [`files`] (the files repository server), [`lifecycle`] (up, down, start, stop, wipe,
//! status).

pub mod cgroup;
pub mod error;
pub mod exec;
pub mod files;
pub mod host;
pub mod inventory;
pub mod layout;
pub mod lifecycle;
pub mod names;
pub mod net;
pub mod record;
pub mod rootfs;
pub mod ssh;
pub mod tools;

pub use error::LabError;
pub use layout::Layout;
pub use lifecycle::{
    down, ssh_run, start, status, stop, up, wipe, DownReport, HostStatus, LabStatus, UpOptions,
    UpReport,
};
