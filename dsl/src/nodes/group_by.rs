//! `groupBy(tag... | *)`: sets the group dimensions of points.
//!
//! ```tick
//! stream|from()|groupBy(*).exclude('cpu')
//! ```

use crate::nodes::NodeSpec;
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};

/// Which tags make up a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupDimensions {
    /// The named tags (sorted, deduplicated).
    pub tags: Vec<String>,
    /// `*`: every tag of each point.
    pub all: bool,
    /// Tags left out when `all` is set.
    pub exclude: Vec<String>,
    /// Include the measurement in the group key.
    pub by_measurement: bool,
}

/// Properties of `groupBy()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupBySpec {
    /// The dimensions.
    pub dimensions: GroupDimensions,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "groupBy",
    node_name: "groupby",
    args: Sig::variadic("tag", Arg::StrOrStar),
    props: &[
        prop("exclude", Sig::variadic("tag", Arg::Str)),
        prop("byMeasurement", Sig::NONE),
    ],
    handlers: &[],
    wants: Wants::Any,
    provides: Provides::Same,
    chains: Chains::Common,
    build,
};

impl GroupDimensions {
    /// Dimensions from `groupBy` arguments (`'tag'` or `*`), sorted and deduplicated.
    pub(crate) fn from_args<'a>(args: impl IntoIterator<Item = &'a ArgValue>) -> GroupDimensions {
        let mut dimensions = GroupDimensions::default();
        for arg in args {
            match arg {
                ArgValue::Star => dimensions.all = true,
                ArgValue::Str(tag) => dimensions.tags.push(tag.clone()),
                _ => {}
            }
        }
        dimensions.tags.sort();
        dimensions.tags.dedup();
        dimensions
    }
}

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let mut dimensions = GroupDimensions::from_args(node.call.args.iter().map(|(value, _)| value));
    dimensions.exclude = node.strings_all("exclude");
    dimensions.by_measurement = node.flag("byMeasurement");
    Some(NodeSpec::GroupBy(GroupBySpec { dimensions }))
}
