//! The `hoso` binary's library: configuration, wiring and shutdown. Kept as
//! a library so the end-to-end tests start the real server in-process.

pub mod alert_topic;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
/// `hoso gen` (`gen` is a reserved word in Rust 2024, hence `r#gen`).
pub mod r#gen;
pub mod import;
pub mod ops;
pub mod replay;
pub mod topic;
pub mod up;
