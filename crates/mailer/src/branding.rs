//! Who an email is from and to, and the merchant's look: the values that go
//! into every message, validated once so templates can trust them.

use std::fmt;
use std::str::FromStr;

use lettre::Address;
use serde::{Deserialize, Serialize};

/// Why a branding or link value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrandingError {
    #[error("`{0}` is not an accent colour (expected `#rrggbb`, e.g. `#635bff`)")]
    AccentColour(String),
    #[error(
        "`{0}` is not a link an email may contain (expected an absolute http:// or https:// URL)"
    )]
    Link(String),
    #[error(
        "`{0}` is not an image address (expected https://, or http:// on localhost while developing)"
    )]
    ImageLink(String),
    #[error("`{0}` is not an email address")]
    Address(String),
    #[error("the merchant name must not be empty")]
    EmptyName,
}

/// A colour as `#rrggbb`. Validated because it is written into a `style`
/// attribute, where HTML escaping alone would not stop CSS injection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccentColour {
    /// Red, green and blue, 0–255 each.
    rgb: [u8; 3],
}

impl AccentColour {
    /// Parses `#rrggbb` (or `rrggbb`), in any case.
    pub fn parse(raw: &str) -> Result<Self, BrandingError> {
        let invalid = || BrandingError::AccentColour(raw.to_owned());
        let digits = raw.trim().trim_start_matches('#');
        if digits.len() != 6 || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let channel = |index: usize| u8::from_str_radix(&digits[index..index + 2], 16);
        Ok(Self {
            rgb: [
                channel(0).map_err(|_| invalid())?,
                channel(2).map_err(|_| invalid())?,
                channel(4).map_err(|_| invalid())?,
            ],
        })
    }

    /// `#rrggbb`, lower case.
    pub fn css(self) -> String {
        let [red, green, blue] = self.rgb;
        format!("#{red:02x}{green:02x}{blue:02x}")
    }

    /// Black or white, whichever reads better on the accent colour, so a
    /// merchant choosing a pale accent does not get unreadable buttons.
    pub fn text_css(self) -> &'static str {
        let [red, green, blue] = self.rgb.map(f64::from);
        // Perceived brightness (ITU-R BT.601 weights), 0–255.
        let brightness = 0.299 * red + 0.587 * green + 0.114 * blue;
        if brightness > 150.0 {
            "#111111"
        } else {
            "#ffffff"
        }
    }
}

impl fmt::Display for AccentColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.css())
    }
}

impl fmt::Debug for AccentColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccentColour({})", self.css())
    }
}

impl TryFrom<String> for AccentColour {
    type Error = BrandingError;
    fn try_from(raw: String) -> Result<Self, BrandingError> {
        Self::parse(&raw)
    }
}

impl From<AccentColour> for String {
    fn from(colour: AccentColour) -> String {
        colour.css()
    }
}

/// An absolute `http`/`https` URL. A newtype because HTML escaping does not
/// make a `javascript:` URL in an `href` safe; only refusing it does.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Link {
    /// The parsed URL, scheme already checked.
    url: url::Url,
}

impl Link {
    pub fn parse(raw: &str) -> Result<Self, BrandingError> {
        match url::Url::parse(raw.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                Ok(Self { url })
            }
            _ => Err(BrandingError::Link(raw.to_owned())),
        }
    }

    /// An image shown in every email and hosted page (the logo): https
    /// only, because a mail client or an https page blocks a plain-http
    /// image; plain http is let through for a host on the merchant's own
    /// machine, where a developer tries their branding.
    pub fn image(raw: &str) -> Result<Self, BrandingError> {
        let refused = || BrandingError::ImageLink(raw.to_owned());
        let link = Self::parse(raw).map_err(|_| refused())?;
        let local = matches!(link.url.host(), Some(url::Host::Domain("localhost")))
            || matches!(link.url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(link.url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        match link.url.scheme() {
            "https" => Ok(link),
            "http" if local => Ok(link),
            _ => Err(refused()),
        }
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Link({})", self.as_str())
    }
}

impl FromStr for Link {
    type Err = BrandingError;
    fn from_str(raw: &str) -> Result<Self, BrandingError> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for Link {
    type Error = BrandingError;
    fn try_from(raw: String) -> Result<Self, BrandingError> {
        Self::parse(&raw)
    }
}

impl From<Link> for String {
    fn from(link: Link) -> String {
        link.url.into()
    }
}

/// Parses an email address with a message that names the bad input.
pub fn parse_address(raw: &str) -> Result<Address, BrandingError> {
    raw.trim()
        .parse()
        .map_err(|_| BrandingError::Address(raw.to_owned()))
}

/// Removes control characters (CR, LF, tabs…) from a display name: a name
/// goes into headers and single-line places, where a line break is either an
/// injection attempt or an accident.
fn single_line(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How the sender of an email looks: the merchant for mail to its customers,
/// Billforge itself for mail to merchants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    /// Shown as the From display name and in the header, so customers see
    /// who is writing to them; single line, never empty.
    pub name: String,
    /// Shown in the header of the HTML part when present; a checked link so
    /// it cannot smuggle a `javascript:` or `data:` URL.
    pub logo_url: Option<Link>,
    /// Colours the header bar and buttons.
    pub accent_colour: AccentColour,
    /// Becomes the Reply-To, so replies reach the merchant and not the
    /// platform's sending address.
    pub support_email: Address,
    /// The postal address printed in the footer (anti-spam laws ask for
    /// one); one entry per line.
    pub footer_address: Vec<String>,
}

impl Branding {
    /// Builds branding from raw settings, cleaning the name and splitting the
    /// footer address into lines.
    pub fn new(
        name: &str,
        logo_url: Option<Link>,
        accent_colour: AccentColour,
        support_email: Address,
        footer_address: &str,
    ) -> Result<Self, BrandingError> {
        let name = single_line(name);
        if name.is_empty() {
            return Err(BrandingError::EmptyName);
        }
        let footer_address = footer_address
            .lines()
            .map(single_line)
            .filter(|line| !line.is_empty())
            .collect();
        Ok(Self {
            name,
            logo_url,
            accent_colour,
            support_email,
            footer_address,
        })
    }
}

/// Who receives an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Where the email goes (the SMTP envelope recipient and the To header).
    pub address: Address,
    /// Used in the greeting and the To display name when known.
    pub name: Option<String>,
}

impl Recipient {
    pub fn new(address: Address, name: Option<&str>) -> Self {
        let name = name.map(single_line).filter(|name| !name.is_empty());
        Self { address, name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accent_colour_accepts_hex_and_rejects_css_tricks() {
        assert_eq!(AccentColour::parse("#635BFF").unwrap().css(), "#635bff");
        assert_eq!(AccentColour::parse("00ff00").unwrap().css(), "#00ff00");
        for bad in [
            "",
            "#fff",
            "red",
            "#12345g",
            "#123456; background:url(x)",
            "#1234567",
        ] {
            assert_eq!(
                AccentColour::parse(bad),
                Err(BrandingError::AccentColour(bad.to_owned()))
            );
        }
    }

    #[test]
    fn accent_text_colour_keeps_contrast() {
        assert_eq!(
            AccentColour::parse("#ffeb3b").unwrap().text_css(),
            "#111111"
        );
        assert_eq!(
            AccentColour::parse("#1a237e").unwrap().text_css(),
            "#ffffff"
        );
    }

    #[test]
    fn links_must_be_web_urls() {
        assert_eq!(
            Link::parse("https://pay.example/i/123").unwrap().as_str(),
            "https://pay.example/i/123"
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "/relative",
            "mailto:a@b.example",
            "",
        ] {
            assert_eq!(Link::parse(bad), Err(BrandingError::Link(bad.to_owned())));
        }
    }

    #[test]
    fn images_are_https_or_local_http() {
        for good in [
            "https://cdn.shop.example/logo.png",
            "http://localhost:8080/logo.png",
            "http://127.0.0.1/logo.png",
            "http://[::1]/logo.png",
        ] {
            assert!(Link::image(good).is_ok(), "{good}");
        }
        for bad in [
            "http://shop.example/logo.png",
            "http://localhost.shop.example/logo.png",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "logo.png",
        ] {
            assert_eq!(
                Link::image(bad),
                Err(BrandingError::ImageLink(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_are_single_line_and_not_empty() {
        let support = parse_address("help@shop.example").unwrap();
        let colour = AccentColour::parse("#000000").unwrap();
        let branding = Branding::new(
            " Acme\r\nBcc: victim@example.com ",
            None,
            colour,
            support.clone(),
            "1 Main St\r\n\r\nSpringfield",
        )
        .unwrap();
        assert_eq!(branding.name, "Acme Bcc: victim@example.com");
        assert_eq!(branding.footer_address, ["1 Main St", "Springfield"]);
        assert_eq!(
            Branding::new(" \n ", None, colour, support, ""),
            Err(BrandingError::EmptyName)
        );
    }

    #[test]
    fn bad_addresses_are_named_in_the_error() {
        assert_eq!(
            parse_address("not an address").unwrap_err().to_string(),
            "`not an address` is not an email address"
        );
    }
}
