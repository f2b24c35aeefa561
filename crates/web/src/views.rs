//! askama templates (in the repository's `templates/`) and their data.

use askama::Template;
use billing::connect::ConnectStatus;
use platform::records::{ApiKey, AuditEvent, Tenant};

use crate::forms::FieldErrors;

/// What the shared layout needs on every page.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// CSRF token for the layout's own form (logout) and the page's forms.
    pub csrf_token: String,
    /// The logged-in user's email, for the navigation.
    pub signed_in_as: Option<String>,
    /// Whether to show the admin console's navigation.
    pub is_admin: bool,
}

impl Layout {
    /// Navigation for a visitor we know nothing about (error pages).
    pub fn anonymous() -> Self {
        Self::default()
    }
}

/// `/`.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    /// Shared layout.
    pub layout: Layout,
}

/// `/signup`, also re-shown with an error and the typed values.
#[derive(Template, Default)]
#[template(path = "signup.html")]
pub struct SignUpPage {
    /// Shared layout.
    pub layout: Layout,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Typed business name, kept across a failed attempt.
    pub business_name: String,
    /// Typed URL name, kept across a failed attempt.
    pub slug: String,
    /// Typed email, kept across a failed attempt (never the password).
    pub email: String,
}

/// `/login` and `/admin/login`.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// Shared layout.
    pub layout: Layout,
    /// Page heading (merchant or admin).
    pub heading: &'static str,
    /// Where the form posts.
    pub action: &'static str,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Typed email, kept across a failed attempt.
    pub email: String,
}

/// `/dashboard`.
#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    /// Shared layout.
    pub layout: Layout,
    /// The merchant.
    pub tenant: Tenant,
    /// The merchant's keys, newest first.
    pub api_keys: Vec<ApiKey>,
    /// A key just created: its only appearance.
    pub new_key: Option<String>,
    /// The new key's name as typed, kept when refused.
    pub key_name: String,
    /// Why the new key's name was refused.
    pub errors: FieldErrors,
    /// The overview charts (`overview_charts.html`).
    pub charts: Vec<crate::charts::Chart>,
    /// The way to a first sale, from the merchant's real state.
    pub checklist: Checklist,
}

/// The onboarding checklist on `/dashboard`: each item is worked out from
/// stored state, never ticked by hand, so it cannot drift from the truth.
pub struct Checklist {
    /// The tenant's Stripe Connect status.
    pub stripe: ConnectStatus,
    /// Whether the tenant has created a plan.
    pub has_plan: bool,
    /// Whether a brand colour or logo is set.
    pub has_branding: bool,
    /// Whether an unrevoked API key exists.
    pub has_api_key: bool,
    /// Whether the platform runs on live Stripe (otherwise keys are test keys).
    pub platform_is_live: bool,
    /// Whether an unrevoked live-mode key exists.
    pub has_live_key: bool,
}

impl Checklist {
    /// Charges are enabled on the connected account.
    pub fn stripe_done(&self) -> bool {
        matches!(self.stripe, ConnectStatus::Active(_))
    }

    /// A connected account exists that onboarding can continue on.
    pub fn stripe_started(&self) -> bool {
        matches!(
            self.stripe,
            ConnectStatus::Onboarding(_) | ConnectStatus::Restricted(_)
        )
    }

    /// The Stripe status in words.
    pub fn stripe_state(&self) -> &'static str {
        match self.stripe {
            ConnectStatus::NotConnected => "not connected",
            ConnectStatus::Onboarding(_) => "onboarding not finished",
            ConnectStatus::Active(_) => "connected, charges enabled",
            ConnectStatus::Restricted(_) => "restricted: Stripe needs more information",
            ConnectStatus::Disconnected(_) => "disconnected",
        }
    }

    /// Live: real Stripe, an active account and a live key.
    pub fn live_done(&self) -> bool {
        self.platform_is_live && self.stripe_done() && self.has_live_key
    }

    /// How many of the five items are done.
    pub fn done_count(&self) -> usize {
        [
            self.stripe_done(),
            self.has_plan,
            self.has_branding,
            self.has_api_key,
            self.live_done(),
        ]
        .into_iter()
        .filter(|done| *done)
        .count()
    }
}

/// `/dashboard/settings`, also re-shown with the problem and the typed values.
#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    /// Shared layout.
    pub layout: Layout,
    /// Business name (stored, or as typed after a preview or a refusal).
    pub name: String,
    /// Brand colour, empty when none.
    pub brand_color: String,
    /// Logo URL, empty when none.
    pub logo_url: String,
    /// Support email, empty when none.
    pub support_email: String,
    /// Why the values were refused.
    pub errors: FieldErrors,
    /// Where the frame loads the sample email from.
    pub preview_src: String,
    /// Whether the sample email shows typed, unsaved values.
    pub previewing: bool,
    /// Whether the values were just saved.
    pub saved: bool,
}

/// `/dashboard/audit` and `/admin/audit`.
#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    /// Shared layout.
    pub layout: Layout,
    /// Entries, newest first.
    pub events: Vec<AuditEvent>,
    /// Admins see every tenant's entries, so show the column.
    pub show_tenant: bool,
}

/// `/admin`.
#[derive(Template)]
#[template(path = "admin_tenants.html")]
pub struct AdminTenantsPage {
    /// Shared layout.
    pub layout: Layout,
    /// Every tenant, or those matching `query`.
    pub tenants: Vec<Tenant>,
    /// The search as typed, empty for "all".
    pub query: String,
    /// The emulator-mode clock and its advance form; `None` on real Stripe.
    pub clock: Option<platform::admin::AdminClock>,
    /// The advance form's duration: the default, or as typed when refused.
    pub duration: String,
    /// Why the advance was refused.
    pub errors: FieldErrors,
}

/// Any error.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Shared layout.
    pub layout: Layout,
    /// Short heading.
    pub title: &'static str,
    /// What happened and what to do.
    pub message: String,
    /// Quoted for support.
    pub request_id: Option<String>,
}
