//! The points leaderboard: totals per user, ranked by points and then by who reached their total
//! first (equal points reached at the same instant share a rank; ranks have no gaps). The
//! ranking itself is one SQL window function (`store::leaderboard`); what is chosen here is its
//! size.

use stride_kit::Violations;

/// Entries shown when the request asks for none in particular (`top_n` 0).
pub const DEFAULT_TOP_N: i64 = 10;
/// Most entries one request may ask for.
pub const MAX_TOP_N: i32 = 100;

/// How many top entries to show for `top_n`: 0 means the default, 1..=100 as asked, anything
/// else is a violation on `top_n`.
pub fn top_n(v: &mut Violations, top_n: i32) -> i64 {
    match top_n {
        0 => DEFAULT_TOP_N,
        1..=MAX_TOP_N => i64::from(top_n),
        _ => {
            v.add("top_n", "must be between 0 and 100");
            DEFAULT_TOP_N
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_defaults_to_ten_and_is_bounded() {
        let mut v = Violations::new();
        assert_eq!(top_n(&mut v, 0), 10);
        assert_eq!(top_n(&mut v, 1), 1);
        assert_eq!(top_n(&mut v, 100), 100);
        assert!(v.is_empty());
        for bad in [101, -1, i32::MIN, i32::MAX] {
            let mut v = Violations::new();
            top_n(&mut v, bad);
            let err = format!("{:?}", v.check().expect_err("out of range"));
            assert!(err.contains("top_n"), "{bad}: {err}");
        }
    }
}
