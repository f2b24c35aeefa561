//! The merchant's dunning policy editor, with the timeline the policy would
//! follow after a failed payment shown beside it. Reads, previews and saves
//! through `platform::dunning`, as `/v1/dunning_policy` does.

use std::collections::BTreeSet;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use billing::dunning::{
    DunningError, DunningPolicy, DunningPolicySpec, FinalAction, GraceEntitlements, ReminderStep,
    TimelineEvent, TimelineStep,
};
use billing::ids::PlanId;
use platform::catalog::PlanRecord;
use platform::{PlatformError, RequestId};
use serde::Deserialize;

use crate::browser::{Browser, CsrfForm, MerchantUser};
use crate::error::WebError;
use crate::forms::{FieldErrors, REFUSED};
use crate::views::Layout;

type PageResult = Result<HttpResponse, WebError>;

/// This module's pages, registered by [`crate::configure`].
pub(crate) const ROUTES: &[crate::WebRoute] = crate::web_routes![
    Merchant get "/dashboard/dunning" => policy_page,
    Merchant post "/dashboard/dunning" => save_policy,
];

/// The policy form, every field as typed.
#[derive(Deserialize, Clone, Default)]
pub(crate) struct PolicyForm {
    /// `preview` shows the timeline without saving; anything else saves.
    #[serde(default)]
    action: String,
    /// Days after the first failure, comma-separated (`3, 5, 7`).
    #[serde(default)]
    retry_days: String,
    /// When the final action is taken.
    #[serde(default)]
    grace_days: String,
    /// `full` or `degrade`.
    #[serde(default)]
    grace_mode: String,
    /// Remind after the first failure (checkbox).
    #[serde(default)]
    remind_first_failure: Option<String>,
    /// Retry numbers after which to remind, comma-separated (`1, 3`).
    #[serde(default)]
    remind_after_retries: String,
    /// `cancel`, `mark_unpaid_and_revoke`, or a `plan_…` id to move to.
    #[serde(default)]
    final_action: String,
    /// Keep Stripe's own retries on (checkbox).
    #[serde(default)]
    stripe_retries: Option<String>,
}

/// Comma- or space-separated whole numbers.
fn numbers<T: std::str::FromStr>(raw: &str, field: &'static str) -> Result<Vec<T>, PlatformError> {
    raw.split([',', ' '])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse().map_err(|_| {
                PlatformError::invalid(
                    field,
                    format!(
                        "`{part}` is not a whole number; separate days with commas, like 3, 5, 7"
                    ),
                )
            })
        })
        .collect()
}

impl PolicyForm {
    /// The form showing `policy`.
    fn of(policy: &DunningPolicySpec) -> Self {
        let joined = |values: Vec<String>| values.join(", ");
        Self {
            action: String::new(),
            retry_days: joined(policy.retry_days.iter().map(u16::to_string).collect()),
            grace_days: policy.grace_days.to_string(),
            grace_mode: match policy.grace_entitlements {
                GraceEntitlements::Full => "full",
                GraceEntitlements::Degrade(_) => "degrade",
            }
            .to_owned(),
            remind_first_failure: policy
                .reminders
                .contains(&ReminderStep::FirstFailure)
                .then(|| "on".to_owned()),
            remind_after_retries: joined(
                policy
                    .reminders
                    .iter()
                    .filter_map(|step| match step {
                        ReminderStep::Retry(number) => Some(number.to_string()),
                        ReminderStep::FirstFailure => None,
                    })
                    .collect(),
            ),
            final_action: match &policy.final_action {
                FinalAction::Cancel => "cancel".to_owned(),
                FinalAction::MarkUnpaidAndRevoke => "mark_unpaid_and_revoke".to_owned(),
                FinalAction::MoveToPlan(plan) => plan.to_string(),
            },
            stripe_retries: policy.stripe_retries.then(|| "on".to_owned()),
        }
    }

    /// The policy as typed. A degraded grace period keeps the reduced set
    /// of `current` (set through the API) or, when there is none, keeps
    /// nothing.
    fn to_spec(&self, current: &DunningPolicySpec) -> Result<DunningPolicySpec, PlatformError> {
        let grace_days = self.grace_days.trim().parse::<u16>().map_err(|_| {
            PlatformError::invalid(
                "grace_days",
                "the grace period is a whole number of days, like 14",
            )
        })?;
        let grace_entitlements = match (self.grace_mode.as_str(), &current.grace_entitlements) {
            ("full", _) => GraceEntitlements::Full,
            ("degrade", GraceEntitlements::Degrade(reduced)) => {
                GraceEntitlements::Degrade(reduced.clone())
            }
            ("degrade", GraceEntitlements::Full) => GraceEntitlements::Degrade(vec![]),
            _ => {
                return Err(PlatformError::invalid(
                    "grace_mode",
                    "choose full access or restricted access",
                ));
            }
        };
        let mut reminders: BTreeSet<ReminderStep> =
            numbers::<u8>(&self.remind_after_retries, "reminders")?
                .into_iter()
                .map(ReminderStep::Retry)
                .collect();
        if self.remind_first_failure.is_some() {
            reminders.insert(ReminderStep::FirstFailure);
        }
        let final_action = match self.final_action.as_str() {
            "cancel" => FinalAction::Cancel,
            "mark_unpaid_and_revoke" => FinalAction::MarkUnpaidAndRevoke,
            plan => FinalAction::MoveToPlan(PlanId::parse(plan).map_err(|_| {
                PlatformError::invalid("final_action", "choose what happens when grace ends")
            })?),
        };
        let spec = DunningPolicySpec {
            retry_days: numbers(&self.retry_days, "retry_days")?,
            grace_days,
            grace_entitlements,
            reminders,
            final_action,
            stripe_retries: self.stripe_retries.is_some(),
        };
        // The platform validates again when saving; checking here as well
        // tells which input a broken rule belongs beside.
        DunningPolicy::try_from(spec.clone()).map_err(|err| {
            let field = match err {
                DunningError::TooManyRetries { .. }
                | DunningError::RetriesNotAscending { .. }
                | DunningError::RetryAfterGrace { .. } => "retry_days",
                DunningError::GraceOutOfRange { .. } => "grace_days",
                DunningError::ReminderForMissingRetry { .. } => "reminders",
            };
            PlatformError::invalid(field, err.to_string())
        })?;
        Ok(spec)
    }
}

/// One timeline entry in words.
pub struct TimelineRow {
    /// Days after the first failure.
    pub day: i64,
    /// The date, for the merchant's calendar.
    pub date: String,
    /// What happens.
    pub what: String,
}

fn describe_event(event: &TimelineEvent, plans: &[PlanRecord]) -> String {
    match event {
        TimelineEvent::FirstFailure => "The payment fails; dunning starts".to_owned(),
        TimelineEvent::EntitlementsDegraded => {
            "Access is restricted for the grace period".to_owned()
        }
        TimelineEvent::Retry { number } => {
            format!("Billforge retries the payment (retry {number})")
        }
        TimelineEvent::Reminder { after } => match after {
            ReminderStep::FirstFailure => "Reminder email about the failed payment".to_owned(),
            ReminderStep::Retry(number) => format!("Reminder email if retry {number} failed"),
        },
        TimelineEvent::GraceEnds => "The grace period ends".to_owned(),
        TimelineEvent::FinalAction { action } => match action {
            FinalAction::Cancel => "Still unpaid: the subscription is cancelled".to_owned(),
            FinalAction::MarkUnpaidAndRevoke => {
                "Still unpaid: the invoice is marked unpaid and access is revoked".to_owned()
            }
            FinalAction::MoveToPlan(plan) => {
                let name = plans
                    .iter()
                    .find(|candidate| candidate.id == plan.as_str())
                    .map_or_else(|| plan.to_string(), |found| found.name.clone());
                format!("Still unpaid: the customer moves to the {name} plan")
            }
        },
    }
}

/// `/dashboard/dunning`.
#[derive(Template)]
#[template(path = "dunning.html")]
struct DunningPage {
    /// Shared layout.
    layout: Layout,
    /// The form's values.
    form: PolicyForm,
    /// Why the form was refused.
    errors: FieldErrors,
    /// The tenant's plans, for "move to plan".
    plans: Vec<PlanRecord>,
    /// The previewed timeline (of the typed policy after a preview).
    timeline: Vec<TimelineRow>,
    /// Whether the timeline shows unsaved values.
    previewing: bool,
    /// Whether the policy was just saved.
    saved: bool,
}

/// What the page shows besides the form.
struct Shown {
    timeline: Vec<TimelineStep>,
    previewing: bool,
    saved: bool,
}

async fn render(
    browser: &Browser,
    status: StatusCode,
    form: PolicyForm,
    errors: FieldErrors,
    shown: Shown,
) -> PageResult {
    let (_, tenant_id) = browser.require_merchant()?;
    let plans = browser.platform().plans(&tenant_id).await?;
    let start = shown.timeline.first().map(|step| step.at);
    let timeline = shown
        .timeline
        .iter()
        .map(|step| TimelineRow {
            day: start.map_or(0, |start| (step.at - start).num_days()),
            date: step.at.format("%Y-%m-%d").to_string(),
            what: describe_event(&step.event, &plans),
        })
        .collect();
    browser.page(
        status,
        &DunningPage {
            layout: browser.layout(),
            form,
            errors,
            plans,
            timeline,
            previewing: shown.previewing,
            saved: shown.saved,
        },
    )
}

/// `GET /dashboard/dunning`: the current policy and its timeline.
async fn policy_page(user: MerchantUser) -> PageResult {
    let browser = &user.browser;
    let outcome = async {
        let platform = browser.platform();
        let policy = platform.dunning_policy(&user.tenant_id).await?;
        let timeline = platform
            .preview_dunning(&user.tenant_id, None, platform.now())
            .await?;
        let shown = Shown {
            timeline,
            previewing: false,
            saved: false,
        };
        render(
            browser,
            StatusCode::OK,
            PolicyForm::of(policy.spec()),
            FieldErrors::none(),
            shown,
        )
        .await
    };
    outcome.await.map_err(|err| err.with_browser(browser))
}

/// `POST /dashboard/dunning`: previews the typed policy, or saves it; a
/// refused policy comes back with the problem beside its input.
async fn save_policy(CsrfForm { form, browser }: CsrfForm<PolicyForm>) -> PageResult {
    let outcome = async {
        let (signed_in, tenant_id) = browser.require_merchant()?;
        let platform = browser.platform();
        let current = platform.dunning_policy(&tenant_id).await?;
        let previewing = form.action == "preview";
        let applied = match form.to_spec(current.spec()) {
            Ok(spec) if previewing => Ok(spec),
            Ok(spec) => {
                let ctx = platform.audit_context(signed_in.actor()?, &RequestId::current_or_new());
                platform
                    .set_dunning_policy(&tenant_id, spec, &ctx)
                    .await
                    .map(|saved| saved.spec().clone())
            }
            Err(err) => Err(err),
        };
        match applied {
            Ok(spec) => {
                let timeline = platform
                    .preview_dunning(&tenant_id, Some(spec.clone()), platform.now())
                    .await?;
                let shown = Shown {
                    timeline,
                    previewing,
                    saved: !previewing,
                };
                let shown_form = if previewing {
                    form.clone()
                } else {
                    PolicyForm::of(&spec)
                };
                render(
                    &browser,
                    StatusCode::OK,
                    shown_form,
                    FieldErrors::none(),
                    shown,
                )
                .await
            }
            Err(err) => {
                let errors = FieldErrors::placed(err, |field| match field {
                    "policy" => "final_action",
                    other => other,
                })?;
                let timeline = platform
                    .preview_dunning(&tenant_id, None, platform.now())
                    .await?;
                let shown = Shown {
                    timeline,
                    previewing: false,
                    saved: false,
                };
                render(&browser, REFUSED, form.clone(), errors, shown).await
            }
        }
    };
    outcome.await.map_err(|err| err.with_browser(&browser))
}
