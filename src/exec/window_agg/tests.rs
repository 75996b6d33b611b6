use super::*;

#[test]
fn any_outside_is_any_out_of_range_even_where_subtraction_overflows() {
    let edge = [
        i64::MIN,
        i64::MIN + 1,
        -1_000,
        -1,
        0,
        1,
        1_000,
        i64::MAX - 1,
        i64::MAX,
    ];
    for &from in &edge {
        for &to in &edge {
            for &t in &edge {
                let outside = t < from || t > to;
                assert_eq!(any_outside(&[t], from, to), outside, "{t} in {from}..={to}");
                let mut times = vec![from.max(to); 9];
                times[5] = t;
                let outside = times.iter().any(|&x| x < from || x > to);
                assert_eq!(any_outside(&times, from, to), outside, "{times:?}");
            }
        }
    }
    assert!(!any_outside(&[], 0, 0));
}

/// Every window of a time at the ends of the representable range fits an
/// `i64`, and one step past them does not.
#[test]
fn representable_times_are_exactly_those_whose_windows_fit() {
    let fits = |t: i64, size: i64, advance: i64| {
        let last = i128::from(t).div_euclid(advance.into()) * i128::from(advance);
        let oldest = last - i128::from(size) + i128::from(advance);
        oldest >= i128::from(i64::MIN) && last + i128::from(size) <= i128::from(i64::MAX)
    };
    for (size, advance) in [
        (1, 1),
        (1000, 1000),
        (7, 7),
        (3000, 1000),
        (10, 3 * 10),
        (60_000, 1),
    ] {
        if advance > size {
            continue;
        }
        let kind = if size == advance {
            WindowKind::Tumbling { size }
        } else {
            WindowKind::Hopping { size, advance }
        };
        let (from, to) = representable_times(kind);
        assert!(fits(from, size, advance), "{kind:?} from {from}");
        assert!(fits(to, size, advance), "{kind:?} to {to}");
        if from > i64::MIN {
            assert!(!fits(from - 1, size, advance), "{kind:?} below {from}");
        }
        if to < i64::MAX {
            assert!(!fits(to + 1, size, advance), "{kind:?} above {to}");
        }
    }
    assert_eq!(
        representable_times(WindowKind::Tumbling { size: 1000 }),
        (-9_223_372_036_854_775_000, 9_223_372_036_854_774_999)
    );
    assert_eq!(
        representable_times(WindowKind::Session { gap: 10 }),
        (i64::MIN, i64::MAX - 10)
    );
}

#[test]
fn in_order_sorts_by_end_then_slot_over_any_span_of_ends() {
    let near = [(5, 3), (2, 9), (5, 1), (i64::from(u32::MAX) + 2, 0), (2, 4)];
    let far = [(i64::MAX, 1), (i64::MIN, 2), (0, 0), (i64::MIN, 1)];
    for due in [&near[..], &far[..], &[(1, 2), (1, 3)][..]] {
        let mut expected = due.to_vec();
        expected.sort_unstable();
        let mut closed = Vec::new();
        in_order(due, &mut Vec::new(), &mut closed);
        let slots: Vec<u32> = expected.iter().map(|&(_, s)| s).collect();
        assert_eq!(closed, slots, "{due:?}");
    }
}
