//! Components with logic of their own, mounted into a real DOM in headless Chromium
//! (wasm-bindgen-test): markdown pages as the browser parses them, QR codes, the language table.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use tequio::i18n::Lang;
use tequio::ui::components::{Qr, Rendered};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh element in the page to mount a component into.
fn host() -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let el: web_sys::HtmlElement = document.create_element("div").unwrap().dyn_into().unwrap();
    document.body().unwrap().append_child(&el).unwrap();
    el
}

/// Waits (a bounded number of event-loop turns) until `check` holds.
async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(5).await;
    }
    panic!("never happened: {what}");
}

#[wasm_bindgen_test]
async fn a_hostile_page_renders_as_text_in_the_dom() {
    let el = host();
    let md = [
        "# Rules",
        "<script>window.__xss = 1</script>",
        "<img src=x onerror=\"window.__xss = 2\">",
        "[click](javascript:window.__xss=3)",
        "[ok](https://example.org/a?b=1&c=2)",
        "<a href=\"javascript:window.__xss=4\">x</a>",
        "- one\n- <svg onload=window.__xss=5>",
    ]
    .join("\n\n");
    let markdown = RwSignal::new(md);
    let _mounted = leptos::mount::mount_to(el.clone(), move || {
        view! { <Rendered markdown testid="page"/> }
    });
    let rendered = el.query_selector("[data-testid=page]").unwrap().unwrap();
    assert_eq!(
        rendered
            .query_selector("h1")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "Rules"
    );
    assert_eq!(rendered.query_selector_all("li").unwrap().length(), 2);
    for forbidden in ["script", "img", "svg", "iframe", "[onerror]", "[onload]"] {
        assert!(
            rendered.query_selector(forbidden).unwrap().is_none(),
            "{forbidden} in the page"
        );
    }
    let links = rendered.query_selector_all("a").unwrap();
    assert_eq!(links.length(), 1);
    let link: web_sys::HtmlAnchorElement = links.get(0).unwrap().dyn_into().unwrap();
    assert_eq!(link.href(), "https://example.org/a?b=1&c=2");
    assert_eq!(link.rel(), "noopener noreferrer nofollow");
    assert!(rendered
        .text_content()
        .unwrap()
        .contains("<script>window.__xss = 1</script>"));
    let xss = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__xss".into()).unwrap();
    assert!(xss.is_undefined());

    // The preview follows the text.
    markdown.set("**bold**".into());
    until("the new text is rendered", || {
        rendered.query_selector("strong").unwrap().is_some()
    })
    .await;
    let strong = rendered.query_selector("strong").unwrap().unwrap();
    assert_eq!(strong.text_content().unwrap(), "bold");
    assert!(rendered.query_selector("h1").unwrap().is_none());
}

#[wasm_bindgen_test]
fn a_qr_code_is_an_svg_with_a_spoken_label() {
    let el = host();
    let _mounted = leptos::mount::mount_to(el.clone(), || {
        view! { <Qr text="https://example.org/#/join/abc" label="QR code of the room link" testid="qr"/> }
    });
    let qr = el.query_selector("[data-testid=qr]").unwrap().unwrap();
    assert_eq!(qr.get_attribute("role").as_deref(), Some("img"));
    assert_eq!(
        qr.get_attribute("aria-label").as_deref(),
        Some("QR code of the room link")
    );
    let svg = qr.query_selector("svg").unwrap().unwrap();
    assert!(svg.get_attribute("viewBox").unwrap().starts_with("0 0 "));
    let long = host();
    let _too_long = leptos::mount::mount_to(long.clone(), || {
        view! { <Qr text="x".repeat(5000) label="too long" testid="qr2"/> }
    });
    assert!(long.query_selector("svg").unwrap().is_none());
    assert!(long
        .text_content()
        .unwrap()
        .contains("too long for a QR code"));
}

#[wasm_bindgen_test]
fn the_language_switches_text_and_numbers() {
    tequio::ui::set_lang(Lang::Es);
    assert_eq!(tequio::ui::t("Tasks"), "Tareas");
    assert_eq!(tequio::ui::money(123_450, "EUR"), "1.234,50 EUR");
    tequio::ui::set_lang(Lang::En);
    assert_eq!(tequio::ui::t("Tasks"), "Tasks");
    assert_eq!(tequio::ui::money(123_450, "EUR"), "1,234.50 EUR");
}
