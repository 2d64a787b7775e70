//! How the typed fields of a [`Registration`](super::Registration) are spelled in its JSON: the
//! plain strings of the seed's format (`exchange-simulator`, `exchange-OKX`, `healthy`), parsed into
//! their types when read.

use serde::{Deserialize, Deserializer, Serializer, de::Error};

use crate::{
    health::Status,
    identity::{InstanceName, ServiceKind},
};

fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    String::deserialize(deserializer)
}

pub(super) mod service {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(kind: &ServiceKind, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.name())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ServiceKind, D::Error> {
        ServiceKind::parse(&text(deserializer)?).map_err(D::Error::custom)
    }
}

pub(super) mod instance {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(name: &InstanceName, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(name.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<InstanceName, D::Error> {
        InstanceName::parse(&text(deserializer)?).map_err(D::Error::custom)
    }
}

pub(super) mod status {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(status: &Status, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(status.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Status, D::Error> {
        let text = text(deserializer)?;
        [Status::Healthy, Status::Degraded, Status::Unhealthy]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| D::Error::custom(format!("unknown status '{text}'")))
    }
}
