//! The National Public Service Portal's synchronisation format, as the
//! provinces' filing systems send it (`DongBoHoSoMC` records,
//! `CapNhatTienDoHoSoMC` steps; `../shared/docs/sources.md`). Pure
//! parsing: ingest uses it to refuse a bad request field by field before
//! anything is published.

pub mod date;
pub mod derive;
pub mod envelope;
pub mod index;
pub mod record;
pub mod request;
pub mod step;
pub mod unit_map;
pub mod value;
