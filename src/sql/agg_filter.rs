//! An aggregate's `FILTER (WHERE cond)`: a row for which `cond` is not TRUE
//! does not reach that aggregate.
//!
//! It is bound into the aggregate's argument: `f(x) FILTER (WHERE c)`
//! aggregates `CASE WHEN c THEN x END`, which every aggregate but `COUNT(*)`
//! already skips where NULL, and `COUNT(*) FILTER (WHERE c)` becomes
//! `COUNT(CASE WHEN c THEN TRUE END)`. So COUNT gives 0 for a group where no
//! row passed, the others NULL. The operators see an ordinary argument: a
//! query without FILTER runs exactly as before, and a filtered argument is
//! computed in one pass over the batch (`exec::case_mask`).

use super::bind::{contains_aggregate, error_at, unsupported};
use super::binder::Binder;
use super::plan::AggFunc;
use crate::data::{DataType, Value};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::expr::Expr;
use sqlparser::ast;

impl Binder<'_> {
    /// Binds `cond` of `name(...) FILTER (WHERE cond)`, over the input rows
    /// (not the groups).
    pub(super) fn bind_filter(&mut self, cond: &ast::Expr, name: &str) -> Result<Expr, SqlError> {
        let grouping = self.grouping.take();
        let bound = self.bind(cond);
        self.grouping = grouping;
        let bound = bound.map_err(|err| {
            if contains_aggregate(cond) {
                unsupported(cond, "an aggregate's FILTER cannot hold an aggregate")
            } else {
                err
            }
        })?;
        match bound {
            Expr::Literal {
                value: Value::Null, ..
            } => Ok(Expr::Literal {
                value: Value::Null,
                data_type: DataType::Bool,
            }),
            b if b.data_type() == DataType::Bool => Ok(b),
            b => Err(error_at(
                cond,
                SqlErrorKind::TypeMismatch,
                format!(
                    "{name}'s FILTER needs a BOOLEAN condition, found {}",
                    b.data_type()
                ),
            )),
        }
    }
}

/// The call that aggregates `func(arg)` over only the rows where `filter`
/// is TRUE.
pub(super) fn filtered(func: AggFunc, arg: Option<Expr>, filter: Expr) -> (AggFunc, Option<Expr>) {
    let (func, then) = match (func, arg) {
        (func, Some(arg)) if func != AggFunc::CountStar => (func, arg),
        _ => (
            AggFunc::Count,
            Expr::Literal {
                value: Value::Bool(true),
                data_type: DataType::Bool,
            },
        ),
    };
    let data_type = then.data_type();
    let masked = Expr::Case {
        operand: None,
        branches: vec![(filter, then)],
        otherwise: None,
        data_type,
    };
    (func, Some(masked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(index: usize, data_type: DataType) -> Expr {
        Expr::Column { index, data_type }
    }

    fn case(when: Expr, then: Expr) -> Expr {
        let data_type = then.data_type();
        Expr::Case {
            operand: None,
            branches: vec![(when, then)],
            otherwise: None,
            data_type,
        }
    }

    #[test]
    fn count_star_counts_the_rows_that_pass() {
        let cond = column(0, DataType::Bool);
        let yes = Expr::Literal {
            value: Value::Bool(true),
            data_type: DataType::Bool,
        };
        let (func, arg) = filtered(AggFunc::CountStar, None, cond.clone());
        assert_eq!(func, AggFunc::Count);
        assert_eq!(arg, Some(case(cond, yes)));
    }

    #[test]
    fn other_aggregates_read_a_masked_argument() {
        let cond = column(0, DataType::Bool);
        let x = column(1, DataType::Float64);
        for func in [AggFunc::Sum, AggFunc::Max, AggFunc::CountDistinct] {
            let (f, arg) = filtered(func, Some(x.clone()), cond.clone());
            assert_eq!(f, func);
            let arg = arg.unwrap();
            assert_eq!(arg, case(cond.clone(), x.clone()));
            assert_eq!(arg.data_type(), DataType::Float64);
        }
    }
}
