//! Writing audit entries. Only mutations in this crate call [`record`], inside
//! their own transaction.

use billing::ids::{ApiKeyId, AuditId, TenantId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

use crate::entities::audit_log::{self, ActorKind};

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// User, API key, admin or the system.
    pub kind: ActorKind,
    /// The actor's id, or `system`.
    pub id: String,
}

impl Actor {
    /// A merchant user acting from the dashboard.
    pub fn user(id: &UserId) -> Self {
        Self {
            kind: ActorKind::User,
            id: id.to_string(),
        }
    }

    /// A platform admin.
    pub fn admin(id: &UserId) -> Self {
        Self {
            kind: ActorKind::Admin,
            id: id.to_string(),
        }
    }

    /// A merchant's API key.
    pub fn api_key(id: &ApiKeyId) -> Self {
        Self {
            kind: ActorKind::ApiKey,
            id: id.to_string(),
        }
    }

    /// The platform itself (CLI commands, background jobs).
    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: "system".to_owned(),
        }
    }
}

/// Everything an audit entry needs besides what changed; every mutation takes one.
#[derive(Debug, Clone)]
pub struct AuditContext {
    /// Who acts.
    pub actor: Actor,
    /// The request (or CLI run) that caused the change.
    pub request_id: String,
    /// The time of the change, also used for the mutated rows.
    pub now: DateTime<Utc>,
}

/// Writes one audit entry on `conn` (the mutation's transaction).
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    ctx: &AuditContext,
    tenant_id: Option<&TenantId>,
    action: &str,
    target_type: &str,
    target_id: &str,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        id: Set(AuditId::generate().to_string()),
        tenant_id: Set(tenant_id.map(ToString::to_string)),
        actor_kind: Set(ctx.actor.kind),
        actor_id: Set(ctx.actor.id.clone()),
        action: Set(action.to_owned()),
        target_type: Set(target_type.to_owned()),
        target_id: Set(target_id.to_owned()),
        request_id: Set(ctx.request_id.clone()),
        created_at: Set(ctx.now),
    }
    .insert(conn)
    .await?;
    Ok(())
}
