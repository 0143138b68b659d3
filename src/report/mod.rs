//! Output for people and scripts: inventory reports, plan listings, run events.
pub mod inventory;
