//! The JSON command object as read ([`Wire`]): which of the command keys
//! were present and their values, before it is checked that exactly one
//! was. Read by hand-written visitors, as serde-json-core needs them to
//! borrow and to take `null`.

use core::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use super::set_list::{ListSeed, RawList};

/// A field that is `None` when absent and `Some(None)` when present as
/// `null`, so that `{"toggle":"led","ping":null}` counts two fields, as JSON
/// does.
type Field<T> = Option<Option<T>>;

/// The JSON form: exactly one field may be present.
#[derive(Default)]
pub(super) struct Wire<'a> {
    pub(super) set: Field<RawList<'a>>,
    pub(super) toggle: Field<&'a str>,
    pub(super) ping: Field<f64>,
    pub(super) simulate: Field<RawList<'a>>,
}

/// Reads the command object. Unknown and repeated keys are refused as a
/// serde-derived struct with `deny_unknown_fields` would, at the key.
pub(super) struct WireSeed<'a> {
    pub(super) msg: &'a str,
}

impl<'de: 'a, 'a> Visitor<'de> for WireSeed<'a> {
    type Value = Wire<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a command object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        fn first<T, E: de::Error>(field: &Field<T>, key: &'static str) -> Result<(), E> {
            match field {
                Some(_) => Err(E::duplicate_field(key)),
                None => Ok(()),
            }
        }
        let msg = self.msg;
        let mut wire = Wire::default();
        while let Some(key) = map.next_key::<&'a str>()? {
            match key {
                "set" => {
                    first(&wire.set, "set")?;
                    wire.set = Some(map.next_value_seed(Nullable(ListSeed { msg }))?);
                }
                "simulate" => {
                    first(&wire.simulate, "simulate")?;
                    wire.simulate = Some(map.next_value_seed(Nullable(ListSeed { msg }))?);
                }
                "toggle" => {
                    first(&wire.toggle, "toggle")?;
                    wire.toggle = Some(map.next_value::<Option<&'a str>>()?);
                }
                "ping" => {
                    first(&wire.ping, "ping")?;
                    wire.ping = Some(map.next_value::<Option<f64>>()?);
                }
                other => return Err(de::Error::unknown_field(other, KEYS)),
            }
        }
        Ok(wire)
    }
}

/// The command keys.
const KEYS: &[&str] = &["set", "toggle", "ping", "simulate"];

/// `null` as `None`, else what the seed reads.
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}
