//! Web errors rendered as friendly HTML pages.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use platform::{PlatformError, RequestId};

use crate::browser::Browser;
use crate::views::{ErrorPage, Layout};

/// A failure answered with an HTML page (or a redirect to log in).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A service refused or failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The form's CSRF token is missing or wrong.
    #[error("the form expired or did not come from this site; reload the page and try again")]
    Csrf,
    /// The form could not be read.
    #[error("the form could not be read: {0}")]
    BadForm(String),
    /// The page needs a login; the value is the login page to send people to.
    #[error("please log in")]
    LoginRequired(&'static str),
    /// No such page.
    #[error("this page does not exist")]
    NotFound,
    /// A template failed to render (a bug).
    #[error("a page failed to render")]
    Render(#[from] askama::Error),
    /// Rendering context added by [`WebError::with_browser`].
    #[error("{error}")]
    InPage {
        /// The underlying error.
        error: Box<WebError>,
        /// Navigation of the page the error is shown in.
        layout: Layout,
    },
}

impl WebError {
    /// Shows the error inside the visitor's usual navigation.
    pub fn with_browser(self, browser: &Browser) -> Self {
        Self::InPage {
            layout: browser.layout(),
            error: Box::new(self),
        }
    }

    fn inner(&self) -> &WebError {
        match self {
            Self::InPage { error, .. } => error.inner(),
            other => other,
        }
    }

    fn title(&self) -> &'static str {
        match self.status_code() {
            StatusCode::NOT_FOUND => "Page not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            status if status.is_server_error() => "Something went wrong",
            _ => "That did not work",
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self.inner() {
            Self::Platform(err) => {
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadForm(_) => StatusCode::BAD_REQUEST,
            Self::LoginRequired(_) => StatusCode::SEE_OTHER,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Render(_) | Self::InPage { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let inner = self.inner();
        if let Self::LoginRequired(login_page) = inner {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, *login_page))
                .finish();
        }
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?inner, "page failed");
        }
        let layout = match self {
            Self::InPage { layout, .. } => layout.clone(),
            _ => Layout::anonymous(),
        };
        let page = ErrorPage {
            layout,
            title: self.title(),
            message: inner.to_string(),
            request_id: RequestId::current().map(|id| id.to_string()),
        };
        match page.render() {
            Ok(html) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(_) => HttpResponse::build(status).body(inner.to_string()),
        }
    }
}
