//! The physical optimizer rule that turns band joins into [`BandJoinExec`].

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{JoinType, NullEquality, Result};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::utils::{JoinFilter, JoinOn};
use datafusion::physical_plan::joins::{CrossJoinExec, HashJoinExec, NestedLoopJoinExec, SortMergeJoinExec};
use datafusion::physical_plan::ExecutionPlan;

use super::band::recognise_band;
use super::exec::BandJoinExec;

/// Replaces every supported join whose filter holds a band (see
/// [`recognise_band`]) with a [`BandJoinExec`]:
///
/// * `HashJoinExec` (equality keys, the band in its filter) and
///   `SortMergeJoinExec`, with `NULL`s never equal;
/// * `NestedLoopJoinExec` (no equality key);
/// * `FilterExec` over `CrossJoinExec` (inner, no equality key);
///
/// for inner, left, right and full joins, keeping the node's output schema
/// (including a projection embedded in the join). Anything else is left as
/// it is.
///
/// Must run after `JoinSelection` (join sides and modes are final, so swapped
/// inputs and their projections are seen as they will run) and before
/// `EnsureRequirements`, which then satisfies [`BandJoinExec`]'s distribution
/// and ordering requirements with repartitions and spillable sorts.
#[derive(Debug, Default)]
pub struct BandJoinRule;

impl BandJoinRule {
    pub const NAME: &'static str = "BandJoin";

    pub fn new() -> Self {
        Self
    }
}

impl PhysicalOptimizerRule for BandJoinRule {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match band_join_for(&node) {
                Some(band_join) => Transformed::yes(band_join),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        Self::NAME
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The parts of a join node the band join needs.
struct JoinParts {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    on: JoinOn,
    filter: JoinFilter,
    join_type: JoinType,
    projection: Option<Vec<usize>>,
}

/// The band join computing exactly what `plan` computes, if there is one.
pub fn band_join_for(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    if plan.fetch().is_some() {
        return None;
    }
    let parts = join_parts(plan)?;
    if !matches!(parts.join_type, JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full) {
        return None;
    }
    let recognised = recognise_band(&parts.filter, &parts.left.schema(), &parts.right.schema())?;
    let exec = BandJoinExec::try_new(
        parts.left,
        parts.right,
        parts.on,
        recognised.band,
        recognised.residual,
        parts.join_type,
        parts.projection,
    )
    .ok()?;
    same_fields(&exec.schema(), &plan.schema()).then(|| Arc::new(exec) as Arc<dyn ExecutionPlan>)
}

fn join_parts(plan: &Arc<dyn ExecutionPlan>) -> Option<JoinParts> {
    if let Some(join) = plan.downcast_ref::<HashJoinExec>() {
        if join.null_equality() != NullEquality::NullEqualsNothing || join.null_aware {
            return None;
        }
        return Some(JoinParts {
            left: Arc::clone(join.left()),
            right: Arc::clone(join.right()),
            on: join.on().to_vec(),
            filter: join.filter()?.clone(),
            join_type: *join.join_type(),
            projection: join.projection.as_deref().map(<[usize]>::to_vec),
        });
    }
    if let Some(join) = plan.downcast_ref::<SortMergeJoinExec>() {
        if join.null_equality() != NullEquality::NullEqualsNothing {
            return None;
        }
        return Some(JoinParts {
            left: Arc::clone(join.left()),
            right: Arc::clone(join.right()),
            on: join.on().to_vec(),
            filter: join.filter().clone()?,
            join_type: join.join_type(),
            projection: None,
        });
    }
    if let Some(join) = plan.downcast_ref::<NestedLoopJoinExec>() {
        return Some(JoinParts {
            left: Arc::clone(join.left()),
            right: Arc::clone(join.right()),
            on: Vec::new(),
            filter: join.filter()?.clone(),
            join_type: *join.join_type(),
            projection: join.projection().as_deref().map(<[usize]>::to_vec),
        });
    }
    if let Some(filter) = plan.downcast_ref::<FilterExec>() {
        let cross = filter.input().downcast_ref::<CrossJoinExec>()?;
        let (left, right) = (Arc::clone(cross.left()), Arc::clone(cross.right()));
        let column_indices = JoinFilter::build_column_indices(
            (0..left.schema().fields().len()).collect(),
            (0..right.schema().fields().len()).collect(),
        );
        let join_filter = JoinFilter::new(Arc::clone(filter.predicate()), column_indices, cross.schema());
        return Some(JoinParts {
            left,
            right,
            on: Vec::new(),
            filter: join_filter,
            join_type: JoinType::Inner,
            projection: filter.projection().as_deref().map(<[usize]>::to_vec),
        });
    }
    None
}

/// Same column names, types and nullability.
fn same_fields(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type() && a.is_nullable() == b.is_nullable())
}
