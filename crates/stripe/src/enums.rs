//! String enums that survive new values.
//!
//! Stripe adds enum values without a new API version, so every enum we parse
//! keeps an `Unknown(String)` variant carrying the value verbatim instead of
//! failing the whole object.

/// Declares a Stripe string enum: the listed variants plus `Unknown(String)`,
/// with `as_str`, `Display`, `From<&str>`, `Serialize` and `Deserialize`.
macro_rules! stripe_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
            /// A value this adapter does not know yet, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The value as Stripe spells it on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self::from(value.as_ref()))
            }
        }
    };
}

pub(crate) use stripe_enum;

#[cfg(test)]
mod tests {
    stripe_enum! {
        /// A test enum.
        pub enum Colour {
            /// Red.
            Red = "red",
            /// Dark blue.
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn known_values_round_trip() {
        let parsed: Colour = serde_json::from_str("\"dark_blue\"").unwrap();
        assert_eq!(parsed, Colour::DarkBlue);
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"dark_blue\"");
    }

    #[test]
    fn unknown_values_are_kept_verbatim() {
        let parsed: Colour = serde_json::from_str("\"ultraviolet\"").unwrap();
        assert_eq!(parsed, Colour::Unknown("ultraviolet".into()));
        assert_eq!(parsed.to_string(), "ultraviolet");
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"ultraviolet\"");
    }

    #[test]
    fn non_strings_are_rejected() {
        assert!(serde_json::from_str::<Colour>("3").is_err());
    }
}
