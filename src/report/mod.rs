//! Output for people and scripts: inventory reports, plan listings, run events.
pub mod events;
pub mod health;
pub mod human;
pub mod inventory;
pub mod junit;
