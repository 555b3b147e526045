//! `from()`: selects points of a stream by database, retention policy, measurement and
//! predicate, and sets their group dimensions.
//!
//! ```tick
//! stream|from().database('telegraf').measurement('cpu').where(lambda: "host" =~ /^web/).groupBy('host')
//! ```

use crate::lambda::Lambda;
use crate::nodes::GroupDimensions;
use crate::value::Duration;

/// Properties of `from()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FromSpec {
    /// Only points written to this database (empty: any).
    pub database: Option<String>,
    /// Only points written to this retention policy (empty: any).
    pub retention_policy: Option<String>,
    /// Only points of this measurement (empty: any).
    pub measurement: Option<String>,
    /// Only points for which this is true.
    pub where_: Option<Lambda>,
    /// Group dimensions set on the selected points.
    pub group_by: GroupDimensions,
    /// Truncate point times to a multiple of this.
    pub truncate: Option<Duration>,
    /// Round point times to the nearest multiple of this.
    pub round: Option<Duration>,
}
