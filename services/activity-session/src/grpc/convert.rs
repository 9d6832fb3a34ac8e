//! proto ⇄ domain values both resources use.

use stride_proto::activity_session as pb;

use crate::domain::activity::Kind;

pub fn kind(k: Kind) -> pb::ActivityKind {
    match k {
        Kind::Focus => pb::ActivityKind::Focus,
        Kind::Break => pb::ActivityKind::Break,
        Kind::Workout => pb::ActivityKind::Workout,
        Kind::Study => pb::ActivityKind::Study,
        Kind::Meditation => pb::ActivityKind::Meditation,
        Kind::Custom => pb::ActivityKind::Custom,
    }
}

/// The kind a request names: `Ok(None)` for UNSPECIFIED (no filter), `Err` for a value the
/// enum does not have.
pub fn from_kind(raw: i32) -> Result<Option<Kind>, ()> {
    match pb::ActivityKind::try_from(raw).map_err(|_| ())? {
        pb::ActivityKind::Unspecified => Ok(None),
        pb::ActivityKind::Focus => Ok(Some(Kind::Focus)),
        pb::ActivityKind::Break => Ok(Some(Kind::Break)),
        pb::ActivityKind::Workout => Ok(Some(Kind::Workout)),
        pb::ActivityKind::Study => Ok(Some(Kind::Study)),
        pb::ActivityKind::Meditation => Ok(Some(Kind::Meditation)),
        pb::ActivityKind::Custom => Ok(Some(Kind::Custom)),
    }
}

/// Whole seconds as stored, as a proto duration.
pub fn seconds(s: i32) -> prost_types::Duration {
    stride_kit::convert::duration(time::Duration::seconds(i64::from(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_both_ways() {
        for k in Kind::ALL {
            assert_eq!(from_kind(kind(k) as i32), Ok(Some(k)));
        }
        assert_eq!(from_kind(pb::ActivityKind::Unspecified as i32), Ok(None));
        assert_eq!(from_kind(42), Err(()));
    }
}
