//! `from()`: selects points of a stream by database, retention policy, measurement and
//! predicate, and sets their group dimensions.
//!
//! ```tick
//! stream|from().database('telegraf').measurement('cpu').where(lambda: "host" =~ /^web/).groupBy('host')
//! ```

use crate::lambda::Lambda;
use crate::nodes::GroupDimensions;
use crate::nodes::NodeSpec;
use crate::schema::{Arg, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
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

pub(crate) const KIND: NodeKind = NodeKind {
    method: "from",
    node_name: "from",
    args: Sig::NONE,
    props: &[
        prop("database", Sig::exact(&[("database", Arg::Str)])),
        prop(
            "retentionPolicy",
            Sig::exact(&[("retentionPolicy", Arg::Str)]),
        ),
        prop("measurement", Sig::exact(&[("measurement", Arg::Str)])),
        prop("where", Sig::exact(&[("predicate", Arg::Predicate)])),
        prop("groupBy", Sig::variadic("tag", Arg::StrOrStar)),
        prop("groupByMeasurement", Sig::NONE),
        prop("truncate", Sig::exact(&[("precision", Arg::Duration)])),
        prop("round", Sig::exact(&[("precision", Arg::Duration)])),
    ],
    handlers: &[],
    wants: Wants::Stream,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let mut group_by = match node.last("groupBy") {
        Some(call) => GroupDimensions::from_args(call.args.iter().map(|(value, _)| value)),
        None => GroupDimensions::default(),
    };
    group_by.by_measurement = node.flag("groupByMeasurement");
    let truncate = node.duration("truncate");
    let round = node.duration("round");
    for (name, value) in [("truncate", truncate), ("round", round)] {
        if value.is_some_and(|duration| duration.0 <= 0) {
            let span = node.span_of(name);
            node.error(
                crate::codes::INVALID_PROPERTY,
                format!("from().{name} needs a positive duration"),
                span,
            );
            return None;
        }
    }
    let non_empty = |value: Option<String>| value.filter(|text| !text.is_empty());
    Some(NodeSpec::From(FromSpec {
        database: non_empty(node.string("database")),
        retention_policy: non_empty(node.string("retentionPolicy")),
        measurement: non_empty(node.string("measurement")),
        where_: node.lambda("where"),
        group_by,
        truncate,
        round,
    }))
}
