//! The macro that turns the table of keys into [`Settings`] and the code
//! that must name every key: reading one from text, merging, `Debug`,
//! and picking the value a side (primary or read-only) uses.
//!
//! [`Settings`]: super::Settings

/// Expands the key table in `raw.rs`. Each row is
/// `pg_key / pg_ro_key: Type = reader,` where `reader` parses text.
macro_rules! settings_table {
    (
        $(#[$outer:meta])*
        pub struct Settings {
            $( $(#[$doc:meta])* $pg:ident / $ro:ident : $ty:ty = $read:path, )*
        }
    ) => {
        $(#[$outer])*
        #[derive(Clone, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Settings {
            $( $(#[$doc])* pub $pg: Option<$ty>, )*
            $(
                #[doc = concat!(
                    "`", stringify!($ro), "`: the read-only twin of [`",
                    stringify!($pg), "`](Self::", stringify!($pg), ").\n\n",
                    "Default: the value of `", stringify!($pg), "`."
                )]
                pub $ro: Option<$ty>,
            )*
            /// Where each value came from and the warnings raised while
            /// reading; leave it to `Default` when building in code.
            #[serde(skip)]
            pub provenance: Provenance,
        }

        impl Settings {
            const KEYS: &'static [&'static str] =
                &[$(stringify!($pg),)* $(stringify!($ro),)*];

            /// Whether `key` (a `pg_*` name, any case) holds a value here.
            ///
            /// Unknown keys are never set.
            pub fn is_set(&self, key: &str) -> bool {
                match key.to_ascii_lowercase().as_str() {
                    $(
                        stringify!($pg) => self.$pg.is_some(),
                        stringify!($ro) => self.$ro.is_some(),
                    )*
                    _ => false,
                }
            }

            /// Combines two sets of settings: every key set in `over` wins,
            /// the others keep their value from `self`.
            ///
            /// Origins follow the winning values and the warnings of both
            /// are kept. Merge in the order default < file < environment <
            /// code:
            /// `Settings::from_conf_file(path)?.merge(Settings::from_env()?)`.
            pub fn merge(mut self, over: Settings) -> Settings {
                $(
                    if over.$pg.is_some() {
                        self.$pg = over.$pg;
                        self.provenance.adopt(stringify!($pg), &over.provenance);
                    }
                    if over.$ro.is_some() {
                        self.$ro = over.$ro;
                        self.provenance.adopt(stringify!($ro), &over.provenance);
                    }
                )*
                self.provenance.append_warnings(over.provenance);
                self
            }

            /// Sets `key` (lowercase) from text; an empty text unsets it.
            /// Returns whether the key is known.
            pub(super) fn set_text(
                &mut self,
                key: &str,
                value: &str,
                origin: &Origin,
            ) -> Result<bool, SettingsError> {
                match key {
                    $(
                        stringify!($pg) => {
                            self.$pg = read(key, value, $read)?;
                            let set = self.$pg.is_some();
                            self.provenance.record(stringify!($pg), set, origin);
                        }
                        stringify!($ro) => {
                            self.$ro = read(key, value, $read)?;
                            let set = self.$ro.is_some();
                            self.provenance.record(stringify!($ro), set, origin);
                        }
                    )*
                    _ => return Ok(false),
                }
                Ok(true)
            }

            /// The raw values one side uses, each with the key it came from.
            pub(super) fn side(&self, read_only: bool) -> SideRaw {
                SideRaw {
                    $(
                        $pg: Field::pick(
                            read_only,
                            (stringify!($pg), &self.$pg),
                            (stringify!($ro), &self.$ro),
                        ),
                    )*
                }
            }
        }

        impl fmt::Debug for Settings {
            /// Prints the keys that are set; secrets print a placeholder.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut out = f.debug_struct("Settings");
                $(
                    if let Some(value) = &self.$pg {
                        out.field(stringify!($pg), value);
                    }
                )*
                $(
                    if let Some(value) = &self.$ro {
                        out.field(stringify!($ro), value);
                    }
                )*
                out.finish_non_exhaustive()
            }
        }

        /// The values one side uses before defaults, named after the
        /// primary keys whatever the side.
        pub(super) struct SideRaw {
            $( pub(super) $pg: Field<$ty>, )*
        }
    };
}
