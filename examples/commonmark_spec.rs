//! How many of the CommonMark spec's examples pages render as the spec says (a figure, not a
//! test: our safety rules differ on purpose — raw HTML as text, images as links, unsafe link
//! targets refused). Reads pulldown-cmark's test suite, which its crate package ships:
//! `cargo run --release --example commonmark_spec -- ~/.cargo/registry/src/*/pulldown-cmark-0.13.*/tests/suite/spec.rs`.
//! Compared as pulldown-cmark's own tests do (line breaks between tags ignored), after the
//! attributes every link gets and the app's way of writing breaks, rules and quotes.

use tequio::markdown::to_html;

fn as_in_the_spec(html: &str) -> String {
    html.replace(" rel=\"noopener noreferrer nofollow\"", "")
        .replace(" target=\"_blank\"", "")
        .replace("<br>", "<br />")
        .replace("<hr>", "<hr />")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace(">\n<", "><")
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: commonmark_spec <pulldown-cmark's tests/suite/spec.rs>");
        std::process::exit(2);
    };
    let suite = std::fs::read_to_string(path).expect("the examples");
    let (mut passed, mut failed) = (0, vec![]);
    for test in suite.split("fn spec_test_").skip(1) {
        let number = test.split("()").next().unwrap_or("");
        let raw = |after: &str| {
            let start = test.find(after).map(|k| k + after.len()).unwrap_or(0);
            test[start..].split("\"##;").next().unwrap_or("").to_owned()
        };
        let (md, expected) = (raw("let original = r##\""), raw("let expected = r##\""));
        if as_in_the_spec(&to_html(&md)) == as_in_the_spec(&expected) {
            passed += 1;
        } else {
            failed.push(number.to_owned());
        }
    }
    println!(
        "{passed} of {} pass; failing: {}",
        passed + failed.len(),
        failed.join(" ")
    );
}
