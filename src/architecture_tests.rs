//! The layering rule of docs/architecture.md, checked on the source: which top-level
//! module refers to which (`crate::x`, `super::…` reaching the crate root), then
//! - every module of `src/` is a row of the document's table, and every row a module;
//! - each module refers only to the modules its row allows;
//! - whatever the table says, the pure modules stay pure (`model` refers to nothing,
//!   `stats` only to `model`, `compare` to those, `history` to those three) and the
//!   results store and the reports know neither the study nor the terminal;
//! - no circle: no module reaches itself through the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules it refers to.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// What each pure module may refer to at most, even if the document allowed more.
const PURE: [(&str, &[&str]); 4] =
    [("model", &[]), ("stats", &["model"]), ("compare", &["model", "stats"]), ("history", &["model", "stats", "compare"])];
/// What the files and their renderings must not know: how the runs were measured, and the terminal.
const FILES_MUST_NOT_USE: [&str; 4] = ["benchmark", "backend", "output", "commands"];

#[test]
fn every_module_refers_only_to_what_the_documented_table_allows() {
    let graph = module_graph();
    let table = documented_table();
    let in_source: BTreeSet<&String> = graph.keys().collect();
    let in_table: BTreeSet<&String> = table.keys().collect();
    assert_eq!(in_source, in_table, "the modules of src/ and the rows of docs/architecture.md's table differ");
    for (module, refs) in &graph {
        let allowed = &table[module];
        let forbidden: Vec<&String> = refs.difference(allowed).collect();
        assert!(
            forbidden.is_empty(),
            "`{module}` refers to {forbidden:?}, which docs/architecture.md does not allow (it allows {allowed:?})"
        );
    }
}

#[test]
fn pure_modules_refer_only_to_the_layers_below_them() {
    let graph = module_graph();
    for (module, allowed) in PURE {
        let refs = graph.get(module).unwrap_or_else(|| panic!("src/{module} is missing"));
        let forbidden: Vec<&String> = refs.iter().filter(|r| !allowed.contains(&r.as_str())).collect();
        assert!(forbidden.is_empty(), "`{module}` must refer only to {allowed:?}, but refers to {forbidden:?}");
    }
}

#[test]
fn files_and_reports_know_neither_the_study_nor_the_terminal() {
    let graph = module_graph();
    for module in ["report", "results"] {
        let refs = graph.get(module).unwrap_or_else(|| panic!("src/{module} is missing"));
        let forbidden: Vec<&&str> = FILES_MUST_NOT_USE.iter().filter(|m| refs.contains(**m)).collect();
        assert!(forbidden.is_empty(), "`{module}` must not refer to {forbidden:?}");
    }
}

#[test]
fn the_documented_table_keeps_the_pure_modules_pure() {
    let table = documented_table();
    for (module, allowed) in PURE {
        let extra: Vec<&String> = table[module].iter().filter(|m| !allowed.contains(&m.as_str())).collect();
        assert!(extra.is_empty(), "docs/architecture.md lets `{module}` use {extra:?}");
    }
    assert_eq!(find_circle(&table), None, "the documented table has a circle");
}

#[test]
fn top_level_modules_form_no_circle() {
    let graph = module_graph();
    if let Some(circle) = find_circle(&graph) {
        panic!("import circle between top-level modules: {}", circle.join(" → "));
    }
}

#[test]
fn the_graph_is_read_from_the_source() {
    // Guards the two tests above against a reader that finds nothing.
    let graph = module_graph();
    for module in ["model", "stats", "compare", "report", "results", "output", "backend", "benchmark", "commands", "scenario", "host"] {
        assert!(graph.contains_key(module), "src/{module} not found: {:?}", graph.keys());
    }
    let commands = &graph["commands"];
    for used in ["report", "results", "benchmark", "backend", "output", "compare", "stats", "model"] {
        assert!(commands.contains(used), "commands should refer to {used}: {commands:?}");
    }
    assert!(graph["stats"].contains("model"), "{:?}", graph["stats"]);
}

#[test]
fn references_are_found_in_paths_groups_and_super_chains() {
    let source = r#"
use crate::model::RunRecord;
use crate::{export::results, output::{progress, summary}, scenario};
use super::super::backend::Guest;
use super::sibling;
// use crate::commented_out;
fn f() { let _ = crate::host::cpus(); let s = "not code: crate::in_string"; }
"#;
    let refs = references(source, &["benchmark", "runner"]);
    let expected = ["backend", "benchmark", "export", "host", "model", "output", "scenario"];
    assert_eq!(refs, expected.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
}

#[test]
fn a_circle_is_found() {
    let edges = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")];
    let mut graph = Graph::new();
    for (from, to) in edges {
        graph.entry(from.to_string()).or_default().insert(to.to_string());
    }
    assert_eq!(find_circle(&graph), Some(vec!["a".to_string(), "b".into(), "c".into(), "a".into()]));
    graph.get_mut("c").unwrap().clear();
    assert_eq!(find_circle(&graph), None);
}

/// The table under "## The layering rule" of docs/architecture.md: module → may use.
fn documented_table() -> Graph {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let section = text.split("## The layering rule").nth(1).expect("docs/architecture.md has a section \"## The layering rule\"");
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split(',').map(|n| n.trim().trim_matches('`').to_string()).filter(|n| !n.is_empty()).collect()
    };
    let mut table = Graph::new();
    for line in section.lines().map(str::trim).filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        assert_eq!(cells.len(), 2, "docs/architecture.md: a row of the layering table has two cells: {line}");
        let module = cells[0].trim().trim_matches('`').to_string();
        assert!(table.insert(module.clone(), names(cells[1])).is_none(), "docs/architecture.md: `{module}` has two rows");
    }
    assert!(table.len() >= 10, "docs/architecture.md's layering table was not found: {table:?}");
    table
}

#[test]
fn the_documented_table_is_read_row_by_row() {
    let table = documented_table();
    assert_eq!(table["stats"], BTreeSet::from(["model".to_string()]));
    assert!(table["model"].is_empty());
    assert!(table["commands"].contains("benchmark") && table["commands"].contains("report"), "{:?}", table["commands"]);
}

fn module_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph = Graph::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let path = module_path(relative);
        // The crate roots declare every module; this file names them in its checks.
        if path.is_empty() || path == ["architecture_tests"] {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        graph.entry(path[0].to_string()).or_default().extend(references(&text, &path));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for (module, refs) in graph.iter_mut() {
        // Items of the crate root and the module itself are not edges.
        refs.retain(|r| r != module && modules.contains(r));
    }
    graph
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `stats/compare.rs` → [stats, compare]; `stats/mod.rs` → [stats]; `main.rs` → [].
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop().expect("a file name");
    let stem = file.trim_end_matches(".rs");
    let is_root = parts.is_empty() && matches!(stem, "main" | "lib");
    if stem != "mod" && !is_root {
        parts.push(stem.to_string());
    }
    parts
}

/// The top-level modules a file of module `path` refers to (its own included).
fn references(source: &str, path: &[&str]) -> BTreeSet<String> {
    let code = strip_comments_and_strings(source);
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while at < code.len() {
        let starts_word = at == 0 || !is_ident(bytes[at - 1]) && bytes[at - 1] != b':';
        if !starts_word {
            at += 1;
            continue;
        }
        let rest = &code[at..];
        if let Some(after) = rest.strip_prefix("crate::") {
            found.extend(first_segments(after));
            at += "crate::".len();
        } else if rest.starts_with("super::") {
            let mut depth = 0;
            let mut tail = rest;
            while let Some(next) = tail.strip_prefix("super::") {
                depth += 1;
                tail = next;
            }
            // From module a::b::c, `super` is a::b; reaching the root names a top module.
            if depth >= path.len() {
                found.extend(first_segments(tail));
            } else {
                found.insert(path[0].to_string());
            }
            at += rest.len() - tail.len();
        } else {
            at += 1;
        }
    }
    found
}

/// `x::y` → [x]; `{x::y, z, w::{..}}` → [x, z, w].
fn first_segments(after: &str) -> Vec<String> {
    let Some(group) = after.strip_prefix('{') else {
        return vec![after.bytes().take_while(|&b| is_ident(b)).map(char::from).collect()];
    };
    let mut segments = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                segments.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                segments.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    segments
        .iter()
        .map(|s| s.trim().bytes().take_while(|&b| is_ident(b)).map(char::from).collect::<String>())
        .filter(|s| !s.is_empty() && s != "self")
        .collect()
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The source with comments and the insides of string literals blanked out, so that a
/// path mentioned in prose is not taken for a reference.
fn strip_comments_and_strings(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
                out.push(' ');
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
                out.push_str("\"\"");
            }
            // A char literal ('"', '{') must not open a string; a lifetime ('a) has no closing quote.
            '\'' => {
                let lookahead: String = chars.clone().take(12).collect();
                let literal_len = if lookahead.starts_with('\\') {
                    lookahead.get(2..).and_then(|rest| rest.find('\'')).map(|i| i + 3)
                } else if lookahead.chars().nth(1) == Some('\'') {
                    Some(2)
                } else {
                    None
                };
                match literal_len {
                    Some(len) => {
                        for _ in 0..len {
                            chars.next();
                        }
                        out.push_str("' '");
                    }
                    None => out.push('\''),
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// One circle of the graph as [a, b, …, a], if there is any.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit<'g>(node: &'g str, graph: &'g Graph, stack: &mut Vec<&'g str>, done: &mut BTreeSet<&'g str>) -> Option<Vec<String>> {
        if let Some(start) = stack.iter().position(|n| *n == node) {
            let mut circle: Vec<String> = stack[start..].iter().map(|n| n.to_string()).collect();
            circle.push(node.to_string());
            return Some(circle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
