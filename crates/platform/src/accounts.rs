//! Sign-up, login (with throttling), sessions, logout and platform admins.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use billing::ids::TenantId;
use chrono::TimeDelta;
use store::{Actor, AuditContext, NewTenant, NewUser, Session, StoreError, Tenant, User, UserRole};

use crate::tokens::{random_token, sha256_hex};
use crate::{Platform, PlatformError, PlatformResult, RequestId, Secret};

/// A sign-up form, as typed by the merchant.
#[derive(Clone)]
pub struct SignUp {
    /// Business name shown to customers.
    pub business_name: String,
    /// URL name for hosted pages.
    pub slug: String,
    /// Owner's login email.
    pub email: String,
    /// Owner's password (plain text, only in memory).
    pub password: Secret,
}

/// Which door a login comes through: merchants and admins never share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// The merchant dashboard.
    Merchant,
    /// The platform admin console.
    Admin,
}

/// A browser that proved who it is.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The stored session.
    pub session: Session,
    /// Its user.
    pub user: User,
    /// The user's tenant (merchant users only).
    pub tenant: Option<Tenant>,
}

impl SignedIn {
    /// The tenant id of a merchant user; admins have none.
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant
            .as_ref()
            .and_then(|tenant| tenant.id.parse().ok())
    }

    /// The audit actor for this user.
    pub fn actor(&self) -> PlatformResult<Actor> {
        actor_for(&self.user)
    }
}

/// The audit actor a user acts as: admins and merchant users are told apart.
fn actor_for(user: &User) -> PlatformResult<Actor> {
    let id = user
        .id
        .parse()
        .map_err(|_| PlatformError::Internal("stored user id".into()))?;
    Ok(match user.role {
        UserRole::Admin => Actor::admin(&id),
        UserRole::Owner | UserRole::Member => Actor::user(&id),
    })
}

/// A fresh session: the cookie value goes to the browser, nowhere else.
pub struct NewSession {
    /// The random token for the cookie; only its hash is stored.
    pub cookie_token: Secret,
    /// Who logged in.
    pub signed_in: SignedIn,
}

/// Slugs that would collide with the platform's own paths.
const RESERVED_SLUGS: &[&str] = &[
    "admin", "api", "app", "login", "signup", "static", "v1", "www",
];

/// Normalises and checks an email; returns it lower-cased.
pub fn normalize_email(raw: &str) -> PlatformResult<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(PlatformError::invalid(
            "email",
            "enter a valid email address, like you@example.com",
        ))
    }
}

fn check_password(password: &Secret) -> PlatformResult<()> {
    let length = password.expose().chars().count();
    if !(10..=1024).contains(&length) {
        return Err(PlatformError::invalid(
            "password",
            "use a password of at least 10 characters",
        ));
    }
    Ok(())
}

fn check_slug(slug: &str) -> PlatformResult<()> {
    let well_formed = (3..=40).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !well_formed {
        return Err(PlatformError::invalid(
            "slug",
            "use 3 to 40 lower-case letters, digits or dashes, not starting or ending with a dash",
        ));
    }
    if RESERVED_SLUGS.contains(&slug) {
        return Err(PlatformError::invalid(
            "slug",
            "this URL name is reserved; pick another",
        ));
    }
    Ok(())
}

/// argon2id with the crate's recommended parameters, off the async threads.
pub async fn hash_password(password: &Secret) -> PlatformResult<String> {
    let password = password.clone();
    blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| PlatformError::Internal(format!("hashing a password: {err}")))
    })
    .await
}

/// Checks `password` against a stored hash (constant-time inside argon2).
async fn verify_password(password: &Secret, stored_hash: String) -> PlatformResult<bool> {
    let password = password.clone();
    blocking(move || {
        let parsed = PasswordHash::new(&stored_hash)
            .map_err(|err| PlatformError::Internal(format!("stored password hash: {err}")))?;
        Ok(Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok())
    })
    .await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> PlatformResult<T> + Send + 'static,
) -> PlatformResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| PlatformError::Internal(format!("blocking task: {err}")))?
}

impl Platform {
    /// Creates a tenant and its owner; the owner is logged in straight away.
    pub async fn sign_up(
        &self,
        form: SignUp,
        request_id: &RequestId,
    ) -> PlatformResult<NewSession> {
        let business_name = form.business_name.trim().to_owned();
        if business_name.is_empty() || business_name.chars().count() > 100 {
            return Err(PlatformError::invalid(
                "business_name",
                "enter a business name of 1 to 100 characters",
            ));
        }
        let slug = form.slug.trim().to_lowercase();
        check_slug(&slug)?;
        let email = normalize_email(&form.email)?;
        check_password(&form.password)?;
        if self.store().user_by_email(&email).await?.is_some() {
            return Err(PlatformError::EmailTaken);
        }
        if self.store().tenant_by_slug(&slug).await?.is_some() {
            return Err(PlatformError::SlugTaken);
        }
        let password_hash = hash_password(&form.password).await?;
        let (_tenant, user) = self
            .store()
            .create_tenant_with_owner(
                NewTenant {
                    slug,
                    name: business_name,
                },
                NewUser {
                    email,
                    password_hash,
                },
                request_id.as_str(),
                self.now(),
            )
            .await
            .map_err(|err| match err {
                // Lost a race with a concurrent sign-up: report it like the pre-check.
                StoreError::Duplicate => PlatformError::EmailTaken,
                other => other.into(),
            })?;
        self.open_session(user, request_id).await
    }

    /// Checks credentials through `kind`'s door, throttled per account and
    /// per client address, and opens a session.
    pub async fn log_in(
        &self,
        kind: LoginKind,
        email: &str,
        password: &Secret,
        client_ip: &str,
        request_id: &RequestId,
    ) -> PlatformResult<NewSession> {
        let email = email.trim().to_lowercase();
        let account_subject = format!("account:{email}");
        let ip_subject = format!("ip:{client_ip}");
        let policy = self.settings().login_throttle;
        let window = TimeDelta::from_std(policy.window).unwrap_or(TimeDelta::MAX);
        let since = self.now() - window;
        let account_failures = self
            .store()
            .login_failures_since(&account_subject, since)
            .await?;
        let ip_failures = self
            .store()
            .login_failures_since(&ip_subject, since)
            .await?;
        if account_failures >= policy.per_account || ip_failures >= policy.per_ip {
            tracing::warn!(client_ip, "login throttled");
            return Err(PlatformError::Throttled {
                retry_after_secs: policy.window.as_secs(),
            });
        }

        let user = self.store().user_by_email(&email).await?;
        let door_matches = |user: &User| match kind {
            LoginKind::Admin => user.role == UserRole::Admin,
            LoginKind::Merchant => user.role != UserRole::Admin,
        };
        let verified = match user {
            Some(user) if door_matches(&user) => {
                let ok = verify_password(password, user.password_hash.clone()).await?;
                ok.then_some(user)
            }
            _ => {
                // Spend the same time as a real check so response times do not
                // reveal which emails have accounts.
                verify_password(password, self.dummy_password_hash().to_owned()).await?;
                None
            }
        };
        let Some(user) = verified else {
            let now = self.now();
            self.store()
                .record_login_failure(&account_subject, now)
                .await?;
            self.store().record_login_failure(&ip_subject, now).await?;
            tracing::info!(client_ip, "login failed");
            return Err(PlatformError::InvalidCredentials);
        };
        self.store().clear_login_failures(&account_subject).await?;
        self.open_session(user, request_id).await
    }

    async fn open_session(&self, user: User, request_id: &RequestId) -> PlatformResult<NewSession> {
        let token = random_token();
        let now = self.now();
        let ttl = TimeDelta::from_std(self.settings().session_ttl).unwrap_or(TimeDelta::MAX);
        let tenant = self.tenant_of(&user).await?;
        let ctx = AuditContext {
            actor: actor_for(&user)?,
            request_id: request_id.to_string(),
            now,
        };
        let session = self
            .store()
            .create_session(&user, sha256_hex(&token), now + ttl, &ctx)
            .await?;
        Ok(NewSession {
            cookie_token: Secret::new(token),
            signed_in: SignedIn {
                session,
                user,
                tenant,
            },
        })
    }

    async fn tenant_of(&self, user: &User) -> PlatformResult<Option<Tenant>> {
        match &user.tenant_id {
            Some(raw) => {
                let id: TenantId = raw
                    .parse()
                    .map_err(|_| PlatformError::Internal("stored tenant id".into()))?;
                Ok(self.store().tenant(&id).await?)
            }
            None => Ok(None),
        }
    }

    /// The signed-in user behind a session cookie, if it is live.
    pub async fn session(&self, cookie_token: &str) -> PlatformResult<Option<SignedIn>> {
        let Some((session, user)) = self
            .store()
            .session_user(&sha256_hex(cookie_token), self.now())
            .await?
        else {
            return Ok(None);
        };
        let tenant = self.tenant_of(&user).await?;
        Ok(Some(SignedIn {
            session,
            user,
            tenant,
        }))
    }

    /// Ends a session; the cookie token stops working immediately.
    pub async fn log_out(
        &self,
        signed_in: &SignedIn,
        request_id: &RequestId,
    ) -> PlatformResult<()> {
        let ctx = AuditContext {
            actor: signed_in.actor()?,
            request_id: request_id.to_string(),
            now: self.now(),
        };
        self.store()
            .delete_session(&signed_in.session, signed_in.tenant_id().as_ref(), &ctx)
            .await?;
        Ok(())
    }

    /// Creates a platform admin (the `admin create` command).
    pub async fn create_admin(&self, email: &str, password: &Secret) -> PlatformResult<User> {
        let email = normalize_email(email)?;
        check_password(password)?;
        if self.store().user_by_email(&email).await?.is_some() {
            return Err(PlatformError::EmailTaken);
        }
        let password_hash = hash_password(password).await?;
        let ctx = AuditContext {
            actor: Actor::system(),
            request_id: RequestId::for_task("cli").to_string(),
            now: self.now(),
        };
        self.store()
            .create_admin(
                NewUser {
                    email,
                    password_hash,
                },
                &ctx,
            )
            .await
            .map_err(|err| match err {
                StoreError::Duplicate => PlatformError::EmailTaken,
                other => other.into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@example",
            "ann@.com",
            "a n@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn slugs_are_url_safe_and_not_reserved() {
        assert!(check_slug("acme-co").is_ok());
        for bad in ["ac", "Acme", "-acme", "acme-", "acme co", "admin"] {
            assert!(check_slug(bad).is_err(), "{bad:?} accepted");
        }
    }
}
