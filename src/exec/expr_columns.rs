//! The columns an expression reads, and moving an expression from one row
//! layout to another (a joined row's right half to the right input's own).

use super::expr::Expr;

impl Expr {
    /// Calls `f` with the index of every column the expression reads.
    pub fn for_each_column(&self, f: &mut impl FnMut(usize)) {
        self.children(&mut |child| child.for_each_column(f));
        if let Expr::Column { index, .. } = self {
            f(*index);
        }
    }

    /// The smallest and largest column index the expression reads, if any.
    pub fn column_range(&self) -> Option<(usize, usize)> {
        let mut range: Option<(usize, usize)> = None;
        self.for_each_column(&mut |i| {
            range = Some(range.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i))));
        });
        range
    }

    /// The same expression with every column index `i` replaced by `map(i)`.
    pub fn map_columns(&self, map: &impl Fn(usize) -> usize) -> Expr {
        let mut out = self.clone();
        out.remap_in_place(map);
        out
    }

    fn remap_in_place(&mut self, map: &impl Fn(usize) -> usize) {
        if let Expr::Column { index, .. } = self {
            *index = map(*index);
        }
        self.children_mut(&mut |child| child.remap_in_place(map));
    }

    fn children(&self, f: &mut impl FnMut(&Expr)) {
        match self {
            Expr::Column { .. } | Expr::Literal { .. } => {}
            Expr::Binary { left, right, .. } => {
                f(left);
                f(right);
            }
            Expr::Not(e) | Expr::Negate(e) => f(e),
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Like { expr, .. } => {
                f(expr)
            }
            Expr::Call { args, .. } | Expr::Pattern { args, .. } => args.iter().for_each(f),
            Expr::Case {
                operand,
                branches,
                otherwise,
                ..
            } => {
                operand.iter().for_each(|e| f(e));
                for (when, then) in branches {
                    f(when);
                    f(then);
                }
                otherwise.iter().for_each(|e| f(e));
            }
            Expr::InList { expr, list, .. } => {
                f(expr);
                list.iter().for_each(f);
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                f(expr);
                f(low);
                f(high);
            }
        }
    }

    fn children_mut(&mut self, f: &mut impl FnMut(&mut Expr)) {
        match self {
            Expr::Column { .. } | Expr::Literal { .. } => {}
            Expr::Binary { left, right, .. } => {
                f(left);
                f(right);
            }
            Expr::Not(e) | Expr::Negate(e) => f(e),
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Like { expr, .. } => {
                f(expr)
            }
            Expr::Call { args, .. } | Expr::Pattern { args, .. } => args.iter_mut().for_each(f),
            Expr::Case {
                operand,
                branches,
                otherwise,
                ..
            } => {
                operand.iter_mut().for_each(|e| f(e));
                for (when, then) in branches {
                    f(when);
                    f(then);
                }
                otherwise.iter_mut().for_each(|e| f(e));
            }
            Expr::InList { expr, list, .. } => {
                f(expr);
                list.iter_mut().for_each(f);
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                f(expr);
                f(low);
                f(high);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataType;
    use crate::exec::expr::BinaryOp;

    fn col(index: usize) -> Expr {
        Expr::Column {
            index,
            data_type: DataType::Int64,
        }
    }

    #[test]
    fn columns_are_found_and_moved() {
        let e = Expr::Binary {
            op: BinaryOp::Add,
            left: Box::new(col(3)),
            right: Box::new(Expr::Negate(Box::new(col(5)))),
            data_type: DataType::Int64,
        };
        assert_eq!(e.column_range(), Some((3, 5)));
        let moved = e.map_columns(&|i| i - 3);
        assert_eq!(moved.column_range(), Some((0, 2)));
    }
}
