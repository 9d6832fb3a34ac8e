//! A progress summary's period: a day, ISO week, calendar month or year holding an anchor
//! date, or a custom range of at most [`MAX_CUSTOM_DAYS`]; and the period before it, for the
//! comparison.

use time::{Date, Duration, Month};

use super::summary::week_of;

/// The longest custom range (a leap year).
pub const MAX_CUSTOM_DAYS: i64 = 366;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Day,
    Week,
    Month,
    Year,
    Custom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub kind: Kind,
    pub start: Date,
    pub end: Date,
}

impl Period {
    pub fn days(&self) -> i64 {
        (self.end - self.start).whole_days() + 1
    }

    /// Every date of the period, in order.
    pub fn dates(&self) -> Vec<Date> {
        let mut out = Vec::with_capacity(usize::try_from(self.days()).unwrap_or(0));
        let mut d = Some(self.start);
        while let Some(x) = d.filter(|x| *x <= self.end) {
            out.push(x);
            d = x.next_day();
        }
        out
    }

    /// The period before: the previous day/week/month/year, or as many days right before a
    /// custom range.
    pub fn previous(&self) -> Period {
        let day_before = self.start.previous_day().unwrap_or(self.start);
        match self.kind {
            Kind::Custom => Period {
                kind: Kind::Custom,
                start: self.start.saturating_sub(Duration::days(self.days())),
                end: day_before,
            },
            k => of(k, day_before),
        }
    }
}

/// The period of `kind` (not Custom) holding `anchor`.
pub fn of(kind: Kind, anchor: Date) -> Period {
    let (start, end) = match kind {
        Kind::Day | Kind::Custom => (anchor, anchor),
        Kind::Week => week_of(anchor),
        Kind::Month => {
            let start = anchor.replace_day(1).unwrap_or(anchor);
            let end = anchor
                .replace_day(anchor.month().length(anchor.year()))
                .unwrap_or(anchor);
            (start, end)
        }
        Kind::Year => (
            Date::from_calendar_date(anchor.year(), Month::January, 1).unwrap_or(anchor),
            Date::from_calendar_date(anchor.year(), Month::December, 31).unwrap_or(anchor),
        ),
    };
    Period { kind, start, end }
}

/// A custom range; `None` when `end` is before `start` or it is longer than a leap year.
pub fn custom(start: Date, end: Date) -> Option<Period> {
    let days = (end - start).whole_days() + 1;
    (1..=MAX_CUSTOM_DAYS).contains(&days).then_some(Period {
        kind: Kind::Custom,
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_and_the_ones_before() {
        let a = date!(2028 - 03 - 15); // a Wednesday in a leap year
        let m = of(Kind::Month, a);
        assert_eq!(
            (m.start, m.end),
            (date!(2028 - 03 - 01), date!(2028 - 03 - 31))
        );
        let p = m.previous();
        assert_eq!(
            (p.start, p.end),
            (date!(2028 - 02 - 01), date!(2028 - 02 - 29))
        );
        let y = of(Kind::Year, a);
        assert_eq!(y.days(), 366);
        assert_eq!(y.previous().days(), 365);
        let w = of(Kind::Week, a);
        assert_eq!(
            (w.start, w.end),
            (date!(2028 - 03 - 13), date!(2028 - 03 - 19))
        );
        assert_eq!(w.previous().start, date!(2028 - 03 - 06));
        let d = of(Kind::Day, a);
        assert_eq!(
            (d.previous().start, d.previous().end),
            (date!(2028 - 03 - 14), date!(2028 - 03 - 14))
        );
        assert_eq!(d.dates(), [a]);
    }

    #[test]
    fn custom_ranges_are_bounded() {
        let c = custom(date!(2026 - 01 - 10), date!(2026 - 01 - 14)).expect("range");
        assert_eq!(c.days(), 5);
        let p = c.previous();
        assert_eq!(
            (p.start, p.end),
            (date!(2026 - 01 - 05), date!(2026 - 01 - 09))
        );
        assert!(custom(date!(2026 - 01 - 10), date!(2026 - 01 - 09)).is_none());
        assert!(custom(date!(2026 - 01 - 01), date!(2027 - 01 - 01)).is_some());
        assert!(custom(date!(2026 - 01 - 01), date!(2027 - 01 - 02)).is_none());
    }
}
