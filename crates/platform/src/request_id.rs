//! The id of the request being served, shared by web and api without either
//! depending on the other.
//!
//! The ops middleware stores it in the request's extensions and also makes it
//! the "current" id for the request's task, so error responses built far from
//! the handler (extractor failures, JSON errors) can still quote it.

use std::fmt;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// A request's id: `x-request-id` header, log span field, audit entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id (`req_<ulid>`).
    pub fn generate() -> Self {
        Self(format!(
            "req_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ))
    }

    /// An id the client sent (already checked to be short and plain).
    pub fn from_client(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    /// An id for work without a request (CLI, background jobs).
    pub fn for_task(name: &str) -> Self {
        Self(format!(
            "{name}_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Runs `future` with `self` as the current request id.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// The current request's id, or a fresh one outside a request.
    pub fn current_or_new() -> RequestId {
        Self::current().unwrap_or_else(Self::generate)
    }

    /// The id of the request being served, if any.
    pub fn current() -> Option<RequestId> {
        CURRENT.try_with(Clone::clone).ok()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
