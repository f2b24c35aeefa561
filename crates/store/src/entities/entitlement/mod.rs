//! Entitlement tables (issue #5): merchants' per-customer overrides and the
//! stored result of the entitlement computation.

pub mod customer_entitlement;
pub mod entitlement_override;
