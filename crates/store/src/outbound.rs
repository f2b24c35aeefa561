//! Outbound webhook endpoints, deliveries and their log (issue #9).
