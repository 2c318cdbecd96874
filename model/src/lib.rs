//! hoso-model: the outside of hoso, as types.
//!
//! Everything here is pure: the filing event and its validation
//! ([`decode`]), the filing lifecycle and its fold ([`fold`]), the working
//! time arithmetic of the contract ([`time`]), the Arrow schemas of the SQL
//! tables ([`schema`]) and the interface through which the query side reads
//! the processor's tables ([`tables`]). This crate knows nothing of Kafka,
//! HTTP or DataFusion; the other crates meet only here.

pub mod calendar;
pub mod catalogue;
pub mod checkpoint;
pub mod codec;
pub mod decode;
pub mod event;
pub mod fold;
pub mod health;
pub mod intern;
pub mod portal;
pub mod schema;
pub mod tables;
pub mod time;
pub mod units;
pub mod views;

pub use decode::{InvalidEvent, decode_event, decode_event_with};
pub use event::{Channel, Event, EventType};
pub use fold::{Applied, Contribution, FilingState, Outcome, Received, Rejection};
pub use intern::Interner;
