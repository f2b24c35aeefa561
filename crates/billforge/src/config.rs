//! Configuration: environment variables over an optional TOML file over safe
//! defaults. Every setting is listed in `docs/configuration.md`.

use std::path::Path;

use anyhow::{Context, bail};
use platform::{LogFormat, Secret, Settings};
use serde::Deserialize;

/// The default database: a SQLite file under `./data/`, created on first run.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/billforge.sqlite?mode=rwc";
/// The default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// The optional TOML file; keys are the env var names in lower case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// `DATABASE_URL`.
    database_url: Option<String>,
    /// `BIND`.
    bind: Option<String>,
    /// `PUBLIC_URL`.
    public_url: Option<String>,
    /// `SECRET_KEY`.
    secret_key: Option<String>,
    /// `LOG_FORMAT`.
    log_format: Option<String>,
    /// `STRIPE_SECRET_KEY`.
    stripe_secret_key: Option<String>,
    /// `STRIPE_API_BASE`.
    stripe_api_base: Option<String>,
    /// `STRIPE_EMULATOR_BIND`.
    stripe_emulator_bind: Option<String>,
    /// `STRIPE_WEBHOOK_SECRETS`.
    stripe_webhook_secrets: Option<String>,
    /// `STRIPE_CONNECT_WEBHOOK_SECRETS`.
    stripe_connect_webhook_secrets: Option<String>,
    /// `SMTP_URL`.
    smtp_url: Option<String>,
    /// `API_RATE_LIMIT_PER_SECOND`.
    api_rate_limit_per_second: Option<u32>,
    /// `API_RATE_LIMIT_BURST`.
    api_rate_limit_burst: Option<u32>,
    /// `MAIL_FROM`.
    mail_from: Option<String>,
}

/// Settings plus what the startup banner says about them.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The resolved settings.
    pub settings: Settings,
    /// Human descriptions of the defaults in use, for the banner.
    pub defaults_in_use: Vec<String>,
}

/// Resolves the configuration from `env` (a look-up function so tests need
/// not touch the process environment) and the optional `file`.
pub fn load(
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<LoadedConfig> {
    let from_file = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the config file {}", path.display()))?;
            basic_toml::from_str::<FileConfig>(&text)
                .with_context(|| format!("parsing the config file {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    // Empty values count as unset, so `FOO=` in a .env file does not override.
    let pick = |name: &str, file_value: Option<String>| {
        env(name)
            .filter(|v| !v.trim().is_empty())
            .or(file_value.filter(|v| !v.trim().is_empty()))
    };
    let mut defaults_in_use = Vec::new();

    let database_url = pick("DATABASE_URL", from_file.database_url).unwrap_or_else(|| {
        defaults_in_use.push(format!("DATABASE_URL={DEFAULT_DATABASE_URL}"));
        DEFAULT_DATABASE_URL.to_owned()
    });
    if !(database_url.starts_with("sqlite:")
        || database_url.starts_with("postgres://")
        || database_url.starts_with("postgresql://"))
    {
        bail!("DATABASE_URL must start with sqlite:, postgres:// or postgresql://");
    }
    let bind = pick("BIND", from_file.bind).unwrap_or_else(|| {
        defaults_in_use.push(format!("BIND={DEFAULT_BIND}"));
        DEFAULT_BIND.to_owned()
    });
    bind.parse::<std::net::SocketAddr>()
        .with_context(|| format!("BIND must be an address like 127.0.0.1:8080, got {bind:?}"))?;
    let public_url = pick("PUBLIC_URL", from_file.public_url).unwrap_or_else(|| {
        defaults_in_use.push(format!("PUBLIC_URL=http://{bind}"));
        format!("http://{bind}")
    });
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        bail!("PUBLIC_URL must start with http:// or https://, got {public_url:?}");
    }
    let secret_key = pick("SECRET_KEY", from_file.secret_key).map(Secret::new);
    if secret_key.is_none() {
        defaults_in_use.push("SECRET_KEY generated once and kept in the database".to_owned());
    }
    let log_format = match pick("LOG_FORMAT", from_file.log_format).as_deref() {
        None | Some("human") => LogFormat::Human,
        Some("json") => LogFormat::Json,
        Some(other) => bail!("LOG_FORMAT must be `human` or `json`, got {other:?}"),
    };
    let stripe_secret_key = pick("STRIPE_SECRET_KEY", from_file.stripe_secret_key).map(Secret::new);
    if stripe_secret_key.is_none() {
        defaults_in_use
            .push("no STRIPE_SECRET_KEY: test mode on the embedded Stripe emulator".to_owned());
    }
    let stripe_api_base = pick("STRIPE_API_BASE", from_file.stripe_api_base);
    let stripe_emulator_bind = pick("STRIPE_EMULATOR_BIND", from_file.stripe_emulator_bind)
        .unwrap_or_else(|| "127.0.0.1:12111".to_owned());
    let stripe_webhook_secrets = webhook_secrets(
        "STRIPE_WEBHOOK_SECRETS",
        pick("STRIPE_WEBHOOK_SECRETS", from_file.stripe_webhook_secrets),
    )?;
    let stripe_connect_webhook_secrets = webhook_secrets(
        "STRIPE_CONNECT_WEBHOOK_SECRETS",
        pick(
            "STRIPE_CONNECT_WEBHOOK_SECRETS",
            from_file.stripe_connect_webhook_secrets,
        ),
    )?;
    if stripe_webhook_secrets.is_empty() || stripe_connect_webhook_secrets.is_empty() {
        defaults_in_use.push(
            "no STRIPE_WEBHOOK_SECRETS / STRIPE_CONNECT_WEBHOOK_SECRETS: webhook endpoints are registered on Stripe at start-up, secrets kept in the database"
                .to_owned(),
        );
    }
    let smtp_url = pick("SMTP_URL", from_file.smtp_url).map(Secret::new);
    if smtp_url.is_none() {
        defaults_in_use.push(
            "no SMTP_URL: emails are kept as captured (admin console, log), not sent".to_owned(),
        );
    }
    let mail_from = pick("MAIL_FROM", from_file.mail_from);
    if let Some(address) = &mail_from
        && let Err(err) = mailer::parse_address(address)
    {
        bail!("MAIL_FROM must be an email address like billing@example.com: {err}");
    }

    if database_url == DEFAULT_DATABASE_URL {
        std::fs::create_dir_all("./data")
            .context("creating ./data for the default SQLite database")?;
    }
    let mut settings = Settings::with_defaults(&database_url);
    settings.bind = bind;
    settings.public_url = public_url.trim_end_matches('/').to_owned();
    settings.secret_key = secret_key;
    settings.log_format = log_format;
    settings.stripe_secret_key = stripe_secret_key;
    settings.stripe_api_base = stripe_api_base;
    settings.stripe_emulator_bind = stripe_emulator_bind;
    settings.stripe_webhook_secrets = stripe_webhook_secrets;
    settings.stripe_connect_webhook_secrets = stripe_connect_webhook_secrets;
    settings.smtp_url = smtp_url;
    for (name, from_file, target) in [
        (
            "API_RATE_LIMIT_PER_SECOND",
            from_file.api_rate_limit_per_second,
            &mut settings.api_rate_limit.per_second,
        ),
        (
            "API_RATE_LIMIT_BURST",
            from_file.api_rate_limit_burst,
            &mut settings.api_rate_limit.burst,
        ),
    ] {
        let value =
            match env(name) {
                Some(raw) => Some(raw.parse::<u32>().ok().filter(|n| *n > 0).with_context(
                    || format!("{name} must be a positive whole number, got {raw:?}"),
                )?),
                None => from_file,
            };
        if let Some(value) = value {
            *target = value;
        }
    }
    if let Some(address) = mail_from {
        settings.mail_from = address;
    }
    Ok(LoadedConfig {
        settings,
        defaults_in_use,
    })
}

/// A comma-separated list of webhook signing secrets (several while one is
/// rolled). The error never quotes the value: it is secret.
fn webhook_secrets(name: &str, raw: Option<String>) -> anyhow::Result<Vec<Secret>> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .enumerate()
        .map(|(index, secret)| {
            if secret.starts_with("whsec_") && secret.len() > "whsec_".len() {
                Ok(Secret::new(secret))
            } else {
                bail!(
                    "{name}: secret number {} does not look like a webhook signing secret (whsec_…)",
                    index + 1
                )
            }
        })
        .collect()
}

/// The database URL with any password masked, for the banner and logs.
pub fn redacted_database_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn env_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("billforge.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\ndatabase_url = \"sqlite://x.sqlite\"\n",
        )
        .unwrap();
        let loaded = load(
            Some(&file),
            &env_of(&[("BIND", "127.0.0.1:9100"), ("LOG_FORMAT", "json")]),
        )
        .unwrap();
        assert_eq!(loaded.settings.bind, "127.0.0.1:9100");
        assert_eq!(loaded.settings.database_url.expose(), "sqlite://x.sqlite");
        assert_eq!(loaded.settings.public_url, "http://127.0.0.1:9100");
        assert_eq!(loaded.settings.log_format, LogFormat::Json);
        assert!(
            loaded
                .defaults_in_use
                .iter()
                .any(|d| d.starts_with("PUBLIC_URL"))
        );
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let bad_bind = load(
            None,
            &env_of(&[("DATABASE_URL", "sqlite://x"), ("BIND", "nowhere")]),
        );
        assert!(format!("{:#}", bad_bind.unwrap_err()).contains("BIND must be an address"));
        let bad_log = load(
            None,
            &env_of(&[("DATABASE_URL", "sqlite://x"), ("LOG_FORMAT", "xml")]),
        );
        assert!(format!("{:#}", bad_log.unwrap_err()).contains("LOG_FORMAT"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "bnd = \"typo\"\n").unwrap();
        assert!(
            format!("{:#}", load(Some(&file), &env_of(&[])).unwrap_err()).contains("unknown field")
        );
    }

    #[test]
    fn webhook_secrets_are_comma_separated_and_checked_without_echo() {
        let loaded = load(
            None,
            &env_of(&[
                ("DATABASE_URL", "sqlite://x"),
                ("STRIPE_WEBHOOK_SECRETS", " whsec_new , whsec_old,"),
                ("STRIPE_CONNECT_WEBHOOK_SECRETS", "whsec_connect"),
            ]),
        )
        .unwrap();
        let exposed = |secrets: &[Secret]| -> Vec<String> {
            secrets.iter().map(|s| s.expose().to_owned()).collect()
        };
        assert_eq!(
            exposed(&loaded.settings.stripe_webhook_secrets),
            ["whsec_new", "whsec_old"]
        );
        assert_eq!(
            exposed(&loaded.settings.stripe_connect_webhook_secrets),
            ["whsec_connect"]
        );
        assert!(
            !loaded
                .defaults_in_use
                .iter()
                .any(|d| d.contains("STRIPE_WEBHOOK_SECRETS"))
        );

        let bad = load(
            None,
            &env_of(&[
                ("DATABASE_URL", "sqlite://x"),
                ("STRIPE_WEBHOOK_SECRETS", "whsec_ok,sk_live_oops"),
            ]),
        );
        let message = format!("{:#}", bad.unwrap_err());
        assert!(message.contains("secret number 2"), "{message}");
        assert!(!message.contains("sk_live_oops"), "{message}");

        let unset = load(None, &env_of(&[("DATABASE_URL", "sqlite://x")])).unwrap();
        assert!(unset.settings.stripe_webhook_secrets.is_empty());
        assert!(
            unset
                .defaults_in_use
                .iter()
                .any(|d| d.contains("registered on Stripe at start-up"))
        );
    }

    #[test]
    fn database_passwords_are_masked() {
        assert_eq!(
            redacted_database_url("postgres://bf:hunter2@db:5432/bf"),
            "postgres://bf:redacted@db:5432/bf"
        );
    }
}
