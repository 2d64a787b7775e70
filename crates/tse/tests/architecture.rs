//! The invariants of `ARCHITECTURE.md` that a machine can check, checked on the workspace's own
//! manifests and sources: a change that breaks one fails here with the file and the rule.

#![allow(unreachable_pub)]

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

/// The crates that implement a service kind.
const SERVICE_CRATES: &[&str] = &[
    "tse-exchange",
    "tse-custodian",
    "tse-market-data",
    "tse-audit-correlator",
    "tse-trading-system",
    "tse-risk-monitor",
    "tse-test-coordinator",
];

/// Longest source file, in lines, outside tests and generated code.
const MAX_LINES: usize = 800;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crates/tse sits two levels below the workspace root")
        .to_path_buf()
}

/// Every crate of the workspace: package name → (directory, parsed manifest).
fn crates() -> BTreeMap<String, (PathBuf, toml::Table)> {
    let mut all = BTreeMap::new();
    for entry in fs::read_dir(workspace().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(text) = fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let manifest: toml::Table = text.parse().unwrap();
        let name = manifest["package"]["name"].as_str().unwrap().to_owned();
        all.insert(name, (dir, manifest));
    }
    assert!(all.len() >= 12, "found only {:?}", all.keys());
    all
}

/// The dependencies a manifest lists in `section` (`dependencies`, `dev-dependencies`, ...).
fn deps<'a>(manifest: &'a toml::Table, section: &str) -> Vec<(&'a str, &'a toml::Value)> {
    manifest
        .get(section)
        .and_then(toml::Value::as_table)
        .map(|t| t.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The lines of `path` that are code, not comments (a rule about imports must not trip over prose).
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

#[test]
fn only_the_tse_crate_depends_on_service_crates() {
    let mut wrong = Vec::new();
    for (name, (_, manifest)) in crates() {
        for (dep, _) in deps(&manifest, "dependencies")
            .into_iter()
            .chain(deps(&manifest, "build-dependencies"))
        {
            if SERVICE_CRATES.contains(&dep) && name != "tse" {
                wrong.push(format!("{name} depends on {dep}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "only `tse` may depend on a service crate: {wrong:?}"
    );
}

#[test]
fn the_runtime_and_the_pure_crates_depend_on_nothing_above_them() {
    let all = crates();
    let above_runtime = ["tse-client", "tse-market", "tse-matching", "tse", "tse-testing"];
    for (name, forbidden) in [
        ("tse-runtime", &above_runtime[..]),
        ("tse-proto", &["tse-runtime"][..]),
        (
            "tse-matching",
            &["tse-runtime", "tokio", "sqlx", "tonic", "axum", "reqwest"][..],
        ),
        (
            "tse-market",
            &["tse-runtime", "tokio", "sqlx", "tonic", "axum", "reqwest"][..],
        ),
    ] {
        let Some((_, manifest)) = all.get(name) else {
            panic!("crate {name} is missing");
        };
        for (dep, _) in deps(manifest, "dependencies") {
            assert!(
                !forbidden.contains(&dep) && !SERVICE_CRATES.contains(&dep),
                "{name} must not depend on {dep} (ARCHITECTURE.md)"
            );
        }
    }
}

#[test]
fn only_the_test_coordinator_and_tests_enable_the_back_door_client() {
    let mut enabled = Vec::new();
    for (name, (_, manifest)) in crates() {
        for (dep, spec) in deps(&manifest, "dependencies") {
            let features = spec
                .get("features")
                .and_then(toml::Value::as_array)
                .map(|f| f.iter().filter_map(toml::Value::as_str).collect::<Vec<_>>())
                .unwrap_or_default();
            if dep == "tse-client" && features.contains(&"chaos") {
                enabled.push(name.clone());
            }
        }
        // A feature of the crate's own that turns the back door on counts the same.
        if let Some(features) = manifest.get("features").and_then(toml::Value::as_table) {
            for (feature, items) in features {
                let items = items.as_array().cloned().unwrap_or_default();
                if items.iter().any(|i| i.as_str() == Some("tse-client/chaos")) {
                    enabled.push(format!("{name} (feature {feature})"));
                }
            }
        }
    }
    let allowed = ["tse-test-coordinator", "tse-testing"];
    let wrong: Vec<_> = enabled
        .iter()
        .filter(|n| !allowed.contains(&n.as_str()))
        .collect();
    assert!(
        wrong.is_empty(),
        "only the test coordinator and test support may enable tse-client/chaos: {wrong:?}"
    );
    let (_, risk) = &crates()["tse-risk-monitor"];
    let risk_deps: Vec<_> = deps(risk, "dependencies").into_iter().map(|(d, _)| d).collect();
    assert!(
        !risk_deps.contains(&"tse-testing") && !risk_deps.contains(&"tse-test-coordinator"),
        "the risk monitor reaches no back door, not even through another crate: {risk_deps:?}"
    );
}

#[test]
fn the_domain_does_no_io_and_reads_no_clock() {
    let forbidden = [
        "tokio",
        "sqlx",
        "reqwest",
        "tonic",
        "axum",
        "hyper",
        "redis",
        "std::fs",
        "std::net",
        "std::thread",
        "Instant::now",
        "wall_now",
        "tse_runtime::storage",
        "tse_runtime::cache",
        "tse_runtime::discovery",
        "tse_runtime::clock",
        "tse_client",
    ];
    let mut cores: Vec<PathBuf> = Vec::new();
    for (name, (dir, _)) in crates() {
        if name == "tse-matching" || name == "tse-market" {
            cores.extend(sources(&dir.join("src")));
        } else {
            cores.extend(sources(&dir.join("src").join("domain")));
        }
    }
    assert!(cores.len() > 10, "found too few domain files: {cores:?}");
    let mut wrong = Vec::new();
    for file in cores {
        for (line, code) in code_lines(&file) {
            if let Some(word) = forbidden.iter().find(|w| code.contains(**w)) {
                wrong.push(format!("{}:{line}: {word}", relative(&file)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the domain does no I/O and reads no clock: {wrong:#?}"
    );
}

#[test]
fn storage_knows_no_feature_above_it_and_no_module_imports_the_command_line() {
    let root = workspace();
    let mut wrong = Vec::new();
    for file in sources(&root.join("crates/runtime/src/storage")) {
        for (line, code) in code_lines(&file) {
            for above in [
                "crate::events",
                "crate::faults",
                "crate::shipper",
                "crate::host",
                "crate::discovery",
                "crate::peers",
            ] {
                if code.contains(above) {
                    wrong.push(format!("{}:{line}: {above}", relative(&file)));
                }
            }
        }
    }
    for file in sources(&root.join("crates/tse/src")) {
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "lib.rs" || name == "main.rs" || name == "cli.rs" {
            continue;
        }
        for (line, code) in code_lines(&file) {
            if code.contains("crate::cli") || code.contains("super::cli") {
                wrong.push(format!("{}:{line}: imports the command line", relative(&file)));
            }
        }
    }
    assert!(wrong.is_empty(), "imports that run back up a layer: {wrong:#?}");
}

#[test]
fn only_the_catalog_names_the_service_crates() {
    let root = workspace();
    let mut wrong = Vec::new();
    for file in sources(&root.join("crates/tse/src")) {
        if file.ends_with("catalog.rs") {
            continue;
        }
        for (line, code) in code_lines(&file) {
            for service in SERVICE_CRATES {
                let path = format!("{}::", service.replace('-', "_"));
                if code.contains(&path) {
                    wrong.push(format!("{}:{line}: {path}", relative(&file)));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the catalog is the one place that names services: {wrong:#?}"
    );
}

#[test]
fn no_source_file_outgrows_one_responsibility() {
    let mut long = Vec::new();
    for (_, (dir, _)) in crates() {
        for file in sources(&dir.join("src")) {
            let lines = fs::read_to_string(&file).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} ({lines} lines)", relative(&file)));
            }
        }
    }
    assert!(
        long.is_empty(),
        "source files over {MAX_LINES} lines: split them along their seams: {long:?}"
    );
}

/// The top-level modules of a crate's `src/` that each module imports (`crate::x`, `use crate::{x, ..}`),
/// from code outside comments and unit tests.
fn module_imports(src: &Path) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let top = |path: &Path| -> Option<String> {
        let first = path.strip_prefix(src).ok()?.components().next()?;
        let name = first.as_os_str().to_string_lossy();
        let name = name.strip_suffix(".rs").unwrap_or(&name).to_owned();
        (name != "lib" && name != "main").then_some(name)
    };
    let files = sources(src);
    let modules: std::collections::BTreeSet<String> = files.iter().filter_map(|f| top(f)).collect();
    let mut edges: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = top(file) else { continue };
        let text = fs::read_to_string(file).unwrap();
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut named: Vec<String> = Vec::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::b, c, d::{e, f}}`: the first segment of each top-level item.
                let mut depth = 0;
                let mut item = String::new();
                for ch in group.chars() {
                    match ch {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => named.push(std::mem::take(&mut item)),
                        _ if depth == 0 => item.push(ch),
                        _ => {}
                    }
                }
                named.push(item);
            } else {
                named.push(rest.to_owned());
            }
        }
        for name in named {
            let first: String = name
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if first != from && modules.contains(&first) {
                edges.entry(from.clone()).or_default().insert(first);
            }
        }
    }
    edges
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let mut cycles = Vec::new();
    for (name, (dir, _)) in crates() {
        let edges = module_imports(&dir.join("src"));
        // A module is on a cycle when it can reach itself; report each such path once.
        for start in edges.keys() {
            let mut stack: Vec<Vec<&String>> = vec![vec![start]];
            let mut seen = std::collections::BTreeSet::new();
            while let Some(path) = stack.pop() {
                let last = *path.last().unwrap();
                for next in edges.get(last).into_iter().flatten() {
                    if next == start {
                        let mut cycle: Vec<_> = path.iter().map(|m| m.as_str()).collect();
                        cycle.push(start);
                        if path.iter().all(|m| *m >= start) {
                            cycles.push(format!("{name}: {}", cycle.join(" → ")));
                        }
                    } else if seen.insert(next) {
                        let mut longer = path.clone();
                        longer.push(next);
                        stack.push(longer);
                    }
                }
            }
        }
    }
    assert!(cycles.is_empty(), "modules that import each other: {cycles:#?}");
}
