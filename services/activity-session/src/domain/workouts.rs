//! A workout log's figures: weights normalised to kilograms, the bounds of each figure, and
//! the volume consumers total.

use stride_kit::Violations;
use time::{Date, Duration};

/// Kilograms in one avoirdupois pound (exact, by the 1959 international agreement).
pub const KG_PER_LB: f64 = 0.453_592_37;
/// Heaviest load per repetition accepted, in kilograms (a world-record deadlift is ~500 kg).
pub const MAX_WEIGHT_KG: f64 = 1000.0;
pub const MAX_SETS: i32 = 100;
pub const MAX_REPS: i32 = 1000;
pub const MAX_DURATION: Duration = Duration::hours(24);
pub const MAX_NOTES: usize = 1000;
/// How far back a log may be dated.
pub const MAX_AGE: Duration = Duration::days(5 * 366);

/// A unit a weight is given or asked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Kg,
    Lb,
}

impl Unit {
    fn kg_per_unit(self) -> f64 {
        match self {
            Unit::Kg => 1.0,
            Unit::Lb => KG_PER_LB,
        }
    }
}

/// `value` in `unit`, in kilograms (unrounded: what is stored).
pub fn to_kg(value: f64, unit: Unit) -> f64 {
    value * unit.kg_per_unit()
}

/// `kg` in `unit`, rounded to a hundredth: what a client is shown. A weight given in pounds
/// comes back as given (135 lb → 61.234… kg → 135 lb).
pub fn from_kg(kg: f64, unit: Unit) -> f64 {
    (kg / unit.kg_per_unit() * 100.0).round() / 100.0
}

/// Checks a weight given as `value` in `unit` (None: the request named no unit) and returns
/// it in kilograms; violations name `field.value` or `field.unit`.
pub fn normalise(v: &mut Violations, field: &str, value: f64, unit: Option<Unit>) -> f64 {
    if !value.is_finite() || value < 0.0 {
        v.add(&format!("{field}.value"), "must be a number, 0 or more");
        return 0.0;
    }
    let Some(unit) = unit else {
        if value != 0.0 {
            v.add(&format!("{field}.unit"), "is required: KG or LB");
        }
        return 0.0;
    };
    let kg = to_kg(value, unit);
    if kg > MAX_WEIGHT_KG {
        v.add(
            &format!("{field}.value"),
            &format!(
                "must be at most {MAX_WEIGHT_KG} kg ({} lb)",
                from_kg(MAX_WEIGHT_KG, Unit::Lb)
            ),
        );
        return 0.0;
    }
    kg
}

/// sets × reps × weight: the load a log moved, in kilograms.
pub fn volume_kg(sets: i32, reps: i32, weight_kg: f64) -> f64 {
    f64::from(sets) * f64::from(reps) * weight_kg
}

/// What a log records, normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    pub date_performed: Date,
    pub sets: i32,
    pub reps: i32,
    pub weight_kg: f64,
    pub duration_secs: i32,
    pub notes: String,
}

impl Figures {
    pub fn volume_kg(&self) -> f64 {
        volume_kg(self.sets, self.reps, self.weight_kg)
    }
}

/// Checks figures already normalised (weights by [`normalise`]); `today` is the caller's local
/// date. Violations name `{prefix}.<field>`. A `date_performed` of `Date::MIN` stands for one
/// already refused (missing or impossible) and is not named twice.
pub fn check(v: &mut Violations, prefix: &str, f: &Figures, today: Date) {
    let name = |field: &str| format!("{prefix}.{field}");
    v.when(
        !(1..=MAX_SETS).contains(&f.sets),
        &name("sets"),
        &format!("must be between 1 and {MAX_SETS}"),
    );
    v.when(
        !(0..=MAX_REPS).contains(&f.reps),
        &name("reps"),
        &format!("must be between 0 and {MAX_REPS}"),
    );
    let max_secs = MAX_DURATION.whole_seconds();
    v.when(
        !(0..=max_secs).contains(&i64::from(f.duration_secs)),
        &name("duration"),
        "must be whole seconds, 0 to 24 hours",
    );
    v.when(
        f.reps == 0 && f.duration_secs == 0,
        &name("reps"),
        "reps or duration is required",
    );
    v.when(
        f.date_performed > today,
        &name("date_performed"),
        "must not be after today",
    );
    v.when(
        f.date_performed > Date::MIN && f.date_performed < today - MAX_AGE,
        &name("date_performed"),
        "must be within the last 5 years",
    );
    v.when(
        f.notes.chars().count() > MAX_NOTES,
        &name("notes"),
        &format!("must be at most {MAX_NOTES} characters"),
    );
}

/// A proto duration as whole seconds for [`Figures::duration_secs`]: None when it has a
/// fraction or does not fit (the caller names the field).
pub fn whole_seconds(d: Duration) -> Option<i32> {
    if d.subsec_nanoseconds() != 0 {
        return None;
    }
    i32::try_from(d.whole_seconds()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn fields(v: Violations) -> Vec<String> {
        match v.check() {
            Ok(()) => vec![],
            Err(stride_kit::AppError::InvalidArgument(list)) => {
                list.into_iter().map(|(f, _)| f).collect()
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn pounds_are_stored_in_kilograms_and_come_back_as_given() {
        assert!((to_kg(100.0, Unit::Lb) - 45.359_237).abs() < 1e-9);
        assert_eq!(to_kg(60.0, Unit::Kg), 60.0);
        for lb in [0.0, 2.5, 45.0, 135.0, 225.0, 315.5, 2204.0] {
            assert_eq!(from_kg(to_kg(lb, Unit::Lb), Unit::Lb), lb);
        }
        for kg in [0.0, 1.25, 20.0, 61.5, 102.5] {
            assert_eq!(from_kg(to_kg(kg, Unit::Kg), Unit::Kg), kg);
        }
        // 20 kg plates shown in pounds, to the hundredth.
        assert_eq!(from_kg(20.0, Unit::Lb), 44.09);
        assert_eq!(from_kg(to_kg(135.0, Unit::Lb), Unit::Kg), 61.23);
    }

    #[test]
    fn normalise_checks_value_and_unit() {
        let mut v = Violations::new();
        assert!((normalise(&mut v, "w", 135.0, Some(Unit::Lb)) - 61.234_969_95).abs() < 1e-6);
        assert_eq!(normalise(&mut v, "w", 0.0, None), 0.0);
        assert_eq!(normalise(&mut v, "w", 1000.0, Some(Unit::Kg)), 1000.0);
        assert!(fields(v).is_empty());

        let mut v = Violations::new();
        normalise(&mut v, "w", 10.0, None);
        normalise(&mut v, "x", -1.0, Some(Unit::Kg));
        normalise(&mut v, "y", f64::NAN, Some(Unit::Kg));
        normalise(&mut v, "z", f64::INFINITY, Some(Unit::Lb));
        normalise(&mut v, "big", 1000.5, Some(Unit::Kg));
        // 2300 lb is over 1000 kg; 2200 lb is not.
        normalise(&mut v, "lb", 2300.0, Some(Unit::Lb));
        assert!(normalise(&mut v, "ok", 2200.0, Some(Unit::Lb)) > 0.0);
        assert_eq!(
            fields(v),
            [
                "w.unit",
                "x.value",
                "y.value",
                "z.value",
                "big.value",
                "lb.value"
            ]
        );
    }

    #[test]
    fn volume_is_sets_times_reps_times_weight() {
        assert_eq!(volume_kg(3, 10, 50.0), 1500.0);
        assert_eq!(volume_kg(3, 0, 50.0), 0.0);
        let f = Figures {
            date_performed: date!(2026 - 11 - 20),
            sets: 4,
            reps: 8,
            weight_kg: 62.5,
            duration_secs: 0,
            notes: String::new(),
        };
        assert_eq!(f.volume_kg(), 2000.0);
    }

    #[test]
    fn figures_are_bounded_and_named() {
        let today = date!(2026 - 11 - 22);
        let good = Figures {
            date_performed: today,
            sets: 3,
            reps: 12,
            weight_kg: 20.0,
            duration_secs: 0,
            notes: "felt strong".into(),
        };
        let mut v = Violations::new();
        check(&mut v, "log", &good, today);
        // A plank: duration, no reps.
        check(
            &mut v,
            "log",
            &Figures {
                reps: 0,
                duration_secs: 90,
                ..good.clone()
            },
            today,
        );
        assert!(fields(v).is_empty());

        let bad = Figures {
            date_performed: date!(2026 - 11 - 23),
            sets: 0,
            reps: 1001,
            weight_kg: 0.0,
            duration_secs: 86_401,
            notes: "x".repeat(1001),
        };
        let mut v = Violations::new();
        check(&mut v, "log", &bad, today);
        assert_eq!(
            fields(v),
            [
                "log.sets",
                "log.reps",
                "log.duration",
                "log.date_performed",
                "log.notes"
            ]
        );

        let mut v = Violations::new();
        check(
            &mut v,
            "log",
            &Figures {
                reps: 0,
                duration_secs: 0,
                date_performed: date!(2020 - 01 - 01),
                ..good
            },
            today,
        );
        assert_eq!(fields(v), ["log.reps", "log.date_performed"]);
    }

    #[test]
    fn durations_must_be_whole_seconds() {
        assert_eq!(whole_seconds(Duration::seconds(90)), Some(90));
        assert_eq!(whole_seconds(Duration::milliseconds(1500)), None);
        assert_eq!(
            whole_seconds(Duration::seconds(i64::from(i32::MAX) + 1)),
            None
        );
    }
}
