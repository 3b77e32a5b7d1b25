//! Hostile page markdown at two sizes: how long `markdown::to_html` takes for each shape (a
//! figure, not a test: four times the input should take about four times as long; a quadratic
//! shape would take sixteen). Run: `cargo run --release --example bench_markdown`.

use std::time::{Duration, Instant};
use tequio::markdown::to_html;

/// The fastest of three runs.
fn time(md: &str) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(to_html(md));
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    type Shape = (&'static str, Box<dyn Fn(usize) -> String>);
    let shapes: Vec<Shape> = vec![
        ("<", Box::new(|k| "<".repeat(k))),
        (
            "[ then ](",
            Box::new(|k| "[".repeat(k) + "](" + &"x".repeat(k / 30)),
        ),
        ("[a](", Box::new(|k| "[a](".repeat(k / 4))),
        ("a*", Box::new(|k| "a".to_owned() + &"*".repeat(k))),
        ("a`", Box::new(|k| "a".to_owned() + &"`".repeat(k / 2))),
        (
            "nested [",
            Box::new(|k| ("[".repeat(20) + "x" + &"](u)".repeat(20) + " ").repeat(k / 100)),
        ),
        (
            "[[ ](",
            Box::new(|k| "[".repeat(k / 2) + &"](".repeat(k / 4)),
        ),
        (
            "<a>",
            Box::new(|k| ("<".repeat(2_000) + "a>").repeat(k / 2_000)),
        ),
        (
            "< scheme",
            Box::new(|k| ("<".repeat(2_000) + "javascript:x>").repeat(k / 2_000)),
        ),
        (
            "![",
            Box::new(|k| "![".repeat(k / 2) + "](" + &"x".repeat(k / 30)),
        ),
        ("_a", Box::new(|k| "_a".repeat(k / 2))),
        ("**a ", Box::new(|k| "**a ".repeat(k / 4))),
        (
            "*a **b",
            Box::new(|k| "*a ".repeat(k / 6) + &"**b ".repeat(k / 8)),
        ),
        ("`` `", Box::new(|k| "`` `".repeat(k / 4))),
        ("\\``", Box::new(|k| "\\``".repeat(k / 3))),
        (
            "http://",
            Box::new(|k| ("http://".to_owned() + &")".repeat(2_000) + " ").repeat(k / 2_000)),
        ),
        ("http://http://", Box::new(|k| "http://".repeat(k / 7))),
        ("*[*](", Box::new(|k| "*[*](".repeat(k / 5))),
        ("a _", Box::new(|k| "a ".to_owned() + &"_".repeat(k))),
        (">", Box::new(|k| ">".repeat(k) + " x")),
        ("- ", Box::new(|k| "- ".repeat(k / 2) + "x")),
        ("1. ", Box::new(|k| "1. ".repeat(k / 3) + "x")),
        (
            "> then lazy lines",
            Box::new(|k| ">".repeat(k / 2) + " x\n" + &"x\n".repeat(k / 4)),
        ),
        (
            "- then lazy lines",
            Box::new(|k| "- ".repeat(k / 4) + "x\n" + &"x\n".repeat(k / 4)),
        ),
        (
            "indented items",
            Box::new(|k| {
                (0..k / 200)
                    .map(|i| " ".repeat(2 * (i % 100)) + "- x\n")
                    .collect()
            }),
        ),
        (
            "definitions",
            Box::new(|k| "[a]: /u\n".repeat(k / 16) + &"[a] ".repeat(k / 8)),
        ),
        ("[a]", Box::new(|k| "[a]".repeat(k / 3))),
        ("<!--", Box::new(|k| "<!--".repeat(k / 4))),
        ("&#", Box::new(|k| "&#".repeat(k / 2))),
    ];
    for (name, shape) in &shapes {
        let (small, large) = (shape(40_000), shape(160_000));
        let (t_small, t_large) = (time(&small), time(&large));
        println!(
            "{name:>20}: {t_small:>10.2?} for {:>7} characters, {t_large:>10.2?} for {:>7} ({:.1}x)",
            small.len(),
            large.len(),
            t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-9)
        );
    }
}
