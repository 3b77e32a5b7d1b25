//! What every section shares: showing a refused command next to its field, and views derived
//! from the open room.

use super::runtime::{RoomHandle, RoomView};
use super::t;
use crate::crypto::Identity;
use crate::domain::{DomainError, RoomDoc};
use leptos::prelude::*;

/// The open room, as sections receive it.
pub type Handle = StoredValue<Option<RoomHandle>, LocalStorage>;

/// A refused command as (field, message); field is "" when it concerns no single field. The
/// message goes through the translation table: field names and fixed problems are entries of
/// their own (a test keeps the table complete for every one the domain writes).
pub fn field_error(e: DomainError) -> (String, String) {
    let lang = super::lang();
    let message = match &e {
        DomainError::Invalid { field, problem } => {
            let message = tr!(
                "The {} {}.",
                crate::i18n::lookup_dyn(lang, field),
                crate::i18n::lookup_dyn(lang, problem)
            );
            return (field.to_string(), message);
        }
        DomainError::NotReady => t("the room has not arrived from a peer yet").to_owned(),
        DomainError::NoSuchPost(_) | DomainError::NoSuchEntry(_) => {
            t("it is no longer here (removed or not arrived yet)").to_owned()
        }
        DomainError::BadTransition { from, to } => {
            tr!("a {} post cannot become {}", t_status(from), t_status(to))
        }
        DomainError::AlreadyFounded => t("this room already has a founder").to_owned(),
        DomainError::NotAdmitted => t("only admitted members can do this").to_owned(),
        DomainError::NoSuchMember(_) => t("that person is not an admitted member").to_owned(),
        DomainError::AlreadyAdmitted => t("this member is already admitted").to_owned(),
        DomainError::AlreadyVouched => t("you have already vouched for this member").to_owned(),
        DomainError::InsufficientFunds { .. } => {
            t("the pot does not hold enough to pay this").to_owned()
        }
        DomainError::SelfApproval => t("you cannot approve your own request").to_owned(),
        DomainError::AlreadyApproved => t("you have already approved this").to_owned(),
        DomainError::NotApproved => t("this expense is not approved yet").to_owned(),
        DomainError::NotBeneficiary => t("only the beneficiary can countersign").to_owned(),
        DomainError::BookingConflict(_) => t("the resource is already booked then").to_owned(),
        DomainError::AlreadyClaimed => t("you have already signed up for this").to_owned(),
        DomainError::OverCreditLimit { available } => tr!(
            "this would take your time account past its credit limit: {} left",
            super::money(*available, "hours")
        ),
        DomainError::DecisionClosed => t("this decision is closed").to_owned(),
        DomainError::Document(_) => e.to_string(),
    };
    (String::new(), message)
}

fn t_status(status: &str) -> String {
    crate::i18n::lookup_dyn(super::lang(), status)
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

/// Several members' names, comma-separated ("—" for none).
pub fn names_of(members: &[crate::domain::Member], keys: &[String]) -> String {
    if keys.is_empty() {
        return "—".into();
    }
    keys.iter()
        .map(|k| name_of(members, k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The locale dates are written in: the browser's own when it speaks the app's language (so an
/// English reader in Britain gets day/month), else the app's language itself.
pub fn locale() -> String {
    let lang = super::lang();
    let browser = web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_default();
    if crate::i18n::Lang::from_tag(&browser) == lang && !browser.is_empty() {
        browser
    } else {
        lang.tag().to_owned()
    }
}

fn written(ms: i64, options: &[(&str, &str)]) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    let opts = js_sys::Object::new();
    for (k, v) in options {
        let _ = js_sys::Reflect::set(&opts, &(*k).into(), &(*v).into());
    }
    date.to_locale_string(&locale(), &opts)
        .as_string()
        .unwrap_or_default()
}

/// A date and time as the app's language writes it ("1 Dec 2026, 14:05"; "1 dic 2026, 14:05").
pub fn when(ms: i64) -> String {
    written(ms, &[("dateStyle", "medium"), ("timeStyle", "short")])
}

/// A date alone, as the app's language writes it.
pub fn day(ms: i64) -> String {
    written(ms, &[("dateStyle", "medium")])
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
    /// A long text (a pairing code): drawn larger, with low error correction.
    #[prop(optional)]
    dense: bool,
) -> impl IntoView {
    let svg = if dense {
        crate::qr::svg_dense(&text, 4)
    } else {
        crate::qr::svg(&text)
    };
    let class = if dense { "qr qr-dense" } else { "qr" };
    view! {
        {match svg {
            Some(svg) => view! { <div class=class role="img" aria-label=label data-testid=testid data-text=text inner_html=svg></div> }.into_any(),
            None => view! { <p class="error">{t("This link is too long for a QR code.")}</p> }.into_any(),
        }}
    }
}
