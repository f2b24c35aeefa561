//! `Chromium`: one headless Chromium session that tests drive the way a
//! person would: by page path, label text and button name.
//!
//! Every helper panics with what it was looking for, so a failing test says
//! which step broke rather than showing a bare WebDriver error.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long a click may take to bring up the next page. Generous: the
/// machine is shared and Chromium is slow to start under load.
const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// Chromium flags for a root user on a machine without network or GPU:
/// no sandbox (it refuses to start as root otherwise), no `/dev/shm`
/// (small in containers), and nothing that phones home and stalls offline.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
];

/// A headless Chromium showing one app.
pub struct Chromium {
    /// The WebDriver session that drives this browser.
    client: Client,
    /// The app's `http://127.0.0.1:<port>`, so tests name pages by path.
    base: String,
    /// Chromium's profile directory, fresh per session so no cookie, cache or
    /// history leaks between tests; removed when the session is dropped.
    _profile: tempfile::TempDir,
}

/// Where screenshots go: `<workspace>/target/screenshots`, kept by CI as
/// artifacts.
fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

/// `text` as an XPath string literal. Test strings never need a quote, so
/// refusing one keeps this simple instead of building `concat(…)`.
fn xpath_literal(text: &str) -> String {
    assert!(!text.contains('\''), "no quote in XPath text: {text}");
    format!("'{text}'")
}

impl Chromium {
    /// Starts a fresh Chromium through the chromedriver at `WEBDRIVER_URL`.
    ///
    /// Panics (never skips) when there is none: a browser test that quietly
    /// passes without a browser would hide a broken CI set-up.
    pub async fn open(base: &str) -> Self {
        let webdriver = std::env::var("WEBDRIVER_URL").unwrap_or_else(|_| {
            panic!(
                "WEBDRIVER_URL is not set: run scripts/browser-tests.sh, which installs \
                 Chromium and chromedriver and starts the driver"
            )
        });
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|&arg| arg.to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|err| panic!("no Chromium session from {webdriver}: {err}"));
        Self {
            client,
            base: base.to_owned(),
            _profile: profile,
        }
    }

    /// Ends the session (Chromium exits) before the profile is removed.
    pub async fn close(self) {
        self.client
            .close()
            .await
            .expect("WebDriver closes the session");
    }

    /// Loads `path` of the app.
    pub async fn visit(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|err| panic!("GET {url} in Chromium: {err}"));
    }

    /// Loads an absolute `url`: another site's page (the emulator's hosted
    /// pages) or a link from an email.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("GET {url} in Chromium: {err}"));
    }

    /// The path of the page on screen.
    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current URL")
            .path()
            .to_owned()
    }

    /// The page's `<h1>` text.
    pub async fn heading(&self) -> String {
        self.text(Locator::Css("h1")).await
    }

    /// The text of the page's `role="alert"` message (inline errors).
    pub async fn alert(&self) -> String {
        self.text(Locator::Css("[role=alert]")).await
    }

    /// The visible text of the element `locator` finds.
    pub async fn text(&self, locator: Locator<'_>) -> String {
        self.find(locator)
            .await
            .text()
            .await
            .unwrap_or_else(|err| panic!("text of {locator:?}: {err}"))
    }

    /// The current DOM as HTML, for checks on everything the page carries.
    pub async fn html(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// The values of every cookie the browser holds for the page, HttpOnly
    /// ones included (WebDriver sees them; page scripts would not).
    pub async fn cookie_values(&self) -> Vec<String> {
        self.client
            .get_all_cookies()
            .await
            .expect("cookies")
            .iter()
            .map(|cookie| cookie.value().to_owned())
            .collect()
    }

    /// Types `value` into the field labelled `label`, replacing what was there.
    pub async fn fill(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("clear field");
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|err| panic!("typing into {label:?}: {err}"));
    }

    /// Types `value` into the field named `name`, for pages whose labels
    /// wrap their fields instead of naming them (the emulator's).
    pub async fn fill_named(&self, name: &str, value: &str) {
        let css = format!("[name={name}]");
        let field = self.find(Locator::Css(&css)).await;
        field.clear().await.expect("clear field");
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|err| panic!("typing into {name:?}: {err}"));
    }

    /// Picks the radio button or checkbox labelled `label`.
    pub async fn choose(&self, label: &str) {
        self.field(label)
            .await
            .click()
            .await
            .unwrap_or_else(|err| panic!("choosing {label:?}: {err}"));
    }

    /// Picks the option `option` of the list labelled `label`.
    pub async fn select(&self, label: &str, option: &str) {
        self.field(label)
            .await
            .select_by_label(option)
            .await
            .unwrap_or_else(|err| panic!("choosing {option:?} in {label:?}: {err}"));
    }

    /// What the field labelled `label` currently holds.
    pub async fn field_value(&self, label: &str) -> String {
        self.field(label)
            .await
            .prop("value")
            .await
            .expect("field value")
            .unwrap_or_default()
    }

    /// The field labelled `label`: the label's own text, ignoring hints in
    /// nested elements, names its field with `for`.
    async fn field(&self, label: &str) -> Element {
        let label_xpath = format!("//label[normalize-space(text())={}]", xpath_literal(label));
        let field_id = self
            .find(Locator::XPath(&label_xpath))
            .await
            .attr("for")
            .await
            .expect("label attributes")
            .unwrap_or_else(|| panic!("label {label:?} names its field with `for`"));
        self.find(Locator::Id(&field_id)).await
    }

    /// Clicks the button whose accessible name is `name` (its `aria-label`,
    /// or else its text) and waits for the page it leads to.
    pub async fn press(&self, name: &str) {
        let name = xpath_literal(name);
        let button_xpath = format!(
            "//button[@aria-label={name} or (not(@aria-label) and normalize-space(.)={name})]"
        );
        let button = self.find(Locator::XPath(&button_xpath)).await;
        let old_page = self.find(Locator::Css("html")).await;
        button
            .click()
            .await
            .unwrap_or_else(|err| panic!("clicking button {name}: {err}"));
        self.wait_until_replaced(&old_page, &name).await;
    }

    /// Waits until `old_page` is gone, i.e. the browser shows a new document.
    async fn wait_until_replaced(&self, old_page: &Element, clicked: &str) {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        // A stale element answers with an error once its document is gone.
        while old_page.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "button {clicked} did not lead to a new page (is a form field invalid?)"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves what is on screen as `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create screenshot directory");
        let file = dir.join(format!("{name}.png"));
        std::fs::write(&file, png).unwrap_or_else(|err| panic!("write {}: {err}", file.display()));
    }

    async fn find(&self, locator: Locator<'_>) -> Element {
        match self.client.find(locator).await {
            Ok(element) => element,
            Err(err) => panic!("{locator:?} not found on {}: {err}", self.path().await),
        }
    }
}
