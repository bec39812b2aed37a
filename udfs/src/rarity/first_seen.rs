//! `first_seen(entity, value [, lookback])`: whether this is the first time
//! the entity shows this value (within the lookback).

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowFunctionSimplification, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, WindowUDF, WindowUDFImpl};
use datafusion_macros::user_doc;

use super::history::{self, Observation};
use super::plan::{self, Param, Span, Spec};

static SPEC: Spec = Spec { name: "first_seen", param: Param::Lookback };

/// TRUE unless a history row of the entity has the value (within `lookback`).
pub(crate) fn first_seen(seen: &Observation, lookback: Option<Span>) -> bool {
    match (seen.since_last_match, lookback) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(gap), Some(lookback)) => !lookback.covers(gap),
    }
}

#[user_doc(
    doc_section(label = "Rarity Functions"),
    description = r#"TRUE when no history row of `entity` has `value`. With `lookback`, only history rows at most `lookback` before count (`time_i - lookback <= time_j`).

History is the rows of the same partition with a strictly earlier `ORDER BY` time; rows with equal times never see each other, so two identical rows at the same time are both first seen. A NULL value never matches, so it is always TRUE. A row with a NULL entity or NULL time returns NULL and is nobody's history. The window needs exactly one `ORDER BY` expression (timestamp, date or integer); the frame is ignored."#,
    syntax_example = "first_seen(entity, value [, lookback]) OVER ([PARTITION BY scope] ORDER BY time)",
    argument(name = "entity", description = "Who the value belongs to, e.g. a device id. Any comparable type."),
    argument(
        name = "value",
        description = "What is observed, e.g. a destination or a process name. Any comparable type."
    ),
    argument(
        name = "lookback",
        description = "Optional constant INTERVAL (days, hours, ... but not months), >= 0. With an integer `ORDER BY`, a number in the same units."
    ),
    sql_example = r#"```sql
> SELECT entity, value, time, first_seen(entity, value) OVER (ORDER BY time) AS new
  FROM (VALUES ('pc1', 'a', 1), ('pc1', 'a', 2), ('pc1', 'b', 2), ('pc2', 'a', 3)) AS t(entity, value, time);
+--------+-------+------+-------+
| entity | value | time | new   |
+--------+-------+------+-------+
| pc1    | a     | 1    | true  |
| pc1    | a     | 2    | false |
| pc1    | b     | 2    | true  |
| pc2    | a     | 3    | true  |
+--------+-------+------+-------+
```"#
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FirstSeen {
    signature: Signature,
    /// Whether this is the rewritten call that carries its ORDER BY time.
    ordered: bool,
}

impl FirstSeen {
    pub fn new() -> Self {
        Self { signature: plan::signature(), ordered: false }
    }

    fn ordered() -> WindowUDF {
        WindowUDF::new_from_impl(Self { signature: plan::signature(), ordered: true })
    }
}

impl Default for FirstSeen {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowUDFImpl for FirstSeen {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        plan::coerce_types(&SPEC, arg_types)
    }

    fn simplify(&self) -> Option<WindowFunctionSimplification> {
        plan::simplifier(&SPEC, self.ordered, Self::ordered)
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(FirstSeenEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Field::new(field_args.name(), DataType::Boolean, true).into())
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct FirstSeenEvaluator;

impl PartitionEvaluator for FirstSeenEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let call = plan::bind(&SPEC, values)?;
        let lookback = call.param;
        history::boolean_column(&call, None, |seen| first_seen(seen, lookback))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::common::ScalarValue;

    use super::super::tests::{booleans, days, no_param, ordered_columns, seconds};
    use super::*;

    fn run(rows: &[(Option<&str>, Option<&str>, i64)], param: ScalarValue) -> Vec<Option<bool>> {
        let columns = ordered_columns(rows, param);
        booleans(&FirstSeenEvaluator.evaluate_all(&columns, rows.len()).unwrap())
    }

    #[test]
    fn first_time_per_entity_and_value() {
        let rows = [
            (Some("pc1"), Some("a"), 1),
            (Some("pc1"), Some("a"), 2),
            (Some("pc1"), Some("b"), 2),
            (Some("pc2"), Some("a"), 3),
            (Some("pc1"), Some("b"), 4),
        ];
        let expected = [true, false, true, true, false];
        assert_eq!(run(&rows, no_param()), expected.map(Some));
    }

    #[test]
    fn duplicates_at_the_same_time_are_all_first() {
        let rows = [(Some("pc1"), Some("a"), 9), (Some("pc1"), Some("a"), 9), (Some("pc1"), Some("a"), 10)];
        assert_eq!(run(&rows, no_param()), vec![Some(true), Some(true), Some(false)]);
    }

    #[test]
    fn nulls_and_empty_input() {
        assert_eq!(run(&[], no_param()), vec![]);
        let rows = [(Some("pc1"), None, 1), (Some("pc1"), None, 2), (None, Some("a"), 3), (None, Some("a"), 4)];
        assert_eq!(run(&rows, no_param()), vec![Some(true), Some(true), None, None]);
    }

    #[test]
    fn lookback_bounds_are_inclusive() {
        // Seen at 0; looked at 10 s later with lookback 10 s (counts) and 9 s (does not).
        let rows = [(Some("pc1"), Some("a"), 0), (Some("pc1"), Some("a"), 10)];
        assert_eq!(run(&rows, seconds(10)), vec![Some(true), Some(false)]);
        assert_eq!(run(&rows, seconds(9)), vec![Some(true), Some(true)]);
        // The latest sighting decides: 0, 8, then 15 with lookback 10 -> seen at 8.
        let rows = [(Some("pc1"), Some("a"), 0), (Some("pc1"), Some("a"), 8), (Some("pc1"), Some("a"), 15)];
        assert_eq!(run(&rows, seconds(10)), vec![Some(true), Some(false), Some(false)]);
        // Lookback 0 sees no history at all.
        assert_eq!(run(&rows, seconds(0)), vec![Some(true); 3]);
        let rows = [(Some("pc1"), Some("a"), 0), (Some("pc1"), Some("a"), 2 * 86_400 + 1)];
        assert_eq!(run(&rows, days(2)), vec![Some(true), Some(true)]);
    }
}
