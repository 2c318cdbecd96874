//! End-to-end tests: a real Kafka-protocol broker (Tansu, started per test
//! on a free port) and the real hoso server, started in-process on port 0.

mod bad_input;
mod crash;
mod garbage;
mod harness;
mod import;
mod pipeline;
