//! `billforge tenant …`: one merchant's account, from the operator's shell.

use anyhow::Context;
use billing::ids::TenantId;
use indicatif::{ProgressBar, ProgressStyle};
use platform::Platform;
use platform::import::{ImportOutcome, ImportPhase, ImportProgress};
use store::{Actor, AuditContext};

use crate::cli::TenantCommand;

/// Runs a `tenant` subcommand.
pub async fn execute(platform: &Platform, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Import { slug } => {
            let tenant = tenant_id(platform, &slug).await?;
            let bar = BarProgress::new();
            let report = platform
                .import_tenant(&tenant, &bar)
                .await
                .with_context(|| format!("importing {slug}'s Stripe account"))?;
            bar.bar.finish_and_clear();
            println!("Imported {slug}'s Stripe account:");
            for (phase, counts) in &report.phases {
                println!(
                    "  {:<14} {} imported, {} already there, {} skipped",
                    phase.name(),
                    counts.imported,
                    counts.already_there,
                    counts.skipped.len()
                );
                for (id, reason) in &counts.skipped {
                    println!("    skipped {id}: {reason}");
                }
            }
        }
        TenantCommand::SetFee { slug, percent } => {
            let tenant = tenant_id(platform, &slug).await?;
            let ctx = AuditContext {
                actor: Actor::system(),
                request_id: "cli".to_owned(),
                now: platform.now(),
            };
            let updated = platform.set_platform_fee(&tenant, &percent, &ctx).await?;
            println!(
                "{slug}'s platform fee is now {}.{:02}% of each payment of its new subscriptions",
                updated.platform_fee_bps / 100,
                updated.platform_fee_bps % 100
            );
        }
    }
    Ok(())
}

/// The id of the tenant with URL name `slug`.
async fn tenant_id(platform: &Platform, slug: &str) -> anyhow::Result<TenantId> {
    let row = platform
        .store()
        .tenant_by_slug(slug)
        .await?
        .with_context(|| format!("no tenant has the URL name {slug:?}"))?;
    Ok(TenantId::parse(&row.id)?)
}

/// The import's progress as a spinner line per phase (Stripe's lists do not
/// say how long they are, so it counts rather than fills).
struct BarProgress {
    /// The terminal line; hidden when stdout is not a terminal.
    bar: ProgressBar,
}

impl BarProgress {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<14} {pos} objects {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Self { bar }
    }
}

impl ImportProgress for BarProgress {
    fn phase_started(&self, phase: ImportPhase, resumed: bool) {
        self.bar.set_position(0);
        self.bar.set_prefix(phase.name());
        self.bar
            .set_message(if resumed { "(resuming)" } else { "" });
    }

    fn object_done(&self, _phase: ImportPhase, stripe_id: &str, outcome: &ImportOutcome) {
        self.bar.inc(1);
        if let ImportOutcome::Skipped(reason) = outcome {
            self.bar.println(format!("skipped {stripe_id}: {reason}"));
        }
    }

    fn phase_finished(&self, phase: ImportPhase) {
        self.bar.println(format!(
            "{:<14} {} objects",
            phase.name(),
            self.bar.position()
        ));
    }
}
