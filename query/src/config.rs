//! Query settings. Units are in the key names.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// A query still running after this long is cancelled.
    pub timeout_ms: u64,
    /// DataFusion's parallelism per query.
    pub target_partitions: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            timeout_ms: 30_000,
            target_partitions: 2,
        }
    }
}
