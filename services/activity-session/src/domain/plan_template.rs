//! Workout plan templates: a schedule of weeks, each of training days, each an ordered list of
//! exercises with sets, reps or a duration, and rest.

/// One exercise of one training day, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot<T> {
    pub week: i16,
    pub day: i16,
    pub position: i16,
    pub item: T,
}

/// A week of the schedule with its days, each with its slots in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Week<T> {
    pub week: i16,
    pub days: Vec<Day<T>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Day<T> {
    pub day: i16,
    pub items: Vec<T>,
}

/// Groups slots by week, then day, each level in ascending order and the items of a day by
/// position, whatever order the slots come in.
pub fn schedule<T>(mut slots: Vec<Slot<T>>) -> Vec<Week<T>> {
    slots.sort_by_key(|s| (s.week, s.day, s.position));
    let mut weeks: Vec<Week<T>> = Vec::new();
    for s in slots {
        if weeks.last().is_none_or(|w| w.week != s.week) {
            weeks.push(Week {
                week: s.week,
                days: Vec::new(),
            });
        }
        let Some(week) = weeks.last_mut() else {
            continue;
        };
        if week.days.last().is_none_or(|d| d.day != s.day) {
            week.days.push(Day {
                day: s.day,
                items: Vec::new(),
            });
        }
        if let Some(day) = week.days.last_mut() {
            day.items.push(s.item);
        }
    }
    weeks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(week: i16, day: i16, position: i16) -> Slot<(i16, i16, i16)> {
        Slot {
            week,
            day,
            position,
            item: (week, day, position),
        }
    }

    #[test]
    fn slots_group_by_week_and_day_in_order() {
        let weeks = schedule(vec![
            slot(2, 1, 2),
            slot(1, 2, 1),
            slot(1, 1, 2),
            slot(2, 1, 1),
            slot(1, 1, 1),
        ]);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].week, 1);
        assert_eq!(
            weeks[0].days,
            vec![
                Day {
                    day: 1,
                    items: vec![(1, 1, 1), (1, 1, 2)]
                },
                Day {
                    day: 2,
                    items: vec![(1, 2, 1)]
                },
            ]
        );
        assert_eq!(
            weeks[1].days,
            vec![Day {
                day: 1,
                items: vec![(2, 1, 1), (2, 1, 2)]
            }]
        );
        assert!(schedule::<()>(Vec::new()).is_empty());
    }
}
