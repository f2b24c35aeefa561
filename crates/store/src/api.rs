//! API idempotency records and outbound webhook endpoints and deliveries (issue #9).
