//! Storage: sea-orm entities, the connection, migrations, and the queries the
//! platform runs.
//!
//! Architecture invariant: a query on a tenant-owned table (API keys, audit
//! entries, merchant users…) is only reachable through [`TenantScope`], which
//! adds `tenant_id = ?` to every statement. The few global look-ups that must
//! cross tenants (a bearer token's hash, a login email, the admin console) are
//! methods of [`Store`] and say why.
//!
//! Architecture invariant: every mutation takes an [`AuditContext`] and writes
//! its audit entry in the same transaction, so a change cannot be stored
//! without its record.

pub mod api;
mod audit;
pub mod catalog;
pub mod console;
pub mod domain_events;
pub mod dunning;
mod entities;
pub mod entitlements;
mod jobs;
pub mod mirror;
pub mod outbound;
pub mod outbox;
pub mod reconcile;
mod scope;
pub mod webhooks;

use billing::ids::{SessionId, TenantId, UserId};
use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

pub use audit::{Actor, AuditContext};
pub use entities::api_key::{ApiKeyMode, Model as ApiKey};
pub use entities::audit_log::{ActorKind, Model as AuditEvent};
pub use entities::job::JobStatus;
pub use entities::session::Model as Session;
pub use entities::tenant::{Model as Tenant, TenantStatus};
pub use entities::user::{Model as User, UserRole};
pub use jobs::{Job, NewJob};
pub use scope::{NewApiKey, TenantScope};

use entities::{api_key, audit_log, login_failure, platform_setting, session, tenant, user};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique column (email, slug…) already holds this value.
    #[error("a record with the same unique value already exists")]
    Duplicate,
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Database(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Duplicate,
            _ => Self::Database(err),
        }
    }
}

impl StoreError {
    /// A failure met on the way to the database rather than in it (e.g. a
    /// batching writer that stopped), so callers handle it like any other.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Database(DbErr::Custom(message.into()))
    }
}

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A new merchant's first details, from the sign-up form.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// URL-safe unique name.
    pub slug: String,
    /// Display name.
    pub name: String,
}

/// A new account. `password_hash` must already be an argon2 PHC string.
#[derive(Clone)]
pub struct NewUser {
    /// Lower-cased login email.
    pub email: String,
    /// argon2 PHC string of the password.
    pub password_hash: String,
}

/// What a merchant may change about their tenant (already validated).
#[derive(Debug, Clone)]
pub struct TenantProfile {
    /// Display name.
    pub name: String,
    /// `#rrggbb` for hosted pages.
    pub brand_color: Option<String>,
    /// https URL of a logo for hosted pages.
    pub logo_url: Option<String>,
    /// Where customers write for help.
    pub support_email: Option<String>,
}

/// How long a query waits for a pooled connection before failing.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The database handle every service shares; cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Pooled connection to SQLite or PostgreSQL.
    db: DatabaseConnection,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). sqlx turns on
    /// SQLite's foreign-key enforcement on every pooled connection, so both
    /// backends enforce the same constraints.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false);
        // While the database is unreachable, a request waits this long for a
        // connection and then fails (a webhook answers 5xx, so Stripe
        // retries) instead of hanging on sqlx's default of 30 s.
        options.acquire_timeout(ACQUIRE_TIMEOUT);
        // SQLite: a write-ahead log, so readers never wait for the writer and
        // a commit is one append to the log instead of a rollback journal's
        // several writes; `synchronous = FULL` still syncs the log at every
        // commit, so an acknowledged webhook survives a power cut.
        options.map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
        });
        let db = Database::connect(options).await?;
        Ok(Self { db })
    }

    /// Applies pending migrations; safe to run on every start.
    pub async fn migrate(&self) -> StoreResult<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// A trivial round-trip, for `/readyz`.
    pub async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await?;
        Ok(())
    }

    /// Closes the pool (graceful shutdown, tests dropping their database).
    pub async fn close(self) -> StoreResult<()> {
        self.db.close().await?;
        Ok(())
    }

    /// The only way to reach tenant-owned rows.
    pub fn scoped(&self, tenant_id: &TenantId) -> TenantScope<'_> {
        TenantScope::new(&self.db, tenant_id.clone())
    }

    /// Reads a platform setting, or stores `candidate` if there is none yet
    /// and returns whichever value won (race-safe across instances).
    pub async fn setting_or_insert(
        &self,
        key: &str,
        candidate: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<String> {
        let row = platform_setting::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(candidate.to_owned()),
            created_at: Set(now),
        };
        platform_setting::Entity::insert(row)
            .on_conflict(
                OnConflict::column(platform_setting::Column::Key)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        let stored = platform_setting::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("platform setting {key}")))?;
        Ok(stored.value)
    }

    /// Creates a tenant and its owner in one transaction (sign-up).
    pub async fn create_tenant_with_owner(
        &self,
        new_tenant: NewTenant,
        owner: NewUser,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<(Tenant, User)> {
        let tenant_id = TenantId::generate();
        let user_id = UserId::generate();
        let ctx = AuditContext {
            actor: Actor::user(&user_id),
            request_id: request_id.to_owned(),
            now,
        };
        let txn = crate::begin_write(&self.db).await?;
        let tenant = tenant::ActiveModel {
            id: Set(tenant_id.to_string()),
            slug: Set(new_tenant.slug),
            name: Set(new_tenant.name),
            status: Set(TenantStatus::Onboarding),
            brand_color: Set(None),
            logo_url: Set(None),
            support_email: Set(None),
            platform_fee_bps: Set(0),
            stripe_account_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let user = insert_user(
            &txn,
            &user_id,
            Some(&tenant_id),
            owner,
            UserRole::Owner,
            now,
        )
        .await?;
        audit::record(
            &txn,
            &ctx,
            Some(&tenant_id),
            "tenant.created",
            "tenant",
            tenant_id.as_str(),
        )
        .await?;
        audit::record(
            &txn,
            &ctx,
            Some(&tenant_id),
            "user.created",
            "user",
            user_id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok((tenant, user))
    }

    /// Creates a platform admin (belongs to no tenant).
    pub async fn create_admin(&self, admin: NewUser, ctx: &AuditContext) -> StoreResult<User> {
        let user_id = UserId::generate();
        let txn = crate::begin_write(&self.db).await?;
        let user = insert_user(&txn, &user_id, None, admin, UserRole::Admin, ctx.now).await?;
        audit::record(&txn, ctx, None, "admin.created", "user", user_id.as_str()).await?;
        txn.commit().await?;
        Ok(user)
    }

    /// A tenant by id. Tenants are the root of scoping, so this is global.
    pub async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        Ok(tenant::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?)
    }

    /// A tenant by its public slug (sign-up checks, hosted pages).
    pub async fn tenant_by_slug(&self, slug: &str) -> StoreResult<Option<Tenant>> {
        Ok(tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug))
            .one(&self.db)
            .await?)
    }

    /// Every tenant, newest first: the admin console's list.
    pub async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        Ok(tenant::Entity::find()
            .order_by_desc(tenant::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Changes a tenant's status (admin suspend / reactivate).
    pub async fn set_tenant_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
        ctx: &AuditContext,
    ) -> StoreResult<Option<Tenant>> {
        let action = format!("tenant.{}", status.as_str());
        self.update_tenant(id, &action, ctx, |row| row.status = Set(status))
            .await
    }

    /// Sets the platform's fee on a tenant's sales, in basis points of each
    /// payment (it becomes `application_fee_percent` on new subscriptions).
    pub async fn set_platform_fee_bps(
        &self,
        id: &TenantId,
        bps: i32,
        ctx: &AuditContext,
    ) -> StoreResult<Option<Tenant>> {
        self.update_tenant(id, "tenant.fee_changed", ctx, |row| {
            row.platform_fee_bps = Set(bps)
        })
        .await
    }

    /// Replaces a tenant's profile (name and branding).
    pub async fn update_tenant_profile(
        &self,
        id: &TenantId,
        profile: TenantProfile,
        ctx: &AuditContext,
    ) -> StoreResult<Option<Tenant>> {
        self.update_tenant(id, "tenant.updated", ctx, |row| {
            row.name = Set(profile.name);
            row.brand_color = Set(profile.brand_color);
            row.logo_url = Set(profile.logo_url);
            row.support_email = Set(profile.support_email);
        })
        .await
    }

    /// Applies `change` to a tenant row and records `action`, in one transaction.
    async fn update_tenant(
        &self,
        id: &TenantId,
        action: &str,
        ctx: &AuditContext,
        change: impl FnOnce(&mut tenant::ActiveModel),
    ) -> StoreResult<Option<Tenant>> {
        let txn = crate::begin_write(&self.db).await?;
        let Some(found) = tenant::Entity::find_by_id(id.to_string()).one(&txn).await? else {
            return Ok(None);
        };
        let mut row: tenant::ActiveModel = found.into();
        change(&mut row);
        row.updated_at = Set(ctx.now);
        let updated = row.update(&txn).await?;
        audit::record(&txn, ctx, Some(id), action, "tenant", id.as_str()).await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    /// A user by id (session resolution).
    pub async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        Ok(user::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?)
    }

    /// A user by login email (already lower-cased): login must search every
    /// tenant because the email is what identifies the account.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&self.db)
            .await?)
    }

    /// Stores a new session for a user who just proved their password.
    pub async fn create_session(
        &self,
        user: &User,
        token_hash: String,
        expires_at: DateTime<Utc>,
        ctx: &AuditContext,
    ) -> StoreResult<Session> {
        let id = SessionId::generate();
        let txn = crate::begin_write(&self.db).await?;
        let created = session::ActiveModel {
            id: Set(id.to_string()),
            token_hash: Set(token_hash),
            user_id: Set(user.id.clone()),
            created_at: Set(ctx.now),
            expires_at: Set(expires_at),
        }
        .insert(&txn)
        .await?;
        let tenant_id = parse_tenant(user.tenant_id.as_deref())?;
        audit::record(
            &txn,
            ctx,
            tenant_id.as_ref(),
            "session.created",
            "session",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// The live session with this token hash, and its user.
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Session, User)>> {
        let found = session::Entity::find()
            .filter(session::Column::TokenHash.eq(token_hash))
            .filter(session::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?;
        let Some(found) = found else { return Ok(None) };
        let owner = user::Entity::find_by_id(found.user_id.clone())
            .one(&self.db)
            .await?;
        Ok(owner.map(|owner| (found, owner)))
    }

    /// Ends a session (logout). Returns whether one was deleted.
    pub async fn delete_session(
        &self,
        found: &Session,
        tenant_id: Option<&TenantId>,
        ctx: &AuditContext,
    ) -> StoreResult<bool> {
        let txn = crate::begin_write(&self.db).await?;
        let deleted = session::Entity::delete_by_id(found.id.clone())
            .exec(&txn)
            .await?
            .rows_affected;
        if deleted > 0 {
            audit::record(
                &txn,
                ctx,
                tenant_id,
                "session.deleted",
                "session",
                &found.id,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(deleted > 0)
    }

    /// Removes expired sessions (background maintenance).
    pub async fn prune_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// The key whose secret hashes to `key_hash`, whatever its tenant: this is
    /// how a bearer token *finds* its tenant, so it cannot be scoped.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(key_hash))
            .one(&self.db)
            .await?)
    }

    /// Records that a key just authenticated (bookkeeping, not audited).
    pub async fn touch_api_key(&self, key: &ApiKey, now: DateTime<Utc>) -> StoreResult<()> {
        let mut row: api_key::ActiveModel = key.clone().into();
        row.last_used_at = Set(Some(now));
        row.update(&self.db).await?;
        Ok(())
    }

    /// Counts one failed login against `subject`.
    pub async fn record_login_failure(&self, subject: &str, now: DateTime<Utc>) -> StoreResult<()> {
        login_failure::ActiveModel {
            subject: Set(subject.to_owned()),
            failed_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Failed logins against `subject` since `since`.
    pub async fn login_failures_since(
        &self,
        subject: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<u64> {
        use sea_orm::PaginatorTrait;
        Ok(login_failure::Entity::find()
            .filter(login_failure::Column::Subject.eq(subject))
            .filter(login_failure::Column::FailedAt.gt(since))
            .count(&self.db)
            .await?)
    }

    /// Forgets an account's failures after a successful login.
    pub async fn clear_login_failures(&self, subject: &str) -> StoreResult<()> {
        login_failure::Entity::delete_many()
            .filter(login_failure::Column::Subject.eq(subject))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Drops failures older than the throttle window (background maintenance).
    pub async fn prune_login_failures(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        Ok(login_failure::Entity::delete_many()
            .filter(login_failure::Column::FailedAt.lte(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// The most recent audit entries of the whole platform (admin console).
    pub async fn audit_events_all(&self, limit: u64) -> StoreResult<Vec<AuditEvent>> {
        Ok(audit_log::Entity::find()
            .order_by_desc(audit_log::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}

/// Inserts a user row; shared by sign-up and `admin create`.
async fn insert_user(
    conn: &impl ConnectionTrait,
    id: &UserId,
    tenant_id: Option<&TenantId>,
    new_user: NewUser,
    role: UserRole,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    Ok(user::ActiveModel {
        id: Set(id.to_string()),
        tenant_id: Set(tenant_id.map(ToString::to_string)),
        email: Set(new_user.email),
        password_hash: Set(new_user.password_hash),
        role: Set(role),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

/// Parses a tenant id read back from the database.
fn parse_tenant(raw: Option<&str>) -> StoreResult<Option<TenantId>> {
    raw.map(TenantId::parse)
        .transpose()
        .map_err(|err| StoreError::Database(DbErr::Custom(format!("stored tenant id: {err}"))))
}

/// Begins a transaction that writes. On SQLite it takes the write lock
/// first (a no-op `UPDATE`): a transaction that reads before it writes fails
/// at once with "database is locked" when another connection wrote in
/// between, whereas a first write waits its turn (busy timeout). Every
/// process sharing a SQLite file (`serve`, a CLI import) relies on this.
pub(crate) async fn begin_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let txn = db.begin().await?;
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE platform_settings SET value = value WHERE key = ''")
            .await?;
    }
    Ok(txn)
}
