//! Time: the global emulator clock, Stripe's test clocks, and running the
//! scheduled work (renewals, trial ends, retries, expiries) in time order.

use serde_json::{Value, json};

use crate::billing;
use crate::checkout;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::server::{Call, list};
use crate::state::{Action, State, wall_clock};
use crate::store::{new_id, template};

/// Runs every job on `clock` (`""` = global) due at or before `until`, each at
/// its own time; returns whether any ran.
pub fn run_due(state: &mut State, clock: &str, until: i64) -> bool {
    let mut ran = false;
    while let Some((at, job)) = state.next_due_job(clock, until) {
        ran = true;
        state.time_override = Some(at);
        let scope = job.scope.clone();
        let result = match &job.action {
            Action::InvoiceUpcoming { subscription } => {
                billing::invoice_upcoming(state, &scope, subscription, at)
            }
            Action::PeriodEnd { subscription } => {
                billing::renew(state, &scope, subscription, at, false)
            }
            Action::TrialWillEnd { subscription } => {
                billing::trial_will_end(state, &scope, subscription, at)
            }
            Action::RetryInvoice { invoice } => billing::retry_invoice(state, &scope, invoice, at),
            Action::ExpireCheckout { session } => checkout::expire(state, &scope, session, at),
            Action::ExpireIncomplete { subscription } => {
                billing::expire_incomplete(state, &scope, subscription)
            }
        };
        if let Err(error) = result {
            tracing::warn!(?job, message = %error.message, "scheduled emulator job failed");
        }
    }
    state.time_override = None;
    ran
}

/// `GET /_emulator/clock`.
pub fn global_clock(state: &State) -> Value {
    let next_job_at = state
        .jobs
        .get("")
        .and_then(|jobs| jobs.keys().next())
        .map(|(at, _)| *at);
    json!({
        "object": "emulator.clock",
        "now": state.global_now(),
        "offset": state.clock_offset,
        "next_job_at": next_job_at,
    })
}

/// `POST /_emulator/clock/advance` with `seconds` (relative) or `to` (Unix time).
pub fn advance_global(state: &mut State, params: &Params) -> ApiResult<Value> {
    params.allow(&["seconds", "to"])?;
    let now = state.global_now();
    let target = match (params.int("seconds")?, params.int("to")?) {
        (Some(seconds), None) if seconds >= 0 => now + seconds,
        (None, Some(to)) if to >= now => to,
        (None, None) => return Err(ApiError::missing_param("seconds")),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "to",
                "Pass either `seconds` or `to`, not both.",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "seconds",
                "The emulator clock only moves forward.",
            ));
        }
    };
    advance_to(state, target);
    Ok(global_clock(state))
}

/// Runs the global clock's jobs up to `target`, then sets the clock there.
pub fn advance_to(state: &mut State, target: i64) -> i64 {
    run_due(state, "", target);
    state.clock_offset = target - wall_clock();
    target
}

/// Routes `/v1/test_helpers/test_clocks`.
pub fn route(
    state: &mut State,
    call: &Call,
    get: bool,
    post: bool,
    delete: bool,
    path: &[&str],
) -> ApiResult<Option<Value>> {
    let value = match path {
        ["test_helpers", "test_clocks"] if post => {
            call.params.allow(&["frozen_time", "name"])?;
            let frozen = call.params.req_int("frozen_time")?;
            let id = new_id("clock");
            let mut clock = template("test_helpers.test_clock", &id, state.now());
            clock["frozen_time"] = json!(frozen);
            clock["name"] = json!(call.params.str("name")?);
            clock["deletes_after"] = json!(state.now() + 30 * 86_400);
            clock["status"] = json!("ready");
            state.store.insert(&call.scope, clock.clone());
            clock
        }
        ["test_helpers", "test_clocks"] if get => list(
            state,
            call,
            "test_helpers.test_clock",
            "/v1/test_helpers/test_clocks",
            &[],
            |_| true,
        )?,
        ["test_helpers", "test_clocks", id] if get => {
            state
                .store
                .fetch(&call.scope, "test_helpers.test_clock", id, "test_clock")?
        }
        ["test_helpers", "test_clocks", id] if delete => {
            state
                .store
                .fetch(&call.scope, "test_helpers.test_clock", id, "test_clock")?;
            state.store.remove(&call.scope, id);
            state.jobs.remove(*id);
            json!({"id": id, "object": "test_helpers.test_clock", "deleted": true})
        }
        ["test_helpers", "test_clocks", id, "advance"] if post => {
            call.params.allow(&["frozen_time"])?;
            let target = call.params.req_int("frozen_time")?;
            let mut clock =
                state
                    .store
                    .fetch(&call.scope, "test_helpers.test_clock", id, "test_clock")?;
            if target < clock["frozen_time"].as_i64().unwrap_or_default() {
                return Err(ApiError::invalid(
                    "frozen_time",
                    "The test clock can only move forward: frozen_time must be after the current frozen_time.",
                ));
            }
            state.emit(
                &call.scope,
                "test_helpers.test_clock.advancing",
                &clock,
                None,
            );
            run_due(state, id, target);
            clock["frozen_time"] = json!(target);
            clock["status"] = json!("ready");
            state.store.put(&call.scope, clock.clone());
            state.time_override = Some(target);
            state.emit(&call.scope, "test_helpers.test_clock.ready", &clock, None);
            clock
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}
