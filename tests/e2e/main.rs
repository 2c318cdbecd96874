//! End-to-end tests: a real Kafka-protocol broker (Tansu, started per test
//! on a free port) and the real hoso server, started in-process on port 0.

mod alerts;
mod auth;
mod bad_input;
mod bench;
mod broker_restart;
mod cold;
mod concurrency;
mod crash;
mod dashboard;
mod dead_letters;
mod deploy;
mod flight_sql;
mod generator;
mod grafana;
mod harness;
mod import;
mod kpi_views;
mod late_data;
mod pipeline;
mod portal;
mod postgres;
mod promtool;
mod query_suite;
mod replay;
mod scale_out;
mod score_766;
mod system_tables;
