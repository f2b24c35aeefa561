//! A merchant's own tenant: profile and branding shown on hosted pages.

use billing::ids::TenantId;
use mailer::Link;
use store::{Actor, Tenant, TenantProfile};

use crate::accounts::normalize_email;
use crate::{Platform, PlatformError, PlatformResult, RequestId};

/// The settings form, as typed (empty optional fields mean "none").
#[derive(Debug, Clone, Default)]
pub struct ProfileForm {
    /// Display name.
    pub name: String,
    /// `#rrggbb`, or empty.
    pub brand_color: String,
    /// `https://…` logo URL, or empty.
    pub logo_url: String,
    /// Support email, or empty.
    pub support_email: String,
}

/// Trims a field; blank means absent.
fn optional(raw: &str) -> Option<String> {
    Some(raw.trim().to_owned()).filter(|value| !value.is_empty())
}

/// Checks the form and turns it into what is stored.
pub(crate) fn validate(form: &ProfileForm) -> PlatformResult<TenantProfile> {
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(PlatformError::invalid(
            "name",
            "enter a business name of 1 to 100 characters",
        ));
    }
    let brand_color = optional(&form.brand_color).map(|c| c.to_lowercase());
    if let Some(color) = &brand_color {
        let hex = color.strip_prefix('#').unwrap_or_default();
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(PlatformError::invalid(
                "brand_color",
                "use a colour like #3451b2",
            ));
        }
    }
    let logo_url = optional(&form.logo_url);
    if let Some(url) = &logo_url {
        // The same rule as every email's logo (`mailer::Link::image`), so a
        // saved logo is never dropped at send time; blanks and quotes are
        // refused rather than percent-encoded, being typos.
        let plausible = url.chars().count() <= 500
            && !url
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>')
            && Link::image(url).is_ok();
        if !plausible {
            return Err(PlatformError::invalid(
                "logo_url",
                "use an https:// address of an image (http:// only on localhost), up to 500 characters",
            ));
        }
    }
    let support_email = optional(&form.support_email)
        .map(|email| normalize_email(&email))
        .transpose()
        .map_err(|_| {
            PlatformError::invalid("support_email", "enter a valid support email address")
        })?;
    Ok(TenantProfile {
        name,
        brand_color,
        logo_url,
        support_email,
    })
}

impl Platform {
    /// Updates the merchant's name and branding.
    pub async fn update_tenant_profile(
        &self,
        tenant_id: &TenantId,
        form: &ProfileForm,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<Tenant> {
        let profile = validate(form)?;
        let updated = self
            .store()
            .update_tenant_profile(tenant_id, profile, &self.audit_context(actor, request_id))
            .await?
            .ok_or(PlatformError::NotFound("tenant"))?;
        // Cached API callers carry the tenant row.
        self.forget_api_callers();
        Ok(updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(color: &str, logo: &str, email: &str) -> ProfileForm {
        ProfileForm {
            name: " Acme ".into(),
            brand_color: color.into(),
            logo_url: logo.into(),
            support_email: email.into(),
        }
    }

    #[test]
    fn blank_optional_fields_are_none_and_values_are_normalised() {
        let profile = validate(&form(" #AABBCC ", "", "Help@Acme.io")).unwrap();
        assert_eq!(profile.name, "Acme");
        assert_eq!(profile.brand_color.as_deref(), Some("#aabbcc"));
        assert_eq!(profile.logo_url, None);
        assert_eq!(profile.support_email.as_deref(), Some("help@acme.io"));
    }

    #[test]
    fn bad_values_name_their_field() {
        let field = |f: ProfileForm| match validate(&f) {
            Err(PlatformError::Invalid { field, .. }) => field,
            other => panic!("accepted: {other:?}"),
        };
        assert_eq!(field(form("blue", "", "")), "brand_color");
        assert_eq!(field(form("#12345", "", "")), "brand_color");
        assert_eq!(field(form("", "http://acme.io/logo.png", "")), "logo_url");
        assert_eq!(field(form("", "https://acme.io/a b.png", "")), "logo_url");
        assert_eq!(field(form("", "javascript:alert(1)", "")), "logo_url");
        assert!(validate(&form("", "http://localhost:8080/logo.png", "")).is_ok());
        assert_eq!(field(form("", "", "not-an-email")), "support_email");
        assert_eq!(field(ProfileForm::default()), "name");
    }
}
