//! Stripe Connect onboarding of a tenant: connected account and account links.
