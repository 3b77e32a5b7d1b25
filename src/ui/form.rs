//! What every section shares: showing a refused command next to its field, and views derived
//! from the open room.

use super::runtime::{RoomHandle, RoomView};
use super::t;
use crate::crypto::Identity;
use crate::domain::{DomainError, RoomDoc};
use leptos::prelude::*;

/// The open room, as sections receive it.
pub type Handle = StoredValue<Option<RoomHandle>, LocalStorage>;

/// Where a form keeps its refused command (see [`field_error`]).
pub type Errors = RwSignal<Option<(String, String)>>;

/// An element id unique on the page, for a label's `for` (forms repeat: one per pot, per thing).
pub fn unique_id(name: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("f-{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

// --- The form kit: every section writes its fields with these, so a field is always a label, a
// control and the error the domain reported for it, the same way everywhere. ------------------

/// A labelled one-line text field, with the error reported for `field` below it.
#[component]
pub fn TextField(
    /// What it asks (a closure when it follows other fields).
    #[prop(into)]
    label: Signal<String>,
    /// The name the domain reports this field's errors under.
    field: &'static str,
    value: RwSignal<String>,
    errors: Errors,
    #[prop(optional)] maxlength: Option<u32>,
    /// The input's `inputmode` ("numeric", "decimal"…).
    #[prop(optional)]
    inputmode: Option<&'static str>,
    /// The input's `type` ("text" when absent).
    #[prop(optional)]
    kind: Option<&'static str>,
    /// Bounds of a `number` field.
    #[prop(optional)]
    min: Option<i64>,
    #[prop(optional)] max: Option<i64>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional, into)] placeholder: Option<String>,
    #[prop(optional)] testid: Option<&'static str>,
    /// Further fields the domain may report about this one (an amount read as a quantity).
    #[prop(optional)]
    also: Option<&'static str>,
) -> impl IntoView {
    let id = unique_id(field);
    view! {
        <label for=id.clone()>{move || label.get()}</label>
        <input id=id type=kind.unwrap_or("text") maxlength=maxlength inputmode=inputmode
            min=min max=max autocomplete=autocomplete
            placeholder=placeholder data-testid=testid prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))/>
        {error_for(errors, field)}
        {also.map(|f| error_for(errors, f))}
    }
}

/// A labelled text area, with the error reported for `field` below it.
#[component]
pub fn TextArea(
    #[prop(into)] label: String,
    field: &'static str,
    value: RwSignal<String>,
    errors: Errors,
    #[prop(default = 3)] rows: u32,
    #[prop(optional)] maxlength: Option<u32>,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let id = unique_id(field);
    view! {
        <label for=id.clone()>{label}</label>
        <textarea id=id rows=rows maxlength=maxlength data-testid=testid prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))></textarea>
        {error_for(errors, field)}
    }
}

/// A labelled choice among `options` (value, words), with the error reported for `field`.
#[component]
pub fn SelectField(
    #[prop(into)] label: String,
    field: &'static str,
    value: RwSignal<String>,
    errors: Errors,
    #[prop(into)] options: Signal<Vec<(String, String)>>,
    /// A first option with no value ("Choose a member"), if any.
    #[prop(optional, into)]
    prompt: Option<String>,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let id = unique_id(field);
    view! {
        <label for=id.clone()>{label}</label>
        <select id=id data-testid=testid on:change=move |ev| value.set(event_target_value(&ev))>
            {prompt.map(|p| view! { <option value="" selected=move || value.get().is_empty()>{p}</option> })}
            {move || options.get().into_iter().map(|(v, words)| {
                let chosen = v.clone();
                view! { <option value=v selected=move || value.get() == chosen>{words}</option> }
            }).collect_view()}
        </select>
        {error_for(errors, field)}
    }
}

/// A labelled choice among a few `options` (value, words) as radio buttons: readable at any
/// width, where a select's longest choice would not fit a phone. Each button's test id is
/// `<testid>-<value>`.
#[component]
pub fn RadioField(
    #[prop(into)] label: String,
    field: &'static str,
    value: RwSignal<String>,
    errors: Errors,
    #[prop(into)] options: Signal<Vec<(String, String)>>,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let name = unique_id(field);
    view! {
        <fieldset class="choices" data-testid=testid>
            <legend>{label}</legend>
            {move || options.get().into_iter().map(|(v, words)| {
                let (shown, chosen) = (v.clone(), v.clone());
                view! {
                    <label class="check">
                        <input type="radio" name=name.clone() value=v.clone() data-testid=testid.map(|t| format!("{t}-{v}"))
                            prop:checked=move || value.get() == shown on:change=move |_| value.set(chosen.clone())/>
                        " "{words}
                    </label>
                }
            }).collect_view()}
        </fieldset>
        {error_for(errors, field)}
    }
}

/// A labelled amount in `unit` ("Amount (EUR)"), typed as people write it and read with
/// [`crate::domain::parse_amount`]; errors under `field`.
#[component]
pub fn AmountField(
    #[prop(into)] label: String,
    #[prop(into)] unit: Signal<String>,
    field: &'static str,
    value: RwSignal<String>,
    errors: Errors,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let id = unique_id(field);
    view! {
        <label for=id.clone()>{move || tr!("{} ({})", label.clone(), unit.get())}</label>
        <input id=id inputmode="decimal" data-testid=testid prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))/>
        {error_for(errors, field)}
    }
}

/// A labelled date and time, readable at every width (the browser's own picker, full width);
/// read with [`local_time`]; errors under `field`.
#[component]
pub fn DateTimeField(
    #[prop(into)] label: String,
    field: &'static str,
    value: RwSignal<String>,
    errors: Errors,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let id = unique_id(field);
    view! {
        <label for=id.clone()>{label}</label>
        <input id=id type="datetime-local" class="datetime" data-testid=testid prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))/>
        {error_for(errors, field)}
    }
}

/// A labelled choice of a member, by name and key fingerprint (never a key to copy).
#[component]
pub fn MemberPicker(
    #[prop(into)] label: String,
    field: &'static str,
    value: RwSignal<String>,
    errors: Errors,
    /// The members to choose among.
    #[prop(into)]
    members: Signal<Vec<crate::domain::Member>>,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let options = Signal::derive(move || {
        members
            .get()
            .into_iter()
            .map(|m| {
                let words = format!("{} ({})", m.profile.name, &m.key[..8.min(m.key.len())]);
                (m.key, words)
            })
            .collect::<Vec<_>>()
    });
    view! {
        <SelectField label field value errors options prompt=t("Choose a member") testid=testid.unwrap_or("member-picker")/>
    }
}

/// Scrolls to the item a route named (`decisions/<id>`, as search results link) once `ready`
/// says the list is shown: the item carries `id="<prefix><item>"`.
pub fn scroll_to_focus(prefix: &'static str, focus: String, ready: impl Fn() -> bool + 'static) {
    if focus.is_empty() {
        return;
    }
    let done = StoredValue::new(false);
    Effect::new(move |_| {
        if !ready() || done.get_value() {
            return;
        }
        done.set_value(true);
        let id = format!("{prefix}{focus}");
        request_animation_frame(move || {
            if let Some(el) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id(&id))
            {
                el.scroll_into_view();
            }
        });
    });
}

/// What a `datetime-local` field holds ("2026-12-01T14:30"), as ms since the epoch in this
/// device's time zone; refused (as `field`) when empty or not a date and time.
pub fn local_time(text: &str, field: &'static str) -> Result<i64, DomainError> {
    let text = text.trim();
    let ms = js_sys::Date::parse(text);
    if text.is_empty() || ms.is_nan() {
        return Err(DomainError::Invalid {
            field,
            problem: "is missing or not a date and time".into(),
        });
    }
    Ok(ms as i64)
}

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
