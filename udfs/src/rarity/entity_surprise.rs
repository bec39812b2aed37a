//! `entity_surprise(entity, value [, half_life])`: how unexpected a value is
//! for this entity given the entity's own history, in bits.

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowFunctionSimplification, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, WindowUDF, WindowUDFImpl};
use datafusion_macros::user_doc;

use super::history;
use super::plan::{self, Param, Spec};

static SPEC: Spec = Spec { name: "entity_surprise", param: Param::HalfLife };

/// `log2((N_e + 1) / (C_ev + 1))`: bits of surprise of a value for an entity
/// with `n_e` (weighted) history rows, `c_ev` of them with this value.
pub(crate) fn entity_surprise(n_e: f64, c_ev: f64) -> f64 {
    // C_ev <= N_e always; decayed sums can differ in the last bit.
    ((n_e + 1.0) / (c_ev + 1.0)).log2().max(0.0)
}

#[user_doc(
    doc_section(label = "Rarity Functions"),
    description = r#"How unexpected `value` is for `entity` given the entity's own history, in bits (>= 0): `log2((N_e + 1) / (C_ev + 1))`, where `N_e` is the number of history rows of the entity and `C_ev` the number of those with this value.

History is the rows of the same partition with a strictly earlier `ORDER BY` time; rows with equal times never see each other. A NULL value counts toward `N_e` but never matches (so `C_ev = 0`). A row with a NULL entity or NULL time returns NULL and is nobody's history. With `half_life`, a history row `dt` earlier weighs `2^(-dt / half_life)`. The window needs exactly one `ORDER BY` expression (timestamp, date or integer); the frame is ignored."#,
    syntax_example = "entity_surprise(entity, value [, half_life]) OVER ([PARTITION BY scope] ORDER BY time)",
    argument(name = "entity", description = "Who the value belongs to, e.g. a device id. Any comparable type."),
    argument(name = "value", description = "What is observed, e.g. `vendor || ':' || title`. Any comparable type."),
    argument(
        name = "half_life",
        description = "Optional constant INTERVAL (days, hours, ... but not months) after which a history row weighs half. With an integer `ORDER BY`, a number in the same units."
    ),
    sql_example = r#"```sql
> SELECT entity, value, entity_surprise(entity, value) OVER (ORDER BY time) AS bits
  FROM (VALUES ('pc1', 'a', 1), ('pc1', 'a', 2), ('pc1', 'b', 3)) AS t(entity, value, time);
+--------+-------+-------------------+
| entity | value | bits              |
+--------+-------+-------------------+
| pc1    | a     | 0.0               |
| pc1    | a     | 0.0               |
| pc1    | b     | 1.584962500721156 |
+--------+-------+-------------------+
```"#
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EntitySurprise {
    signature: Signature,
    /// Whether this is the rewritten call that carries its ORDER BY time.
    ordered: bool,
}

impl EntitySurprise {
    pub fn new() -> Self {
        Self { signature: plan::signature(), ordered: false }
    }

    fn ordered() -> WindowUDF {
        WindowUDF::new_from_impl(Self { signature: plan::signature(), ordered: true })
    }
}

impl Default for EntitySurprise {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowUDFImpl for EntitySurprise {
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
        Ok(Box::new(EntitySurpriseEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Field::new(field_args.name(), DataType::Float64, true).into())
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct EntitySurpriseEvaluator;

impl PartitionEvaluator for EntitySurpriseEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let call = plan::bind(&SPEC, values)?;
        let half_life = call.param.map(|span| span.ticks());
        history::float64_column(&call, half_life, |seen| entity_surprise(seen.n_e, seen.c_ev))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{days, float64s, no_param, ordered_columns, seconds};
    use super::*;

    fn run(rows: &[(Option<&str>, Option<&str>, i64)], param: datafusion::common::ScalarValue) -> Vec<Option<f64>> {
        let columns = ordered_columns(rows, param);
        float64s(&EntitySurpriseEvaluator.evaluate_all(&columns, rows.len()).unwrap())
    }

    #[test]
    fn formula() {
        assert_eq!(entity_surprise(0.0, 0.0), 0.0);
        assert_eq!(entity_surprise(3.0, 0.0), 2.0);
        assert_eq!(entity_surprise(3.0, 3.0), 0.0);
        assert_eq!(entity_surprise(7.0, 1.0), 2.0);
    }

    #[test]
    fn counts_only_strictly_earlier_rows_of_the_same_entity() {
        let rows = [
            (Some("pc1"), Some("a"), 1),
            (Some("pc2"), Some("b"), 1),
            (Some("pc1"), Some("a"), 2),
            (Some("pc1"), Some("b"), 3),
            (Some("pc1"), Some("a"), 4),
        ];
        // row 3: N=1, C=1 -> 0; row 4: N=2, C=0 -> log2(3); row 5: N=3, C=2 -> log2(4/3)
        let expected = [0.0, 0.0, 0.0, 3f64.log2(), (4f64 / 3.0).log2()];
        assert_eq!(run(&rows, no_param()), expected.map(Some));
    }

    #[test]
    fn equal_timestamps_never_see_each_other() {
        let rows = [(Some("pc1"), Some("a"), 5), (Some("pc1"), Some("b"), 5), (Some("pc1"), Some("c"), 5)];
        assert_eq!(run(&rows, no_param()), vec![Some(0.0); 3]);
        let rows = [(Some("pc1"), Some("a"), 5), (Some("pc1"), Some("b"), 5), (Some("pc1"), Some("c"), 6)];
        assert_eq!(run(&rows, no_param())[2], Some(3f64.log2()));
    }

    #[test]
    fn null_value_counts_toward_n_but_never_matches() {
        let rows = [(Some("pc1"), None, 1), (Some("pc1"), None, 2), (Some("pc1"), Some("a"), 3)];
        // row 2: N=1, C=0 -> 1 bit; row 3: N=2, C=0 -> log2(3)
        assert_eq!(run(&rows, no_param()), vec![Some(0.0), Some(1.0), Some(3f64.log2())]);
    }

    #[test]
    fn null_entity_and_null_time_give_null_and_are_not_history() {
        let rows = [(None, Some("a"), 1), (Some("pc1"), Some("a"), 2)];
        assert_eq!(run(&rows, no_param()), vec![None, Some(0.0)]);
        let mut columns = ordered_columns(&[(Some("pc1"), Some("a"), 1), (Some("pc1"), Some("b"), 2)], no_param());
        columns[3] = std::sync::Arc::new(arrow::array::TimestampSecondArray::from(vec![None, Some(2)]));
        let got = float64s(&EntitySurpriseEvaluator.evaluate_all(&columns, 2).unwrap());
        assert_eq!(got, vec![None, Some(0.0)]);
    }

    #[test]
    fn empty_partition() {
        assert_eq!(run(&[], no_param()), vec![]);
        assert_eq!(run(&[], days(1)), vec![]);
    }

    #[test]
    fn half_life_halves_the_weight_of_older_rows() {
        // One earlier row of another value, one half-life ago: N = 0.5, C = 0.
        let rows = [(Some("pc1"), Some("a"), 0), (Some("pc1"), Some("b"), 86_400)];
        assert_eq!(run(&rows, days(1))[1], Some(1.5f64.log2()));
        // Two half-lives ago, same value: N = C = 0.25.
        let rows = [(Some("pc1"), Some("a"), 0), (Some("pc1"), Some("a"), 20)];
        assert_eq!(run(&rows, seconds(10))[1], Some(0.0));
        // Seen from 20 with half-life 10: N = 0.25 + 0.5, C = 0.25.
        let rows = [(Some("pc1"), Some("a"), 0), (Some("pc1"), Some("b"), 10), (Some("pc1"), Some("a"), 20)];
        let got = run(&rows, seconds(10))[2].unwrap();
        assert!((got - (1.75f64 / 1.25).log2()).abs() < 1e-12, "{got}");
    }
}
