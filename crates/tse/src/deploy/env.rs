//! The deployment's environment file: secrets generated once and kept on regeneration, settings
//! refreshed, read and written as Compose and dotenv read it.

use std::{collections::BTreeMap, path::Path};

use crate::failure::{Failure, runtime};

/// One `KEY=VALUE` line of an env file as Compose and dotenv read it: blank lines and `#` comments
/// skipped, an optional `export `, a value in quotes or followed by a ` #` comment.
fn env_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, value) = line.split_once('=')?;
    let value = value.trim();
    let value = match value.chars().next() {
        Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or_default(),
        _ => value.split(" #").next().unwrap_or_default().trim_end(),
    };
    Some((key.trim(), value))
}

/// The deployment's environment file at `path` (private to the user), kept across regenerations:
/// a `keep` key the file holds keeps its value — regenerating must never change a database password
/// a volume was initialised with — and gets the given value only when missing; a `set` key always
/// gets the given value. Returns every key's value (the last line of a key wins, as in Compose).
pub(super) fn kept_env(
    path: &Path,
    keep: &[(&str, String)],
    set: &[(&str, String)],
) -> Result<BTreeMap<String, String>, Failure> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(runtime(format!("cannot read {}: {e}", path.display()))),
    };
    let old = existing.as_deref().unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for line in old.lines() {
        let Some((key, value)) = env_line(line) else {
            lines.push(line.to_owned());
            continue;
        };
        match set.iter().find(|(k, _)| *k == key) {
            Some((k, v)) => lines.push(format!("{k}={v}")),
            None => lines.push(line.to_owned()),
        }
        values.insert(key.to_owned(), value.to_owned());
    }
    for (key, value) in keep.iter().chain(set) {
        let had = values.contains_key(*key);
        if !had {
            lines.push(format!("{key}={value}"));
        }
        if !had || set.iter().any(|(k, _)| k == key) {
            values.insert((*key).to_owned(), value.clone());
        }
    }
    if existing.is_none() {
        lines.insert(
            0,
            "# Secrets and settings of this deployment (generated once, kept on regeneration; keep this file private)."
                .to_owned(),
        );
    }
    let text = lines.join("\n");
    if existing.as_deref().map(str::trim_end) != Some(text.as_str()) {
        // Written beside and renamed: an interrupted run never leaves half a file of secrets.
        let temporary = path.with_extension("tmp");
        crate::secrets::write_private_file(&temporary, &text)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_read_as_compose_reads_them() {
        assert_eq!(env_line("A=1"), Some(("A", "1")));
        assert_eq!(env_line("export A=1"), Some(("A", "1")));
        assert_eq!(env_line(" A = x=y "), Some(("A", "x=y")));
        assert_eq!(env_line("A=\"tok=1\" # mine"), Some(("A", "tok=1")));
        assert_eq!(env_line("A='b c'"), Some(("A", "b c")));
        assert_eq!(env_line("A=b # note"), Some(("A", "b")));
        assert_eq!(env_line("# A=1"), None);
        assert_eq!(env_line(""), None);
    }

    #[test]
    fn env_files_keep_secrets_and_refresh_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "# mine\nexport PW=\"old=1\"\nUID=5\nPW=older").unwrap();
        let keep = [("PW", "new".to_owned()), ("TOKEN", "t".to_owned())];
        let set = [("UID", "7".to_owned())];
        let values = kept_env(&path, &keep, &set).unwrap();
        assert_eq!(values["PW"], "older", "the last line of a key wins, and is kept");
        assert_eq!(values["TOKEN"], "t", "a missing key is added");
        assert_eq!(values["UID"], "7", "a setting is refreshed");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "# mine\nexport PW=\"old=1\"\nUID=7\nPW=older\nTOKEN=t\n");
        // Regenerating changes nothing more.
        assert_eq!(kept_env(&path, &keep, &set).unwrap(), values);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
