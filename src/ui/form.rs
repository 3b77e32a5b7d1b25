//! What every section shares: showing a refused command next to its field, and views derived
//! from the open room.

use super::runtime::{RoomHandle, RoomView};
use super::t;
use crate::crypto::Identity;
use crate::domain::{DomainError, RoomDoc};
use leptos::prelude::*;

/// The open room, as sections receive it.
pub type Handle = StoredValue<Option<RoomHandle>, LocalStorage>;

/// A refused command as (field, message); field is "" when it concerns no single field.
pub fn field_error(e: DomainError) -> (String, String) {
    match e {
        DomainError::Invalid { field, problem } => {
            (field.to_owned(), tr!("The {} {}.", field, problem))
        }
        other => (String::new(), other.to_string()),
    }
}

/// The error for `field`, if the last command was refused because of it.
pub fn error_for(errors: RwSignal<Option<(String, String)>>, field: &'static str) -> impl IntoView {
    move || {
        errors
            .get()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| view! { <p class="field-error" role="alert">{m}</p> })
    }
}

/// Runs a command against the open room; the error (if any) lands in `errors`.
pub fn run<T>(
    handle: Handle,
    errors: RwSignal<Option<(String, String)>>,
    f: impl FnOnce(&mut RoomDoc, &Identity, i64) -> Result<T, DomainError>,
) -> Option<T> {
    let result = handle.with_value(|h| match h {
        Some(h) => h.command(f),
        None => Err(DomainError::NotReady),
    });
    match result {
        Ok(t) => {
            errors.set(None);
            Some(t)
        }
        Err(e) => {
            errors.set(Some(field_error(e)));
            None
        }
    }
}

/// A view derived from the room, recomputed when the room changes (and only while shown).
pub fn derived<T>(
    handle: Handle,
    view: RwSignal<RoomView>,
    f: impl Fn(&RoomDoc, &Identity) -> T + Send + Sync + 'static,
) -> Memo<Option<T>>
where
    T: PartialEq + Send + Sync + 'static,
{
    let version = Memo::new(move |_| view.with(|v| v.version));
    Memo::new(move |_| {
        // Read, not just track: a memo that is only tracked is never brought up to date.
        let _ = version.get();
        handle.with_value(|h| h.as_ref().map(|h| h.read(&f)))
    })
}

/// A member's display name, or the start of their key if they have no profile.
pub fn name_of(members: &[crate::domain::Member], key: &str) -> String {
    members
        .iter()
        .find(|m| m.key == key)
        .map(|m| m.profile.name.clone())
        .unwrap_or_else(|| format!("{}…", key.chars().take(8).collect::<String>()))
}

/// A time as the browser's locale writes it.
pub fn when(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
        .as_string()
        .unwrap_or_default()
}

/// Where the app is served (origin and path, without the `#` route): links shared out of the
/// app start with it, so they work under any sub-path.
pub fn app_base() -> String {
    web_sys::window()
        .map(|w| w.location())
        .map(|l| {
            format!(
                "{}{}",
                l.origin().unwrap_or_default(),
                l.pathname().unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

/// A QR code of `text` (a link), with `label` read out in its place.
#[component]
pub fn Qr(
    #[prop(into)] text: String,
    #[prop(into)] label: String,
    testid: &'static str,
) -> impl IntoView {
    let svg = crate::qr::svg(&text);
    view! {
        {match svg {
            Some(svg) => view! { <div class="qr" role="img" aria-label=label data-testid=testid data-text=text inner_html=svg></div> }.into_any(),
            None => view! { <p class="error">{t("This link is too long for a QR code.")}</p> }.into_any(),
        }}
    }
}
