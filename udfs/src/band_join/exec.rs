//! [`BandJoinExec`]: the execution plan node of a band join.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{internal_err, plan_err, project_schema, JoinType, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::equivalence::{join_equivalence_properties, ProjectionMapping};
use datafusion::physical_expr::{LexOrdering, OrderingRequirements, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::joins::utils::{
    adjust_right_output_partitioning, build_join_schema, ColumnIndex, JoinFilter, JoinOn,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    apply_expression_roots, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, Partitioning, PlanProperties, ReplaceChildrenOptions,
};

use super::band::{domain_of_type, Band};
use super::sweep::{spawn, Sweep, SweepMetrics, SweepSpec};

/// Sort options of both inputs on `(keys, time)`.
const SORT_OPTIONS: SortOptions = SortOptions { descending: false, nulls_first: true };

/// A join whose condition is equality on `on` (possibly none) and a band on
/// one time column pair, plus an optional residual filter, executed as a
/// sorted sweep per key. Gives exactly the rows of the nested-loop
/// definition; supports inner, left, right and full joins.
///
/// Requires both inputs hash-partitioned on their keys (a single partition
/// without keys) and sorted by `(keys, time)`; DataFusion's
/// `EnsureRequirements` rule inserts the repartitions and spillable sorts.
#[derive(Debug)]
pub struct BandJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    on: JoinOn,
    band: Band,
    filter: Option<JoinFilter>,
    join_type: JoinType,
    projection: Option<Vec<usize>>,
    /// Schema of the join before the projection.
    join_schema: SchemaRef,
    /// Source of every output column (after the projection).
    output_columns: Vec<ColumnIndex>,
    left_ordering: LexOrdering,
    right_ordering: LexOrdering,
    metrics: ExecutionPlanMetricsSet,
    cache: Arc<PlanProperties>,
}

impl BandJoinExec {
    /// Builds the node. `projection` selects output columns from the join
    /// schema (left columns then right columns), like `HashJoinExec`'s.
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        on: JoinOn,
        band: Band,
        filter: Option<JoinFilter>,
        join_type: JoinType,
        projection: Option<Vec<usize>>,
    ) -> Result<Self> {
        if !matches!(join_type, JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full) {
            return plan_err!("BandJoinExec supports inner, left, right and full joins, not {join_type}");
        }
        let left_schema = left.schema();
        let right_schema = right.schema();
        let mut key_fields = Vec::with_capacity(on.len());
        for (l, r) in &on {
            let (lt, rt) = (l.data_type(&left_schema)?, r.data_type(&right_schema)?);
            if lt != rt {
                return plan_err!("BandJoinExec join keys {l} and {r} have different types {lt} and {rt}");
            }
            key_fields.push(SortField::new_with_options(lt, SORT_OPTIONS));
        }
        if !RowConverter::supports_fields(&key_fields) {
            return plan_err!("BandJoinExec cannot order its join keys");
        }
        for (schema, column) in [(&left_schema, &band.left), (&right_schema, &band.right)] {
            let Some(field) = schema.fields().get(column.index) else {
                return plan_err!("BandJoinExec time column {} is out of range", column.index);
            };
            if field.name() != &column.name || domain_of_type(field.data_type()) != Some((band.domain, column.scale)) {
                return plan_err!("BandJoinExec time column {} does not match its input", column.name);
            }
        }

        let (join_schema, column_indices) = build_join_schema(&left_schema, &right_schema, &join_type);
        let join_schema = Arc::new(join_schema);
        let output_columns = match &projection {
            Some(p) => p.iter().map(|&i| column_indices.get(i).cloned()).collect::<Option<Vec<_>>>(),
            None => Some(column_indices),
        };
        let Some(output_columns) = output_columns else {
            return plan_err!("BandJoinExec projection {projection:?} is out of range");
        };

        let (left_keys, right_keys): (Vec<_>, Vec<_>) = on.iter().map(|(l, r)| (Arc::clone(l), Arc::clone(r))).unzip();
        let left_ordering = ordering(left_keys, band.left.expr())?;
        let right_ordering = ordering(right_keys, band.right.expr())?;
        let cache = compute_properties(&left, &right, &join_schema, join_type, &on, projection.as_deref())?;
        Ok(Self {
            left,
            right,
            on,
            band,
            filter,
            join_type,
            projection,
            join_schema,
            output_columns,
            left_ordering,
            right_ordering,
            metrics: ExecutionPlanMetricsSet::new(),
            cache: Arc::new(cache),
        })
    }

    pub fn left(&self) -> &Arc<dyn ExecutionPlan> {
        &self.left
    }

    pub fn right(&self) -> &Arc<dyn ExecutionPlan> {
        &self.right
    }

    /// Equality keys `(left, right)`; empty for a pure band join.
    pub fn on(&self) -> &JoinOn {
        &self.on
    }

    pub fn band(&self) -> &Band {
        &self.band
    }

    /// The residual filter, evaluated on the pairs inside the band.
    pub fn filter(&self) -> Option<&JoinFilter> {
        self.filter.as_ref()
    }

    pub fn join_type(&self) -> JoinType {
        self.join_type
    }

    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }

    /// Whether the output keeps the left input's order (inner and left
    /// joins: each left row's matches are emitted in place).
    fn maintains_order(join_type: JoinType) -> Vec<bool> {
        match join_type {
            JoinType::Inner | JoinType::Left => vec![true, false],
            _ => vec![false, false],
        }
    }
}

fn ordering(keys: Vec<Arc<dyn PhysicalExpr>>, time: Arc<dyn PhysicalExpr>) -> Result<LexOrdering> {
    let exprs = keys.into_iter().chain([time]).map(|expr| PhysicalSortExpr { expr, options: SORT_OPTIONS });
    match LexOrdering::new(exprs) {
        Some(ordering) => Ok(ordering),
        None => internal_err!("BandJoinExec: empty input ordering"),
    }
}

fn compute_properties(
    left: &Arc<dyn ExecutionPlan>,
    right: &Arc<dyn ExecutionPlan>,
    join_schema: &SchemaRef,
    join_type: JoinType,
    on: &JoinOn,
    projection: Option<&[usize]>,
) -> Result<PlanProperties> {
    let mut eq_properties = join_equivalence_properties(
        left.equivalence_properties().clone(),
        right.equivalence_properties().clone(),
        &join_type,
        Arc::clone(join_schema),
        &BandJoinExec::maintains_order(join_type),
        // No probe side: for left rows that tie on the left ordering, the
        // output interleaves their matches, so it is ordered by the left
        // input only (a probe side would claim the right ordering after it).
        None,
        on,
    )?;
    // Partition i joins left partition i with right partition i.
    let mut partitioning = match join_type {
        JoinType::Left => left.output_partitioning().clone(),
        JoinType::Inner | JoinType::Right => {
            adjust_right_output_partitioning(right.output_partitioning(), left.schema().fields().len())?
        }
        _ => Partitioning::UnknownPartitioning(right.output_partitioning().partition_count()),
    };
    if let Some(projection) = projection {
        let mapping = ProjectionMapping::from_indices(projection, join_schema)?;
        let out_schema = project_schema(join_schema, Some(&projection.to_vec()))?;
        partitioning = partitioning.project(&mapping, &eq_properties);
        eq_properties = eq_properties.project(&mapping, out_schema);
    }
    let emission = match join_type {
        JoinType::Inner | JoinType::Left => EmissionType::Incremental,
        _ => EmissionType::Both,
    };
    let boundedness = if left.boundedness().is_unbounded() || right.boundedness().is_unbounded() {
        Boundedness::Unbounded { requires_infinite_memory: false }
    } else {
        Boundedness::Bounded
    };
    Ok(PlanProperties::new(eq_properties, partitioning, emission, boundedness))
}

impl DisplayAs for BandJoinExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let on = self.on.iter().map(|(l, r)| format!("({l}, {r})")).collect::<Vec<_>>().join(", ");
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "BandJoinExec: join_type={:?}, on=[{on}], band={}", self.join_type, self.band)?;
                if let Some(filter) = &self.filter {
                    write!(f, ", filter={}", filter.expression())?;
                }
                if let Some(projection) = &self.projection {
                    let names = projection
                        .iter()
                        .map(|&i| format!("{}@{i}", self.join_schema.field(i).name()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    write!(f, ", projection=[{names}]")?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => {
                if self.join_type != JoinType::Inner {
                    writeln!(f, "join_type={:?}", self.join_type)?;
                }
                if !self.on.is_empty() {
                    writeln!(f, "on={on}")?;
                }
                writeln!(f, "band={}", self.band)?;
                if let Some(filter) = &self.filter {
                    writeln!(f, "filter={filter}")?;
                }
                Ok(())
            }
        }
    }
}

impl ExecutionPlan for BandJoinExec {
    fn name(&self) -> &str {
        "BandJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        self.input_distribution_requirements().into_per_child()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        if self.on.is_empty() {
            return InputDistributionRequirements::new(vec![
                Distribution::SinglePartition,
                Distribution::SinglePartition,
            ]);
        }
        let (left, right) = self.on.iter().map(|(l, r)| (Arc::clone(l), Arc::clone(r))).unzip();
        InputDistributionRequirements::co_partitioned(vec![
            Distribution::KeyPartitioned(left),
            Distribution::KeyPartitioned(right),
        ])
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![
            Some(OrderingRequirements::from(self.left_ordering.clone())),
            Some(OrderingRequirements::from(self.right_ordering.clone())),
        ]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        Self::maintains_order(self.join_type)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let keys = self.on.iter().flat_map(|(l, r)| [l, r]);
        let filter = self.filter.iter().map(JoinFilter::expression);
        apply_expression_roots(keys.chain(filter), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right]: [Arc<dyn ExecutionPlan>; 2] = match children.try_into() {
            Ok(children) => children,
            Err(children) => return internal_err!("BandJoinExec takes 2 children, got {}", children.len()),
        };
        match options.children_properties {
            ChildrenPropertiesMode::Keep => Ok(Arc::new(Self {
                left,
                right,
                on: self.on.clone(),
                band: self.band.clone(),
                filter: self.filter.clone(),
                join_type: self.join_type,
                projection: self.projection.clone(),
                join_schema: Arc::clone(&self.join_schema),
                output_columns: self.output_columns.clone(),
                left_ordering: self.left_ordering.clone(),
                right_ordering: self.right_ordering.clone(),
                metrics: ExecutionPlanMetricsSet::new(),
                cache: Arc::clone(&self.cache),
            })),
            ChildrenPropertiesMode::Recompute => Ok(Arc::new(Self::try_new(
                left,
                right,
                self.on.clone(),
                self.band.clone(),
                self.filter.clone(),
                self.join_type,
                self.projection.clone(),
            )?)),
        }
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn with_new_children_and_same_properties(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let left_partitions = self.left.output_partitioning().partition_count();
        let right_partitions = self.right.output_partitioning().partition_count();
        if left_partitions != right_partitions {
            return internal_err!(
                "BandJoinExec inputs have {left_partitions} and {right_partitions} partitions; \
                 they must be partitioned alike"
            );
        }
        let (left_keys, right_keys) = self.on.iter().map(|(l, r)| (Arc::clone(l), Arc::clone(r))).unzip();
        let left_schema = self.left.schema();
        let key_types = self.on.iter().map(|(l, _)| l.data_type(&left_schema)).collect::<Result<Vec<_>>>()?;
        let spec = Arc::new(SweepSpec {
            join_type: self.join_type,
            band: self.band.clone(),
            left_keys,
            right_keys,
            key_types,
            sort_options: SORT_OPTIONS,
            residual: self.filter.clone(),
            output_schema: self.schema(),
            output_columns: self.output_columns.clone(),
        });
        let reservation = MemoryConsumer::new(format!("BandJoinExec[{partition}]")).register(context.memory_pool());
        let sweep = Sweep::try_new(
            spec,
            context.session_config().batch_size(),
            SweepMetrics::new(&self.metrics, partition),
            reservation,
        )?;
        let left = self.left.execute(partition, Arc::clone(&context))?;
        let right = self.right.execute(partition, context)?;
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema(), 2);
        spawn(&mut builder, sweep, left, right);
        Ok(builder.build())
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
