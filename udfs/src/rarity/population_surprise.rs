//! `population_surprise(entity, value)`: how rare a value is across the
//! fleet (all entities of the partition), in bits.

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowFunctionSimplification, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, WindowUDF, WindowUDFImpl};
use datafusion_macros::user_doc;

use super::history;
use super::plan::{self, Param, Spec};

static SPEC: Spec = Spec { name: "population_surprise", param: Param::None };

/// `-log2((D_v + 1) / (E + 2))`: bits of surprise of a value seen on `d_v` of
/// the `e` entities with history.
pub(crate) fn population_surprise(d_v: u64, e: u64) -> f64 {
    -((d_v as f64 + 1.0) / (e as f64 + 2.0)).log2()
}

#[user_doc(
    doc_section(label = "Rarity Functions"),
    description = r#"How rare `value` is across the fleet, in bits (> 0): `-log2((D_v + 1) / (E + 2))`, where `D_v` is the number of distinct entities with a history row of this value and `E` the number of distinct entities with any history row.

History is the rows of the same partition with a strictly earlier `ORDER BY` time; rows with equal times never see each other. A NULL value counts toward `E` but adds nothing to any `D_v` and never matches (so `D_v = 0` for it). A row with a NULL entity or NULL time returns NULL and is nobody's history. Counts are never decayed. The window needs exactly one `ORDER BY` expression (timestamp, date or integer); the frame is ignored."#,
    syntax_example = "population_surprise(entity, value) OVER ([PARTITION BY scope] ORDER BY time)",
    argument(name = "entity", description = "Who the value belongs to, e.g. a device id. Any comparable type."),
    argument(name = "value", description = "What is observed, e.g. `vendor || ':' || title`. Any comparable type."),
    sql_example = r#"```sql
> SELECT entity, value, population_surprise(entity, value) OVER (ORDER BY time) AS bits
  FROM (VALUES ('pc1', 'a', 1), ('pc2', 'a', 2), ('pc3', 'b', 3)) AS t(entity, value, time);
+--------+-------+--------------------+
| entity | value | bits               |
+--------+-------+--------------------+
| pc1    | a     | 1.0                |
| pc2    | a     | 0.5849625007211562 |
| pc3    | b     | 2.0                |
+--------+-------+--------------------+
```"#
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PopulationSurprise {
    signature: Signature,
    /// Whether this is the rewritten call that carries its ORDER BY time.
    ordered: bool,
}

impl PopulationSurprise {
    pub fn new() -> Self {
        Self { signature: plan::signature(), ordered: false }
    }

    fn ordered() -> WindowUDF {
        WindowUDF::new_from_impl(Self { signature: plan::signature(), ordered: true })
    }
}

impl Default for PopulationSurprise {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowUDFImpl for PopulationSurprise {
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
        Ok(Box::new(PopulationSurpriseEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Field::new(field_args.name(), DataType::Float64, true).into())
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct PopulationSurpriseEvaluator;

impl PartitionEvaluator for PopulationSurpriseEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let call = plan::bind(&SPEC, values)?;
        history::float64_column(&call, None, |seen| population_surprise(seen.d_v, seen.e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{float64s, no_param, ordered_columns};
    use super::*;

    fn run(rows: &[(Option<&str>, Option<&str>, i64)]) -> Vec<Option<f64>> {
        let columns = ordered_columns(rows, no_param());
        float64s(&PopulationSurpriseEvaluator.evaluate_all(&columns, rows.len()).unwrap())
    }

    #[test]
    fn formula() {
        assert!((population_surprise(1, 1) - 3f64.log2() + 1.0).abs() < 1e-15);
        assert_eq!(population_surprise(0, 0), 1.0);
        assert_eq!(population_surprise(1, 2), 1.0);
        assert_eq!(population_surprise(0, 6), 3.0);
        assert_eq!(population_surprise(999, 1022), -(1000.0f64 / 1024.0).log2());
    }

    #[test]
    fn counts_distinct_entities_not_rows() {
        let rows = [
            (Some("pc1"), Some("a"), 1),
            (Some("pc1"), Some("a"), 2),
            (Some("pc1"), Some("a"), 3),
            (Some("pc2"), Some("b"), 4),
            (Some("pc3"), Some("a"), 5),
            (Some("pc3"), Some("b"), 6),
        ];
        // D_a: 0, 1, 1, -, 1; D_b at 4: 0, at 6: 1; E: 0, 1, 1, 1, 2, 3.
        let expected = [(0, 0), (1, 1), (1, 1), (0, 1), (1, 2), (1, 3)];
        assert_eq!(run(&rows), expected.map(|(d, e)| Some(population_surprise(d, e))));
    }

    #[test]
    fn ties_are_not_history() {
        let rows = [(Some("pc1"), Some("a"), 7), (Some("pc2"), Some("a"), 7), (Some("pc3"), Some("a"), 8)];
        // Row 3: D_a = 2, E = 2 -> log2(4/3).
        assert_eq!(run(&rows), vec![Some(1.0), Some(1.0), Some(population_surprise(2, 2))]);
    }

    #[test]
    fn null_value_counts_toward_e_only() {
        let rows = [(Some("pc1"), None, 1), (Some("pc2"), None, 2), (Some("pc3"), Some("a"), 3)];
        // Row 2: D_NULL = 0 (never matches), E = 1 -> log2(3); row 3: D_a = 0, E = 2 -> 2 bits.
        assert_eq!(run(&rows), vec![Some(1.0), Some(population_surprise(0, 1)), Some(2.0)]);
    }

    #[test]
    fn null_entity_is_null_and_not_counted() {
        let rows = [(None, Some("a"), 1), (Some("pc2"), Some("a"), 2)];
        assert_eq!(run(&rows), vec![None, Some(1.0)]);
    }

    #[test]
    fn input_in_descending_time_order_gives_the_same_result() {
        let rows = [(Some("pc3"), Some("a"), 3), (Some("pc2"), Some("a"), 2), (Some("pc1"), Some("a"), 1)];
        let expected = [(2, 2), (1, 1), (0, 0)];
        assert_eq!(run(&rows), expected.map(|(d, e)| Some(population_surprise(d, e))));
    }
}
