//! The `hoso` binary's library: configuration, wiring and shutdown. Kept as
//! a library so the end-to-end tests start the real server in-process.

pub mod cli;
pub mod config;
pub mod demo;
pub mod import;
pub mod ops;
pub mod replay;
pub mod topic;
pub mod up;
