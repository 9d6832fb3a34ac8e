//! The CSV export of a user's daily figures (RFC 4180: a header, CRLF line ends). Every cell
//! is a date or a number, so nothing needs quoting; the header is fixed.

use time::Date;

/// The figures of one local date the export shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    pub date: Date,
    pub sessions_completed: i32,
    pub focus_sessions: i32,
    pub seconds: i64,
}

impl Day {
    pub fn empty(date: Date) -> Self {
        Self {
            date,
            sessions_completed: 0,
            focus_sessions: 0,
            seconds: 0,
        }
    }
}

pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";
pub const HEADER: &str =
    "date,sessions_completed,focus_sessions,active_seconds,active_minutes,points";

/// One local date's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub day: Day,
    pub points: i64,
}

/// The file: the header, then one row per date of `start..=end` in order, zeros for a date
/// without figures (`rows` may come in any order and hold only the dates with figures).
pub fn render(start: Date, end: Date, rows: &[Row]) -> (String, i32) {
    let mut out = String::with_capacity(64 * 32);
    out.push_str(HEADER);
    out.push_str("\r\n");
    let mut count = 0;
    for date in super::window::dates(start, end) {
        let row = rows
            .iter()
            .find(|r| r.day.date == date)
            .copied()
            .unwrap_or(Row {
                day: Day::empty(date),
                points: 0,
            });
        let d = row.day;
        out.push_str(&format!(
            "{},{},{},{},{},{}\r\n",
            date,
            d.sessions_completed,
            d.focus_sessions,
            d.seconds,
            d.seconds / 60,
            row.points
        ));
        count += 1;
    }
    (out, count)
}

/// `stride-figures-<start>-<end>.csv`
pub fn filename(start: Date, end: Date) -> String {
    format!("stride-figures-{start}-{end}.csv")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn every_date_is_a_row_with_zeros_for_quiet_days() {
        let rows = [Row {
            day: Day {
                date: date!(2026 - 03 - 02),
                sessions_completed: 3,
                focus_sessions: 2,
                seconds: 3725,
            },
            points: 50,
        }];
        let (csv, n) = render(date!(2026 - 03 - 01), date!(2026 - 03 - 03), &rows);
        assert_eq!(n, 3);
        assert_eq!(
            csv,
            "date,sessions_completed,focus_sessions,active_seconds,active_minutes,points\r\n\
             2026-03-01,0,0,0,0,0\r\n\
             2026-03-02,3,2,3725,62,50\r\n\
             2026-03-03,0,0,0,0,0\r\n"
        );
        assert_eq!(
            filename(date!(2026 - 03 - 01), date!(2026 - 03 - 03)),
            "stride-figures-2026-03-01-2026-03-03.csv"
        );
    }
}
