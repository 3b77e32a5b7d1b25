//! CommonMark conformance: every example of the spec renders as the spec says, except where our
//! safety rules differ on purpose — raw HTML shown as text, images shown as links, link and
//! image targets with a refused scheme. The examples are read from pulldown-cmark's own test
//! suite, which its crate package ships (the version in Cargo.lock, from cargo's registry
//! sources, where `cargo` unpacked it to build this crate).

use tequio::markdown::to_html;

/// The spec's examples as pulldown-cmark's suite holds them: (number, markdown, html).
fn examples() -> Vec<(String, String, String)> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"pulldown-cmark\"\n"))
        .and_then(|p| p.split("version = \"").nth(1))
        .and_then(|v| v.split('"').next())
        .expect("pulldown-cmark in Cargo.lock")
        .to_owned();
    let home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    let sources = std::path::Path::new(&home).join("registry/src");
    let suite = std::fs::read_dir(&sources)
        .expect("cargo's registry sources")
        .filter_map(Result::ok)
        .map(|index| {
            index
                .path()
                .join(format!("pulldown-cmark-{version}/tests/suite/spec.rs"))
        })
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("pulldown-cmark {version}'s spec suite under {sources:?}"));
    let text = std::fs::read_to_string(suite).expect("the spec suite");
    text.split("fn spec_test_")
        .skip(1)
        .map(|test| {
            let number = test.split("()").next().unwrap_or("").to_owned();
            let raw = |after: &str| {
                let start = test.find(after).map(|k| k + after.len()).unwrap_or(0);
                test[start..].split("\"##;").next().unwrap_or("").to_owned()
            };
            (
                number,
                raw("let original = r##\""),
                raw("let expected = r##\""),
            )
        })
        .collect()
}

/// Our HTML in the form the spec writes it: without the attributes every link gets, with its
/// `<br />`, `<hr />` and unescaped quotes; line breaks between tags ignored (as
/// pulldown-cmark's own tests compare).
fn as_in_the_spec(html: &str) -> String {
    html.replace(" rel=\"noopener noreferrer nofollow\"", "")
        .replace(" target=\"_blank\"", "")
        .replace("<br>", "<br />")
        .replace("<hr>", "<hr />")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace(">\n<", "><")
}

/// Why an example differs from the spec on purpose, if it does (the rules of
/// `tequio::markdown`): raw HTML from the text is shown as text; images are shown as links; a
/// link target that is empty, holds whitespace or has a scheme other than http(s) or mailto is
/// refused (its text shows without a link); code blocks take no class from the text; bare
/// http(s) addresses are linked.
fn differs_by_design(markdown: &str, expected: &str, ours: &str) -> Option<&'static str> {
    let tags_from_text = markdown.contains('<')
        && expected
            .match_indices('<')
            .map(|(k, _)| &expected[k..])
            .any(|tag| {
                let name: String = tag[1..]
                    .trim_start_matches('/')
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                let named = |open: &str| markdown.contains(&format!("{open}{name}"));
                !name.is_empty() && (named("<") || named("</"))
                    || tag.starts_with("<!")
                    || tag.starts_with("<?")
            });
    if tags_from_text {
        return Some("raw HTML is shown as text");
    }
    if expected.contains("<img") {
        return Some("images are shown as links");
    }
    if expected.contains("<code class=\"language-") {
        return Some("code blocks take no class from the text");
    }
    let hrefs: Vec<&str> = expected
        .split("href=\"")
        .skip(1)
        .filter_map(|h| h.split('"').next())
        .collect();
    if hrefs.iter().any(|h| h.is_empty()) {
        return Some("an empty link target is refused");
    }
    if hrefs.iter().any(|h| {
        ["%20", "%C2%A0", "%09", "%0A"]
            .iter()
            .any(|w| h.contains(w))
    }) {
        return Some("a link target holding whitespace is refused");
    }
    let scheme_ok = |h: &str| {
        let path = h.find(['/', '?', '#']).unwrap_or(h.len());
        match h.find(':') {
            Some(k) if k < path => {
                ["http", "https", "mailto"].contains(&h[..k].to_ascii_lowercase().as_str())
            }
            _ => true,
        }
    };
    if hrefs.iter().any(|h| !scheme_ok(h)) {
        return Some("a link's scheme is refused");
    }
    if !expected.contains("<a ") && ours.contains("<a href=\"http") {
        return Some("bare addresses are linked");
    }
    None
}

#[test]
fn every_commonmark_example_renders_as_the_spec_says_but_where_safety_differs() {
    let examples = examples();
    assert!(
        examples.len() >= 650,
        "only {} examples read",
        examples.len()
    );
    let mut by_design = 0;
    let mut wrong = Vec::new();
    for (number, markdown, expected) in &examples {
        let ours = as_in_the_spec(&to_html(markdown));
        if ours == as_in_the_spec(expected) {
            continue;
        }
        if differs_by_design(markdown, expected, &ours).is_some() {
            by_design += 1;
            continue;
        }
        wrong.push(format!(
            "example {number}:\n{markdown}\nexpected {expected}\nrendered {ours}"
        ));
    }
    let passed = examples.len() - by_design - wrong.len();
    eprintln!(
        "{passed} of {} render as the spec says; {by_design} differ by design; {} wrongly",
        examples.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
}
