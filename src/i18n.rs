//! The one translation table. Every string the app shows is written in English in the code and
//! looked up here by that English text (`ui::t`, and `tr!` for text with values, whose `{}` are
//! filled in order, or `{0}`, `{1}` to reorder). Spanish ships with the app; a string missing
//! from a table shows in English. A test checks that every string the UI looks up is in the
//! Spanish table, with the same placeholders.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Es,
}

impl Lang {
    /// The language for a BCP 47 tag such as the browser's `navigator.language`.
    pub fn from_tag(tag: &str) -> Lang {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("es") {
            Lang::Es
        } else {
            Lang::En
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The decimal and thousands separators written in this language.
    fn separators(self) -> (char, char) {
        match self {
            Lang::En => ('.', ','),
            Lang::Es => (',', '.'),
        }
    }
}

fn spanish() -> &'static HashMap<&'static str, &'static str> {
    static TABLE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| ES.iter().copied().collect())
}

/// `en` in `lang` (itself when the table has no entry).
pub fn lookup(lang: Lang, en: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Es => spanish().get(en).copied().unwrap_or(en),
    }
}

/// `text` (made at run time, e.g. a field name or a problem from the domain) in `lang`.
pub fn lookup_dyn(lang: Lang, text: &str) -> String {
    match lang {
        Lang::En => text.to_owned(),
        Lang::Es => spanish().get(text).copied().unwrap_or(text).to_owned(),
    }
}

/// Fills a template's placeholders: `{}` takes the next value, `{N}` the Nth.
pub fn fill(template: &str, values: &[&dyn std::fmt::Display]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut next = 0;
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_digit()) => {
                let index = if close == 0 {
                    next += 1;
                    next - 1
                } else {
                    after[..close].parse().unwrap_or(usize::MAX)
                };
                if let Some(v) = values.get(index) {
                    out.push_str(&v.to_string());
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// [`fill`] with text values.
pub fn fill_strings(template: &str, values: &[String]) -> String {
    let values: Vec<&dyn std::fmt::Display> =
        values.iter().map(|v| v as &dyn std::fmt::Display).collect();
    fill(template, &values)
}

/// An amount in minor units written for `lang`: `1,234.50 EUR` / `1.234,50 EUR`; hours as
/// `1:30 h`. Integer arithmetic only.
pub fn amount(lang: Lang, minor: i64, unit: &str) -> String {
    if unit == "hours" {
        return crate::domain::format_amount(minor, unit);
    }
    let (decimal, thousands) = lang.separators();
    let sign = if minor < 0 { "-" } else { "" };
    let v = minor.unsigned_abs();
    let whole = (v / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(thousands);
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}{decimal}{:02} {unit}", v % 100)
}

/// Placeholders in a template, as written (`{}` or `{N}`), in order.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_digit()) => {
                found.push(format!("{{{}}}", &after[..close]));
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

/// English → Spanish.
pub const ES: &[(&str, &str)] = &include!("i18n_es.rs");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_in_order_or_by_index() {
        assert_eq!(fill("{} of {}", &[&2, &"three"]), "2 of three");
        assert_eq!(fill("{1} before {0}", &[&"a", &"b"]), "b before a");
        assert_eq!(fill("{braces} stay {}", &[&1]), "{braces} stay 1");
        assert_eq!(fill("{} {} {}", &[&1]), "1  ");
    }

    #[test]
    fn languages_come_from_browser_tags() {
        assert_eq!(Lang::from_tag("es-MX"), Lang::Es);
        assert_eq!(Lang::from_tag("ES"), Lang::Es);
        assert_eq!(Lang::from_tag("en-GB"), Lang::En);
        assert_eq!(Lang::from_tag("fr"), Lang::En);
        assert_eq!(Lang::from_tag(""), Lang::En);
    }

    #[test]
    fn amounts_use_the_language_separators_without_floats() {
        assert_eq!(amount(Lang::En, 123_456_789, "EUR"), "1,234,567.89 EUR");
        assert_eq!(amount(Lang::Es, 123_456_789, "EUR"), "1.234.567,89 EUR");
        assert_eq!(amount(Lang::Es, -5, "MXN"), "-0,05 MXN");
        assert_eq!(amount(Lang::En, 100_000, "EUR"), "1,000.00 EUR");
        assert_eq!(amount(Lang::Es, 90, "hours"), "1:30 h");
    }

    #[test]
    fn the_spanish_table_has_no_duplicates_and_keeps_placeholders() {
        let mut seen = std::collections::HashSet::new();
        for (en, es) in ES {
            assert!(seen.insert(en), "twice in the table: {en}");
            assert!(!es.trim().is_empty(), "empty translation: {en}");
            let (mut a, mut b) = (placeholders(en), placeholders(es));
            a.sort();
            b.sort();
            assert_eq!(a, b, "placeholders differ: {en} / {es}");
        }
    }

    /// The `.rs` files under `dir`, sub-folders included.
    fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    /// Where the string literal passed to each `t(` / `tr!(` call in `code` starts, also when
    /// rustfmt put the literal on the next line. Calls whose argument is not a literal are skipped.
    fn call_literals(code: &str) -> Vec<usize> {
        let mut starts = Vec::new();
        for opener in ["t(", "tr!("] {
            for (i, _) in code.match_indices(opener) {
                // Only the calls themselves, not names ending in `t`.
                let before = code[..i].chars().last().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue;
                }
                let after = &code[i + opener.len()..];
                let args = after.trim_start();
                if args.starts_with('"') {
                    starts.push(i + opener.len() + (after.len() - args.len()) + 1);
                }
            }
        }
        starts
    }

    #[test]
    fn the_scan_sees_calls_split_over_lines() {
        let code =
            "let a = t(\"One\");\nlet b = tr!(\n    \"Two {}\",\n    x\n);\nlet c = part(\"no\");";
        let found: Vec<&str> = call_literals(code)
            .into_iter()
            .map(|s| &code[s..s + literal_len(&code[s..]).unwrap()])
            .collect();
        assert_eq!(found, ["One", "Two {}"]);
    }

    /// Every `t("…")` and `tr!("…"` in the UI code has a Spanish entry.
    #[test]
    fn every_string_the_ui_shows_is_translated() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
        let mut missing = Vec::new();
        let mut count = 0;
        for path in rust_files(&dir) {
            let code = std::fs::read_to_string(&path).unwrap();
            for start in call_literals(&code) {
                let Some(len) = literal_len(&code[start..]) else {
                    continue;
                };
                let key = unescape(&code[start..start + len]);
                count += 1;
                if !spanish().contains_key(key.as_str()) {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
            // Problems the UI reports in the domain's form (looked up by `form::field_error`).
            for opener in ["field: \"", "problem: \""] {
                for (i, _) in code.match_indices(opener) {
                    let start = i + opener.len();
                    let Some(len) = literal_len(&code[start..]) else {
                        continue;
                    };
                    let key = unescape(&code[start..start + len]);
                    if !spanish().contains_key(key.as_str()) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(
            count > 100,
            "found only {count} strings: is the scan broken?"
        );
        assert!(
            missing.is_empty(),
            "not in the Spanish table:\n{}",
            missing.join("\n")
        );
    }

    /// Field names and fixed problems the domain reports are translated too (shown through
    /// `ui::form::field_error`).
    #[test]
    fn every_field_and_fixed_problem_the_domain_reports_is_translated() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let mut missing = Vec::new();
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let code = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for opener in [
                "field: \"",
                "problem: \"",
                "required_text(\"",
                "phrase(\"",
                "refuse(\"",
            ] {
                for (i, _) in code.match_indices(opener) {
                    let start = i + opener.len();
                    let Some(len) = literal_len(&code[start..]) else {
                        continue;
                    };
                    let text = unescape(&code[start..start + len]);
                    // Problems written with `format!` have values in them: not looked up.
                    let template = opener.starts_with("phrase");
                    if (text.contains('{') && !template) || text.ends_with('\\') || text.is_empty()
                    {
                        continue;
                    }
                    count += 1;
                    if !spanish().contains_key(text.as_str()) {
                        missing.push(text);
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(count > 50, "found only {count}: is the scan broken?");
        assert!(
            missing.is_empty(),
            "not in the Spanish table:\n{}",
            missing.join("\n")
        );
    }

    /// What a starter charter writes into a new room (its name, its line and its values) is
    /// offered in the creator's language.
    #[test]
    fn every_starter_charter_is_translated() {
        let mut missing = Vec::new();
        for tpl in crate::domain::TEMPLATES {
            let values = tpl.rules.iter().filter(|(k, _)| *k == "values");
            for text in [tpl.name, tpl.about]
                .into_iter()
                .chain(values.map(|(_, v)| *v))
            {
                if !spanish().contains_key(text) {
                    missing.push(text);
                }
            }
        }
        assert!(missing.is_empty(), "not in the Spanish table: {missing:?}");
    }

    fn literal_len(s: &str) -> Option<usize> {
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return Some(i),
                _ => escaped = false,
            }
        }
        None
    }

    fn unescape(s: &str) -> String {
        // A `\` at the end of a line continues the string after the next line's indent.
        let mut joined = String::with_capacity(s.len());
        let mut lines = s.split("\\\n");
        joined.push_str(lines.next().unwrap_or_default());
        for line in lines {
            joined.push_str(line.trim_start());
        }
        joined
            .replace("\\\"", "\"")
            .replace("\\n", "\n")
            .replace("\\\\", "\\")
    }
}
