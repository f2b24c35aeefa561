//! Real-browser tests: headless Chromium, driven over WebDriver, against the
//! real app (the integration harness's `spawn_app`).
//!
//! Behind the `browser-tests` feature because they need Chromium and a
//! running chromedriver at `WEBDRIVER_URL`; `scripts/browser-tests.sh`
//! installs both and runs this target. Without them the tests fail rather
//! than skip, so CI cannot go green without a browser.

mod chromium;
mod customer;
// Shared with the HTTP-level tests; this target uses only part of it.
#[allow(dead_code)]
#[path = "../integration/harness.rs"]
mod harness;
mod merchant;
