//! Outbound webhooks to merchants (issue #9): signed per Standard Webhooks, delivered in order per customer.

use crate::Platform;
use crate::domain_events::RecordedEvent;
use crate::jobs::JobError;

impl Platform {
    /// Consumes one domain event; idempotent (a retried dispatch calls it again).
    pub(crate) async fn outbound_on_domain_event(
        &self,
        _recorded: &RecordedEvent,
    ) -> Result<(), JobError> {
        Ok(())
    }
}
