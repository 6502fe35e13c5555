//! The page's panels. Each reads the shared [`crate::state::Ctx`].

pub mod cards;
pub mod connect;
pub mod dashboard;
pub mod definitions;
pub mod dialogs;
pub mod downloads;
pub mod embed;
pub mod filters;
pub mod health;
pub mod load;
pub mod people;
pub mod rollout;
pub mod share_dialog;
pub mod shared_page;
pub mod sources;
pub mod teams;
