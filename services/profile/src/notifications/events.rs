//! Events notifications consume: `session.completed.v1` (activity on a local date: the
//! streak-at-risk reminder for the next evening is scheduled, today's is cancelled).

use stride_bus::{Envelope, HandlerError, On, Subject as _, Tx};
use stride_kit::{
    clock::SharedClock,
    convert::{from_date, from_timestamp, local_date, timezone_or_utc},
};
use stride_proto::events;

use super::deliver;

#[derive(Clone)]
pub struct Handlers {
    pub clock: SharedClock,
}

impl On<events::SessionCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::SessionCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let tz = timezone_or_utc(&e.timezone);
        // The producer's local date (DESIGN §5); derived from the end time if it is missing.
        let day = e
            .local_date
            .as_ref()
            .and_then(from_date)
            .or_else(|| {
                e.end_time
                    .as_ref()
                    .and_then(from_timestamp)
                    .map(|t| local_date(t, tz))
            })
            .unwrap_or_else(|| local_date(self.clock.now(), tz));
        deliver::on_activity(tx, user, day, tz, self.clock.now_db()).await?;
        Ok(())
    }
}
