//! Enums that QBO spells more than one way (`NeedToPrint`, `NEED_TO_PRINT`).

/// Normalises an enum spelling: ASCII letters and digits only, lower case.
pub(crate) fn fold(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// Declares a string enum that reads any spelling whose folded form matches a variant, keeps
/// unknown spellings in `Other`, and writes the canonical PascalCase spelling.
macro_rules! lenient_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $canon:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A spelling this crate does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The canonical spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $canon,)+
                    $name::Other(s) => s,
                }
            }

            /// Reads any spelling of a variant (case, `_` and spaces ignored).
            pub fn parse(s: &str) -> Self {
                let folded = $crate::model::lenient::fold(s);
                $(if folded == $crate::model::lenient::fold($canon) { return $name::$variant; })+
                $name::Other(s.to_string())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Ok($name::parse(&s))
            }
        }
    };
}

pub(crate) use lenient_enum;
