//! What can go wrong in a platform service, with stable codes that the API
//! returns and pages translate into friendly messages.

use store::StoreError;

/// A service failure. `code()` is part of the public API: never rename one.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Input failed validation; `field` names the offending input.
    #[error("{message}")]
    Invalid {
        /// The form or JSON field at fault.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The email is already registered.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// The tenant slug is already used.
    #[error("this URL name is already taken")]
    SlugTaken,
    /// Wrong email or password (deliberately not saying which).
    #[error("the email or password is incorrect")]
    InvalidCredentials,
    /// Too many failed logins recently.
    #[error("too many failed login attempts; try again in {retry_after_secs} seconds")]
    Throttled {
        /// When the caller may try again.
        retry_after_secs: u64,
    },
    /// Missing, unknown or revoked API key.
    #[error("the API key is missing, unknown or revoked")]
    InvalidApiKey,
    /// The tenant was suspended by a platform admin.
    #[error("this account is suspended; contact the platform's support")]
    TenantSuspended,
    /// A customer account link or session that is forged, expired, or
    /// for another tenant (deliberately not saying which).
    #[error("this sign-in link is invalid or has expired; ask for a new one")]
    LinkInvalid,
    /// Logged in, but not allowed here.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// No such object for this caller (including other tenants' objects).
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A storage failure; details are logged, not shown.
    #[error("internal error")]
    Store(#[from] StoreError),
    /// Any other unexpected failure; details are logged, not shown.
    #[error("internal error")]
    Internal(String),
    /// A webhook delivery failed verification (signature, age, size, body).
    #[error("{0}")]
    WebhookRejected(stripe::webhook::WebhookError),
    /// No signing secret is known yet for this webhook endpoint; Stripe
    /// retries, so nothing is lost while it is being set up.
    #[error("this webhook endpoint has no signing secret configured yet")]
    WebhookNotConfigured,
    /// The tenant has no usable connected Stripe account for this.
    #[error("connect your Stripe account first")]
    StripeNotConnected,
    /// `clock advance` with real Stripe: time there is the wall clock and
    /// cannot be moved.
    #[error(
        "the clock follows real time with real Stripe (STRIPE_SECRET_KEY is set); only the Stripe emulator's time can be advanced"
    )]
    ClockNotAdjustable,
    /// `clock advance` stopped because the emulator's webhooks did not reach
    /// Billforge, or jobs did not finish, in time; what was done stays done
    /// and the advance can be repeated.
    #[error("{0}")]
    ClockStalled(String),
    /// A one-time price where only a recurring one will do (a subscription
    /// checkout, a plan change): it is sold in payment mode instead.
    #[error(
        "price `{0}` is a one-time price and cannot be subscribed to; sell it in a payment-mode checkout (`price` without `plan`)"
    )]
    PriceNotRecurring(String),
    /// Stripe refused or could not be reached; the message is Stripe's
    /// (never a secret) so the merchant can act on it.
    #[error("Stripe error: {0}")]
    Stripe(String),
    /// Another change of the same subscription is being made; retrying
    /// after it (a second or so) sees its outcome.
    #[error(
        "another change of this subscription is in progress; retry once it is done (nothing was changed by this request)"
    )]
    SubscriptionBusy,
}

impl PlatformError {
    /// A copy of an error that several waiters share (a single-flight
    /// look-up's failure): the outcomes callers branch on keep their
    /// variant; anything else becomes an internal error with the same text
    /// for the log.
    pub(crate) fn replicate(&self) -> Self {
        match self {
            Self::InvalidApiKey => Self::InvalidApiKey,
            Self::TenantSuspended => Self::TenantSuspended,
            Self::Forbidden => Self::Forbidden,
            Self::NotFound(what) => Self::NotFound(what),
            other => Self::Internal(format!("{other:?}")),
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_request",
            Self::EmailTaken => "email_taken",
            Self::SlugTaken => "slug_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Throttled { .. } => "too_many_attempts",
            Self::InvalidApiKey => "invalid_api_key",
            Self::TenantSuspended => "tenant_suspended",
            Self::Forbidden => "forbidden",
            Self::LinkInvalid => "link_invalid",
            Self::NotFound(_) => "not_found",
            Self::Store(_) | Self::Internal(_) => "internal_error",
            Self::WebhookRejected(err) => err.code(),
            Self::WebhookNotConfigured => "webhook_not_configured",
            Self::StripeNotConnected => "stripe_not_connected",
            Self::ClockNotAdjustable => "clock_not_adjustable",
            Self::ClockStalled(_) => "clock_stalled",
            Self::PriceNotRecurring(_) => "price_not_recurring",
            Self::Stripe(_) => "stripe_error",
            Self::SubscriptionBusy => "subscription_busy",
        }
    }

    /// The HTTP status both web and api use for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid { .. } | Self::PriceNotRecurring(_) => 400,
            Self::EmailTaken | Self::SlugTaken => 409,
            Self::InvalidCredentials | Self::InvalidApiKey | Self::LinkInvalid => 401,
            Self::Throttled { .. } => 429,
            Self::TenantSuspended | Self::Forbidden => 403,
            Self::NotFound(_) => 404,
            Self::Store(_) | Self::Internal(_) => 500,
            Self::WebhookRejected(stripe::webhook::WebhookError::BodyTooLarge { .. }) => 413,
            Self::WebhookRejected(_) => 400,
            Self::WebhookNotConfigured => 503,
            Self::StripeNotConnected => 409,
            Self::ClockNotAdjustable => 409,
            Self::ClockStalled(_) => 504,
            Self::Stripe(_) => 502,
            Self::SubscriptionBusy => 409,
        }
    }

    /// Shorthand for a validation failure.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<stripe::Error> for PlatformError {
    fn from(err: stripe::Error) -> Self {
        Self::Stripe(err.to_string())
    }
}

/// Shorthand for service results.
pub type PlatformResult<T> = Result<T, PlatformError>;
