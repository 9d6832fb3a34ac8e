//! Where codes, reset links and security notices go: mail and SMS, fire-and-forget.

use std::sync::Arc;

use crate::domain::notices::Notice;

#[derive(Clone)]
pub struct Notifier {
    pub mail: Arc<dyn stride_notify::Mailer>,
    pub sms: Arc<dyn stride_notify::SmsSender>,
}

impl Notifier {
    /// Sends after the caller's answer is decided, so the answer never waits on (or reveals)
    /// delivery. A failed delivery is logged; the user can ask again.
    pub fn mail(&self, to: String, notice: Notice) {
        let mail = self.mail.clone();
        tokio::spawn(async move {
            let Notice { subject, text } = notice;
            if let Err(e) = mail.send(stride_notify::Mail { to, subject, text }).await {
                tracing::warn!(error = %e, "mail delivery failed");
            }
        });
    }

    /// The notice's text as an SMS (no subject).
    pub fn sms(&self, to: String, notice: Notice) {
        let sms = self.sms.clone();
        tokio::spawn(async move {
            if let Err(e) = sms
                .send(stride_notify::Sms {
                    to,
                    text: notice.text,
                })
                .await
            {
                tracing::warn!(error = %e, "SMS delivery failed");
            }
        });
    }
}
