//! What ingestion accepts, over HTTP and gRPC alike: an event of a batch is stored only when it
//! could have come from an instance of the ecosystem. Anything else refuses the whole batch
//! (`invalid_batch`, 400 / `INVALID_ARGUMENT`) with a message naming the event's index in the batch,
//! the field and what is wrong:
//!
//! - `id` (and `causation_id`, which names an event) is a UUIDv7, as every instance's event factory
//!   makes them ([`tse_runtime::events::Events`]): time-ordered ids keep storage order meaningful;
//! - `service` is a service of the ecosystem, `instance` a valid instance name;
//! - `event_type` is one its service emits ([`tse_runtime::events::emitted_by`], the one table);
//! - no text field holds a control character; trace and scenario-run ids have at most
//!   [`MAX_ID_LEN`] characters;
//! - the payload has at most [`MAX_PAYLOAD_BYTES`] bytes and nests at most [`MAX_PAYLOAD_DEPTH`]
//!   levels (the payloads the services ship have a few hundred bytes and nest 1 or 2 levels); a
//!   payload nesting deeper than serde_json's recursion limit (128) could not be read back at all.

use tse_runtime::{
    api::ApiError,
    events::{Event, emitted_by},
    identity::{IdentityError, InstanceName, ServiceKind},
};
use uuid::{Uuid, Version};

/// Deepest nesting of objects and arrays a payload may have.
pub const MAX_PAYLOAD_DEPTH: usize = 32;
/// Largest payload, in bytes of JSON text.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// Longest trace id or scenario run id, in characters.
pub const MAX_ID_LEN: usize = 256;

/// Checks the `index`-th event of a batch.
///
/// # Errors
/// `invalid_batch` naming the event, the field and what is wrong.
pub fn check(index: usize, e: &Event) -> Result<(), ApiError> {
    let bad = |field: &str, what: String| {
        ApiError::bad_request("invalid_batch", format!("event {index}: {field} {what}"))
    };
    version_7(&e.id).map_err(|what| bad("id", what))?;
    if let Some(cause) = &e.causation_id {
        version_7(cause).map_err(|what| bad("causation_id", what))?;
    }
    for (field, text) in [
        ("service", Some(e.service.as_str())),
        ("instance", Some(e.instance.as_str())),
        ("event_type", Some(e.event_type.as_str())),
        ("trace_id", e.trace_id.as_deref()),
        ("scenario_run_id", e.scenario_run_id.as_deref()),
    ] {
        if let Some(text) = text {
            plain(text).map_err(|what| bad(field, what))?;
        }
    }
    let service = ServiceKind::parse(&e.service).map_err(|_| {
        let all: Vec<&str> = ServiceKind::ALL.iter().map(|k| k.name()).collect();
        bad(
            "service",
            format!(
                "'{}' is not a service of the ecosystem ({})",
                shown(&e.service),
                all.join(", ")
            ),
        )
    })?;
    InstanceName::parse(&e.instance).map_err(|err| {
        let rule = match err {
            IdentityError::InvalidInstanceName { rule, .. } => rule,
            other => other.to_string(),
        };
        bad(
            "instance",
            format!("'{}' is not a valid instance name: {rule}", shown(&e.instance)),
        )
    })?;
    let emitted = emitted_by(service);
    if !emitted.contains(&e.event_type.as_str()) {
        let known = if emitted.is_empty() {
            format!("{service} emits no events")
        } else {
            format!("{service} emits {}", emitted.join(", "))
        };
        return Err(bad(
            "event_type",
            format!(
                "'{}' is not an event type of {service}: {known}",
                shown(&e.event_type)
            ),
        ));
    }
    for (field, text) in [
        ("trace_id", e.trace_id.as_deref()),
        ("scenario_run_id", e.scenario_run_id.as_deref()),
    ] {
        if let Some(n) = text.map(|t| t.chars().count()).filter(|&n| n > MAX_ID_LEN) {
            return Err(bad(
                field,
                format!("has {n} characters; at most {MAX_ID_LEN} are allowed"),
            ));
        }
    }
    let payload = e.payload.get();
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(bad(
            "payload",
            format!(
                "has {} bytes; at most {MAX_PAYLOAD_BYTES} are allowed",
                payload.len()
            ),
        ));
    }
    if depth(payload, MAX_PAYLOAD_DEPTH) > MAX_PAYLOAD_DEPTH {
        return Err(bad(
            "payload",
            format!("nests deeper than {MAX_PAYLOAD_DEPTH} levels of objects and arrays"),
        ));
    }
    Ok(())
}

/// Refuses any UUID but a version 7 one.
fn version_7(id: &Uuid) -> Result<(), String> {
    match id.get_version() {
        Some(Version::SortRand) => Ok(()),
        _ => Err(format!(
            "must be a UUIDv7 (time-ordered), got {id} (version {})",
            id.get_version_num()
        )),
    }
}

/// Refuses text holding a control character, naming the first.
fn plain(text: &str) -> Result<(), String> {
    match text.chars().enumerate().find(|(_, c)| c.is_control()) {
        Some((pos, c)) => Err(format!(
            "holds the control character U+{:04X} at position {}; control characters are not allowed",
            u32::from(c),
            pos + 1
        )),
        None => Ok(()),
    }
}

/// The start of a refused value, for a message: at most 64 characters.
fn shown(text: &str) -> String {
    const SHOWN: usize = 64;
    if text.chars().count() <= SHOWN {
        text.to_owned()
    } else {
        format!("{}...", text.chars().take(SHOWN).collect::<String>())
    }
}

/// How deep the valid JSON document `json` nests objects and arrays (0 for a scalar, 1 for `{}`),
/// counted without recursion and only up to just past `limit`, so any depth is measured safely.
fn depth(json: &str, limit: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for b in json.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    break;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_objects_and_arrays_but_not_brackets_in_strings() {
        assert_eq!(depth("1", 32), 0);
        assert_eq!(depth("{}", 32), 1);
        assert_eq!(depth(r#"{"a": [1, {"b": []}], "c": {}}"#, 32), 4);
        assert_eq!(depth(r#"{"a": "[[[{{{\"]]]"}"#, 32), 1);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(depth(&deep, 32), 33, "stops just past the limit");
        assert_eq!(depth(&deep, 500), 200);
    }

    #[test]
    fn values_shown_in_messages_are_cut() {
        assert_eq!(shown("order.created"), "order.created");
        assert_eq!(shown(&"x".repeat(100)).len(), 67);
    }
}
