//! Reminders without a server. While a room is open (a background tab counts), what needs the
//! member (`RoomDoc::needs_me`) becomes a notification, once per thing, if they turned
//! reminders on for this device; the app's badge counts those things where the browser has
//! one. For when the app is closed, sections offer calendar files (`domain::ics`) whose alarm
//! the phone's own calendar rings.
//!
//! Nothing here runs when Tequio is closed: no background catch-up is registered (see
//! ARCHITECTURE.md), so the settings promise reminders only while it is open.

use super::form::Handle;
use super::runtime::RoomView;
use super::{now_ms, t, Device};
use crate::domain::ics::{self, Event};
use crate::domain::{Booking, CircleView, DecisionView, Need, ResourceView, WorkPartyView};
use leptos::prelude::*;
use std::collections::BTreeSet;
use wasm_bindgen::{JsCast, JsValue};

/// The device setting holding the person's choice: "on" or "off" (absent: off).
pub const REMINDERS_SETTING: &str = "reminders";

thread_local! {
    /// Whether reminders are on for this device: one choice for every room, read from the
    /// store when a room opens and changed from Settings.
    static TURNED_ON: ArcRwSignal<bool> = ArcRwSignal::new(false);
}

fn turned_on() -> ArcRwSignal<bool> {
    TURNED_ON.with(Clone::clone)
}

/// The device setting holding the keys of the things already reminded of in a room, so that a
/// reload does not remind again.
pub(crate) fn reminded_setting(room_id: &str) -> String {
    format!("reminded/{room_id}")
}

/// Watches the open room: sets the badge and gives a notification for each thing needing the
/// member that was not reminded of before. Shows nothing.
#[component]
pub fn Reminders(
    handle: Handle,
    view: RwSignal<RoomView>,
    device: Device,
    room_id: String,
) -> impl IntoView {
    // Read from the store before anything is reminded of, or a reload would remind of
    // everything again.
    let reminded = StoredValue::new(BTreeSet::<String>::new());
    let loaded = RwSignal::new(false);
    let store = device.store.get_value();
    let key = reminded_setting(&room_id);
    leptos::task::spawn_local(async move {
        let choice = store.setting(REMINDERS_SETTING).await.ok().flatten();
        turned_on().set(choice.as_deref() == Some("on"));
        let known = store.setting(&key).await.ok().flatten();
        let known = known.and_then(|k| serde_json::from_str(&k).ok());
        reminded.set_value(known.unwrap_or_default());
        loaded.set(true);
    });
    let badge = StoredValue::new(None::<usize>);
    let on = turned_on();
    // Only what the needs come from: the room's version, whether it arrived, its name.
    let room = Memo::new(move |_| view.with(|v| (v.version, v.ready, v.name.clone())));
    Effect::new(move |_| {
        let (_, ready, name) = room.get();
        let on = on.get();
        // A room that has not arrived yet has nothing of anyone's in it.
        if !loaded.get() || !ready {
            return;
        }
        // Deriving the needs costs time in a large room: only for a badge or a notification.
        if !on && !has_badge() {
            return;
        }
        let needs = handle
            .with_value(|h| {
                h.as_ref()
                    .map(|h| h.read(|room, me| room.needs_me(&me.public(), now_ms())))
            })
            .unwrap_or_default();
        let count = needs.iter().map(|n| n.keys.len()).sum();
        if badge.get_value() != Some(count) {
            badge.set_value(Some(count));
            set_badge(count);
        }
        if !on || permission().as_deref() != Some("granted") {
            return;
        }
        let title = name.unwrap_or_else(|| "Tequio".into());
        let known = reminded.get_value();
        for need in needs.iter().filter(|n| is_new(n, &known)) {
            let _ = notify(&title, &room_id, need);
        }
        // Only what still waits is kept: the list stays as short as the needs.
        let now: BTreeSet<String> = needs.into_iter().flat_map(|n| n.keys).collect();
        if now != known {
            let store = device.store.get_value();
            let (key, text) = (reminded_setting(&room_id), serde_json::to_string(&now));
            reminded.set_value(now);
            leptos::task::spawn_local(async move {
                let _ = store.set_setting(&key, &text.unwrap_or_default()).await;
            });
        }
    });
}

/// A need with a thing in it not reminded of yet (the member's own standing has none).
fn is_new(need: &Need, known: &BTreeSet<String>) -> bool {
    need.keys.iter().any(|k| !known.contains(k))
}

/// The browser's Notification interface, if it has one.
fn notification_class() -> Option<js_sys::Function> {
    let window = web_sys::window()?;
    let class = js_sys::Reflect::get(&window, &"Notification".into()).ok()?;
    class.dyn_into().ok()
}

/// "granted", "denied" or "default"; None where notifications do not exist.
fn permission() -> Option<String> {
    let class = notification_class()?;
    js_sys::Reflect::get(&class, &"permission".into())
        .ok()?
        .as_string()
}

/// Shows `need` as a notification titled with the room's name. One tag per kind of thing, so
/// a newer count replaces the older instead of piling up; a click opens the section.
fn notify(title: &str, room_id: &str, need: &Need) -> Result<(), JsValue> {
    let body = crate::i18n::fill_strings(t(need.phrase), &need.values);
    let kind = need.keys[0].split(':').next().unwrap_or_default();
    let link = format!("#/room/{room_id}/{}", need.section);
    let options = js_sys::Object::new();
    for (name, value) in [
        ("body", body.as_str()),
        ("tag", &format!("tequio/{room_id}/{kind}")),
        ("icon", "icons/icon-192.png"),
    ] {
        js_sys::Reflect::set(&options, &name.into(), &value.into())?;
    }
    let data = js_sys::Object::new();
    js_sys::Reflect::set(&data, &"link".into(), &link.as_str().into())?;
    js_sys::Reflect::set(&options, &"data".into(), &data)?;
    let class = notification_class().ok_or("no notifications")?;
    let args = js_sys::Array::of2(&title.into(), &options);
    match js_sys::Reflect::construct(&class, &args) {
        Ok(shown) => open_on_click(&shown, link),
        // Some browsers (Chrome on Android) show notifications only through the service worker,
        // whose click handler opens the app.
        Err(_) => show_through_worker(title, &options),
    }
}

/// A click on the notification brings the tab forward at `link`.
fn open_on_click(shown: &JsValue, link: String) -> Result<(), JsValue> {
    let target: web_sys::EventTarget = shown.clone().dyn_into()?;
    let shown = shown.clone();
    let click = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        if let Some(w) = web_sys::window() {
            let _ = w.focus();
            let _ = w.location().set_hash(&link);
        }
        if let Ok(close) = js_sys::Reflect::get(&shown, &"close".into()) {
            if let Ok(close) = close.dyn_into::<js_sys::Function>() {
                let _ = close.call0(&shown);
            }
        }
    });
    target.add_event_listener_with_callback("click", click.as_ref().unchecked_ref())?;
    // Lives as long as the notification can be clicked, which the page cannot know.
    click.forget();
    Ok(())
}

fn show_through_worker(title: &str, options: &js_sys::Object) -> Result<(), JsValue> {
    let navigator = web_sys::window().ok_or("no window")?.navigator();
    let workers = js_sys::Reflect::get(&navigator, &"serviceWorker".into())?;
    let ready: js_sys::Promise = js_sys::Reflect::get(&workers, &"ready".into())?.dyn_into()?;
    let (title, options) = (title.to_owned(), options.clone());
    leptos::task::spawn_local(async move {
        let Ok(registration) = wasm_bindgen_futures::JsFuture::from(ready).await else {
            return;
        };
        let show = js_sys::Reflect::get(&registration, &"showNotification".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(show) = show {
            if let Ok(p) = show.call2(&registration, &title.into(), &options) {
                if let Ok(p) = p.dyn_into::<js_sys::Promise>() {
                    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
                }
            }
        }
    });
    Ok(())
}

/// Whether the browser can show a count on the app's icon.
fn has_badge() -> bool {
    web_sys::window().is_some_and(|w| {
        js_sys::Reflect::has(&w.navigator(), &"setAppBadge".into()).unwrap_or(false)
    })
}

/// The app's badge shows `count` (cleared at 0), where the browser has badges.
fn set_badge(count: usize) {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return;
    };
    let (name, args) = if count == 0 {
        ("clearAppBadge", js_sys::Array::new())
    } else {
        ("setAppBadge", js_sys::Array::of1(&(count as f64).into()))
    };
    let call = js_sys::Reflect::get(&navigator, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .map(|f| f.apply(&navigator, &args));
    // A refusal (no installed app, no permission) changes nothing: it is caught, not logged.
    if let Some(Ok(p)) = call {
        if let Ok(p) = p.dyn_into::<js_sys::Promise>() {
            leptos::task::spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(p).await;
            });
        }
    }
}

/// Asks the browser for permission to notify; resolves to its answer.
async fn ask_permission() -> Option<String> {
    let class = notification_class()?;
    let ask: js_sys::Function = js_sys::Reflect::get(&class, &"requestPermission".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let answer = ask.call0(&class).ok()?;
    match answer.dyn_into::<js_sys::Promise>() {
        Ok(p) => wasm_bindgen_futures::JsFuture::from(p)
            .await
            .ok()?
            .as_string(),
        // Older browsers answer through a callback and return nothing: read it after.
        Err(_) => permission(),
    }
}

/// Settings: turning reminders on (asking the browser's permission) or off, for this device.
#[component]
pub fn RemindersSettings(device: Device) -> impl IntoView {
    let on = turned_on();
    let asked = RwSignal::new(permission());
    let choose = move |choice: bool| {
        let store = device.store.get_value();
        let on = turned_on();
        leptos::task::spawn_local(async move {
            if choice {
                let answer = ask_permission().await;
                asked.set(answer.clone());
                if answer.as_deref() != Some("granted") {
                    return;
                }
            }
            let value = if choice { "on" } else { "off" };
            if store.set_setting(REMINDERS_SETTING, value).await.is_ok() {
                on.set(choice);
            }
        });
    };
    let state = Memo::new(move |_| match (asked.get().as_deref(), on.get()) {
        (None, _) => "unsupported",
        (Some("denied"), _) => "blocked",
        (Some("granted"), true) => "on",
        _ => "off",
    });
    view! {
        <section class="card" data-testid="reminders">
            <h2>{t("Reminders on this device")}</h2>
            <p>{t("Tequio can tell you when something needs you (a newcomer to vouch for, an expense to approve, a decision about to close, a reply to your post, a loan due back) while it is open, even in a background tab. Nothing goes through a server: only where the installed app may sync in the background (Chrome) does it also catch up now and then while closed and remind you. Elsewhere no reminder comes while Tequio is closed: for that, add dates to your calendar from their sections.")}</p>
            <p data-testid="reminders-state" data-state=state>{move || match state.get() {
                "unsupported" => t("This browser cannot show notifications."),
                "blocked" => t("The browser blocks notifications from Tequio: allow them in its settings for this site, then turn reminders on."),
                "on" => t("Reminders are on."),
                _ => t("Reminders are off."),
            }}</p>
            {move || match state.get() {
                "on" => view! { <button data-testid="reminders-off" on:click=move |_| choose(false)>{t("Turn reminders off")}</button> }.into_any(),
                "unsupported" => ().into_any(),
                _ => view! { <button data-testid="reminders-on" on:click=move |_| choose(true)>{t("Turn reminders on")}</button> }.into_any(),
            }}
        </section>
    }
}

/// A button that downloads `event` as a calendar file named after `name`.
#[component]
pub fn AddToCalendar(event: Event, #[prop(into)] name: String) -> impl IntoView {
    let error = RwSignal::new(None::<&'static str>);
    let event = StoredValue::new(event);
    let file = format!("tequio-{}.ics", super::settings::file_stem(&name));
    let save = move |_| {
        let made = event.with_value(|e| ics::calendar(e, now_ms()));
        let Some(text) = made else {
            return error.set(Some(t("This date cannot go in a calendar.")));
        };
        match super::settings::download(&file, "text/calendar", &text) {
            Ok(()) => error.set(None),
            Err(_) => error.set(Some(t("The file could not be made."))),
        }
    };
    view! {
        <button class="secondary" data-testid="add-to-calendar" on:click=save>{t("Add to calendar")}</button>
        {move || error.get().map(|e| view! { <span class="error" role="alert">{e}</span> })}
    }
}

/// How long before a thing its calendar alarm rings, in minutes.
const A_DAY_BEFORE: u32 = 24 * 60;
const AN_HOUR_BEFORE: u32 = 60;
/// Whole days begin at midnight where the phone is: 9:00 the day before.
const MORNING_BEFORE: u32 = 15 * 60;

/// The calendar event of something on a date: `kind` and `id` name it for good (see
/// [`ics::uid`]).
fn event(kind: &str, id: &str, summary: String, span: ics::Span, alarm: u32) -> Event {
    Event {
        uid: ics::uid(kind, id),
        summary,
        description: String::new(),
        location: String::new(),
        span,
        every_days: 0,
        times: 0,
        alarm_minutes: alarm,
    }
}

/// A booking of a shared thing, on its days (or times).
pub fn booking_event(thing: &ResourceView, b: &Booking) -> Event {
    let span = ics::Span::between(b.start, b.end);
    let alarm = match span {
        ics::Span::Days { .. } => MORNING_BEFORE,
        ics::Span::At { .. } => A_DAY_BEFORE,
    };
    let name = &thing.resource.name;
    Event {
        location: thing.resource.location.clone(),
        ..event("booking", &b.id, tr!("Booked: {}", name), span, alarm)
    }
}

/// The date a lent thing is due back, if it is lent with one; named by its hand-over, so the
/// next loan is another event.
pub fn loan_event(thing: &ResourceView) -> Option<Event> {
    let due = thing.due.filter(|_| thing.holder.is_some())?;
    let handover = thing.transfers.last()?;
    let span = ics::Span::At {
        start: due,
        end: None,
    };
    let summary = tr!("{} is due back", thing.resource.name);
    Some(Event {
        location: thing.resource.location.clone(),
        ..event("loan", &handover.id, summary, span, A_DAY_BEFORE)
    })
}

/// A work party from its next date on, repeating as it does; None once a one-off is over.
pub fn party_event(p: &WorkPartyView, now: i64) -> Option<Event> {
    let start = p.next_date(now)?;
    let span = ics::Span::At { start, end: None };
    let summary = tr!("Work party: {}", p.title);
    Some(Event {
        location: p.place.clone(),
        every_days: p.every_days,
        ..event("party", &p.id, summary, span, A_DAY_BEFORE)
    })
}

/// The rounds of a lending circle, each on its due date.
pub fn circle_event(c: &CircleView) -> Event {
    let span = ics::Span::At {
        start: c.starts_at,
        end: None,
    };
    let summary = tr!("Lending circle {}: a round is due", c.name);
    Event {
        every_days: c.period_days,
        times: u32::try_from(c.rounds.len()).unwrap_or(u32::MAX),
        ..event("circle", &c.id, summary, span, A_DAY_BEFORE)
    }
}

/// When an open decision closes: the alarm leaves an hour to take a stance.
pub fn closing_event(d: &DecisionView) -> Event {
    let span = ics::Span::At {
        start: d.closes_at,
        end: None,
    };
    let summary = tr!("Decision closes: {}", d.title);
    event("decision", &d.id, summary, span, AN_HOUR_BEFORE)
}
