//! Leptos components (browser only): a hash router (`#/`, `#/join/<secret>`, `#/room/<id>`)
//! so the app runs from any static host with no server rewrites, the start page and the room.

/// Text with values, through the translation table: `tr!("{} of {}", a, b)`.
#[allow(unused_macros)]
macro_rules! tr {
    ($template:literal $(, $arg:expr)* $(,)?) => {
        $crate::i18n::fill($crate::ui::t($template), &[$(&$arg as &dyn std::fmt::Display),*])
    };
}

mod board;
mod charter;
mod circles;
mod contributions;
mod decisions;
mod form;
mod home;
mod labels;
mod members;
mod pages;
mod pairing;
mod pot;
pub(crate) mod reminders;
mod resources;
mod room;
mod runtime;
mod search;
mod settings;
pub use settings::NET_SETTING;
mod start;
mod tasks;

use crate::net::NetConfig;
use crate::store::Store;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub use runtime::{PeerState, RoomHandle, RoomView};

/// Components with logic of their own, for the component tests (`tests/components_web.rs`).
pub mod components {
    pub use super::form::Qr;
    pub use super::pages::Rendered;
}

/// Sets the language the app shows (normally chosen once at start-up).
pub fn set_lang(lang: crate::i18n::Lang) {
    LANG.with(|l| l.set(lang));
}

thread_local! {
    static LANG: std::cell::Cell<crate::i18n::Lang> = const { std::cell::Cell::new(crate::i18n::Lang::En) };
}

/// The language the app shows.
pub fn lang() -> crate::i18n::Lang {
    LANG.with(|l| l.get())
}

/// `en` in the app's language (see `crate::i18n`).
pub fn t(en: &'static str) -> &'static str {
    crate::i18n::lookup(lang(), en)
}

/// An amount in minor units, written the way the app's language writes numbers.
pub fn money(minor: i64, unit: &str) -> String {
    crate::i18n::amount(lang(), minor, unit)
}

/// The device setting naming the chosen language ("en", "es"; absent: the browser's).
pub const LANG_SETTING: &str = "lang";

/// Picks the language: the person's choice, else the browser's.
fn choose_language(setting: Option<String>) {
    let tag = setting.filter(|s| !s.is_empty()).unwrap_or_else(|| {
        web_sys::window()
            .and_then(|w| w.navigator().language())
            .unwrap_or_default()
    });
    let chosen = crate::i18n::Lang::from_tag(&tag);
    set_lang(chosen);
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", chosen.tag());
    }
}

/// Everything a page needs from the device: its database and network configuration.
#[derive(Clone, Copy)]
pub struct Device {
    pub store: StoredValue<Store, LocalStorage>,
    pub config: StoredValue<NetConfig, LocalStorage>,
    /// Moves when `config` is replaced while the app runs (the device started without one and
    /// `config.json` arrived once the network came back): the open room re-joins with it.
    pub config_version: RwSignal<u64>,
    /// Whether the browser granted persistent storage (`None` until it answers).
    pub persisted: RwSignal<Option<bool>>,
    /// Whether the browser says it has a network.
    pub online: RwSignal<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Start,
    Join(String),
    /// A room, and the section of it shown ("" for its home).
    Room(String, String),
}

fn current_route() -> Route {
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    let path = hash.trim_start_matches('#');
    if let Some(rest) = path.strip_prefix("/join/") {
        Route::Join(rest.to_owned())
    } else if path.starts_with("/join") {
        Route::Join(String::new())
    } else if let Some(rest) = path.strip_prefix("/room/") {
        let (id, section) = rest.split_once('/').unwrap_or((rest, ""));
        Route::Room(id.to_owned(), section.to_owned())
    } else {
        Route::Start
    }
}

/// Navigates within the app by changing the fragment.
pub fn go(hash: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_hash(hash);
    }
}

/// Milliseconds since the epoch, from the browser clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// The device setting keeping the last `config.json` fetched (JSON of `NetConfig`): a device
/// that starts offline, or from an app cache without it, still knows where to meet.
pub const SHIPPED_NET_SETTING: &str = "shipped_net";

/// How often `config.json` is fetched again while the app runs without any configuration.
const CONFIG_RETRY_MS: u32 = 5_000;

/// The network configuration shipped beside the app (`config.json`): `Ok(None)` if the
/// deployment has none (404); an error if it could not be reached or read (worth trying again).
async fn fetch_config() -> Result<Option<NetConfig>, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str("config.json"))
            .await?
            .dyn_into()?;
    if response.status() == 404 {
        return Ok(None);
    }
    if !response.ok() {
        return Err(format!("config.json: {}", response.status()).into());
    }
    let text = wasm_bindgen_futures::JsFuture::from(response.text()?).await?;
    let text = text.as_string().unwrap_or_default();
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| JsValue::from_str(&e.to_string()))
}

/// Keeps `config` as the last `config.json` fetched, unless `kept` (the copy kept) says so
/// already.
async fn keep_shipped(store: &Store, config: &NetConfig, kept: Option<&str>) {
    let text = serde_json::to_string(config).unwrap_or_default();
    if kept != Some(text.as_str()) {
        if let Err(e) = store.set_setting(SHIPPED_NET_SETTING, &text).await {
            web_sys::console::warn_1(&format!("tequio: config.json not kept: {e}").into());
        }
    }
}

/// `config.json` arrived after start-up: keeps it and, unless the person's own settings
/// replace it, uses it from now on (the open room re-joins with it, later rooms open with it).
async fn adopt_config(device: Device, config: NetConfig) {
    let store = device.store.get_value();
    let kept = store.setting(SHIPPED_NET_SETTING).await.ok().flatten();
    keep_shipped(&store, &config, kept.as_deref()).await;
    // Read again now: the person may have saved their own settings meanwhile.
    let own = store.setting(settings::NET_SETTING).await.ok().flatten();
    let Some(chosen) = NetConfig::at_start(own.as_deref(), Some(config), None) else {
        return;
    };
    if chosen != device.config.get_value() {
        device.config.set_value(chosen);
        device.config_version.update(|v| *v += 1);
    }
}

/// The app started with no network configuration (`config.json` unreachable and none kept):
/// fetches it again when the browser says the network is back, and every few seconds while it
/// says so (an `online` event does not always come), until it arrives.
fn fetch_config_when_online(device: Device) {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    let Some(window) = web_sys::window() else {
        return;
    };
    let done = Rc::new(Cell::new(false));
    let busy = Rc::new(Cell::new(false));
    let timer = Rc::new(RefCell::new(None::<gloo_timers::callback::Interval>));
    let attempt = {
        let (window, timer) = (window.clone(), timer.clone());
        Rc::new(move || {
            if done.get() || busy.get() || !window.navigator().on_line() {
                return;
            }
            busy.set(true);
            let (done, busy, timer) = (done.clone(), busy.clone(), timer.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(found) = fetch_config().await {
                    done.set(true);
                    timer.borrow_mut().take();
                    if let Some(config) = found {
                        adopt_config(device, config).await;
                    }
                }
                busy.set(false);
            });
        })
    };
    let on_timer = attempt.clone();
    *timer.borrow_mut() = Some(gloo_timers::callback::Interval::new(
        CONFIG_RETRY_MS,
        move || on_timer(),
    ));
    let on_online = Closure::<dyn FnMut()>::new(move || attempt());
    let _ = window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    // Does nothing once the configuration arrived; cheaper to keep than to unhook.
    on_online.forget();
}

/// Opens the database, reads the configuration and mounts the app.
pub fn start() {
    console_error_panic_hook::set_once();
    // Inside another site's frame the app could be made to click, join or pair unseen: it
    // refuses to run there (hosts that can send headers also send frame-ancestors 'none').
    if let Some(w) = web_sys::window() {
        let framed = match w.top() {
            Ok(Some(top)) => !js_sys::Object::is(&top, &w),
            _ => true,
        };
        if framed {
            let text = t("Tequio does not run inside another page. Open it in its own tab.");
            leptos::mount::mount_to_body(
                move || view! { <p class="fatal" role="alert">{text}</p> },
            );
            return;
        }
    }
    // Leptos's executor is set up by mounting, so the start-up work runs on wasm-bindgen's.
    wasm_bindgen_futures::spawn_local(async {
        let fetched = fetch_config().await;
        match Store::open("tequio").await {
            Ok(store) => {
                choose_language(store.setting(LANG_SETTING).await.ok().flatten());
                // The person's own network settings, if any, replace the deployment's; the
                // deployment's last copy stands in when it cannot be fetched now.
                let own = store.setting(settings::NET_SETTING).await.ok().flatten();
                let kept = store.setting(SHIPPED_NET_SETTING).await.ok().flatten();
                if let Ok(Some(shipped)) = &fetched {
                    keep_shipped(&store, shipped, kept.as_deref()).await;
                }
                let shipped = fetched.as_ref().ok().cloned().flatten();
                let config = NetConfig::at_start(own.as_deref(), shipped, kept.as_deref());
                let missing = config.is_none() && fetched.is_err();
                let online = web_sys::window().is_none_or(|w| w.navigator().on_line());
                let device = Device {
                    store: StoredValue::new_local(store),
                    config: StoredValue::new_local(config.unwrap_or_default()),
                    config_version: RwSignal::new(0),
                    persisted: RwSignal::new(None),
                    online: RwSignal::new(online),
                };
                request_persistent_storage(device.persisted);
                watch_network(device.online);
                if missing {
                    fetch_config_when_online(device);
                }
                leptos::mount::mount_to_body(move || view! { <App device/> });
            }
            Err(e) => {
                let text = tr!("Tequio cannot open this browser's storage: {}", e);
                leptos::mount::mount_to_body(
                    move || view! { <p class="fatal" role="alert">{text.clone()}</p> },
                );
            }
        }
    });
}

/// Asks the browser not to evict the rooms under storage pressure.
pub(crate) fn request_persistent_storage(persisted: RwSignal<Option<bool>>) {
    if let Some(storage) = web_sys::window().map(|w| w.navigator().storage()) {
        if let Ok(promise) = storage.persist() {
            wasm_bindgen_futures::spawn_local(async move {
                let granted = wasm_bindgen_futures::JsFuture::from(promise)
                    .await
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                persisted.set(Some(granted));
            });
        }
    }
}

/// Keeps `online` in step with the browser's online and offline events.
fn watch_network(online: RwSignal<bool>) {
    let Some(w) = web_sys::window() else { return };
    for (event, value) in [("online", true), ("offline", false)] {
        let cb = Closure::<dyn FnMut()>::new(move || online.set(value));
        let _ = w.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
        // Listens for the life of the page.
        cb.forget();
    }
}

/// The device setting recording that the person dismissed the notice that the browser did not
/// promise to keep the data ("dismissed"; absent: not yet).
pub const PERSIST_NOTICE_SETTING: &str = "persist_notice";

/// Where the browser did not promise to keep the app's data: says so once, with a way to act
/// (ask again; install the app), until dismissed; Settings says it from then on.
#[component]
fn PersistNotice(device: Device) -> impl IntoView {
    // None until the setting is read; then whether it was dismissed.
    let dismissed = RwSignal::new(None::<bool>);
    let store = device.store.get_value();
    leptos::task::spawn_local(async move {
        let seen = store.setting(PERSIST_NOTICE_SETTING).await.ok().flatten();
        dismissed.set(Some(seen.is_some()));
    });
    let dismiss = move |_| {
        dismissed.set(Some(true));
        let store = device.store.get_value();
        leptos::task::spawn_local(async move {
            if let Err(e) = store.set_setting(PERSIST_NOTICE_SETTING, "dismissed").await {
                web_sys::console::warn_1(
                    &format!("tequio: the notice will show again: {e}").into(),
                );
            }
        });
    };
    move || {
        (device.persisted.get() == Some(false) && dismissed.get() == Some(false)).then(|| {
            view! {
                <div class="notice" role="status" data-testid="not-persisted">
                    <p>{t("This browser did not promise to keep Tequio's data: it may clear it when space runs low. Installing the app usually fixes this; keep your room links safe.")}</p>
                    <button type="button" on:click=move |_| request_persistent_storage(device.persisted)>{t("Ask the browser again")}</button>
                    <button type="button" data-testid="not-persisted-dismiss" on:click=dismiss>{t("Got it")}</button>
                </div>
            }
        })
    }
}

/// The device setting recording that the person dismissed the notice on Safari's storage
/// ("dismissed"; absent: not yet).
pub const SAFARI_NOTICE_SETTING: &str = "safari_notice";

/// Whether the app runs installed (from the Home Screen or the Dock) rather than in a tab.
fn installed() -> bool {
    let Some(w) = web_sys::window() else {
        return false;
    };
    let standalone = js_sys::Reflect::get(&w.navigator(), &"standalone".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    // `matchMedia` through Reflect: no web-sys feature for one boolean.
    let display_mode = js_sys::Reflect::get(&w, &"matchMedia".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call1(&w, &"(display-mode: standalone)".into()).ok())
        .and_then(|m| js_sys::Reflect::get(&m, &"matches".into()).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    standalone || display_mode
}

/// The Apple WebKit browser the app runs in, in a tab (see `crate::browser`).
fn apple_webkit_tab() -> Option<crate::browser::AppleWebKit> {
    let navigator = web_sys::window()?.navigator();
    let ua = navigator.user_agent().unwrap_or_default();
    let vendor = js_sys::Reflect::get(&navigator, &"vendor".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    let kind = crate::browser::apple_webkit(&ua, &vendor, navigator.max_touch_points());
    kind.filter(|_| !installed())
}

/// On Safari (and any browser on an iPhone or iPad), in a tab: says once that the browser may
/// delete the app's data after 7 days without use, and how installing the app prevents it.
/// Dismissed, it stays dismissed on this device.
#[component]
fn SafariNotice(device: Device) -> impl IntoView {
    use crate::browser::AppleWebKit;
    let shown = RwSignal::new(None::<AppleWebKit>);
    // What was decided, for the end-to-end tests: "checking", "shown", "dismissing" (being
    // remembered), "dismissed" or "none" (not such a browser, or installed).
    let state = RwSignal::new("none");
    if let Some(kind) = apple_webkit_tab() {
        state.set("checking");
        let store = device.store.get_value();
        leptos::task::spawn_local(async move {
            let dismissed = store.setting(SAFARI_NOTICE_SETTING).await.ok().flatten();
            if dismissed.is_none() {
                shown.set(Some(kind));
                state.set("shown");
            } else {
                state.set("dismissed");
            }
        });
    }
    let dismiss = move |_| {
        shown.set(None);
        state.set("dismissing");
        let store = device.store.get_value();
        leptos::task::spawn_local(async move {
            match store.set_setting(SAFARI_NOTICE_SETTING, "dismissed").await {
                Ok(()) => state.set("dismissed"),
                Err(e) => web_sys::console::warn_1(
                    &format!("tequio: the notice will show again: {e}").into(),
                ),
            }
        });
    };
    let notice = move || {
        shown.get().map(|kind| {
            view! {
                <div class="notice" role="status" data-testid="safari-storage-notice">
                    <p>{t("Safari may delete Tequio's data on this device after 7 days without using it: rooms that no other device has would be lost. Installing the app keeps it.")}</p>
                    <p>{match kind {
                        AppleWebKit::Ios => t("To install it, tap Share, then Add to Home Screen, and open Tequio from there."),
                        AppleWebKit::MacSafari => t("To install it, choose File → Add to Dock in Safari, and open Tequio from the Dock."),
                    }}</p>
                    <button data-testid="safari-notice-dismiss" on:click=dismiss>{t("Got it")}</button>
                </div>
            }
        })
    };
    view! {
        <span hidden data-testid="safari-notice-state" data-state=move || state.get()></span>
        {notice}
    }
}

#[component]
fn App(device: Device) -> impl IntoView {
    let route = RwSignal::new(current_route());
    let on_hash = Closure::<dyn FnMut()>::new(move || route.set(current_route()));
    if let Some(w) = web_sys::window() {
        let _ = w.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    }
    // The app lives as long as the page: the listener stays.
    on_hash.forget();
    // The page changes with the route, but moving between a room's sections keeps the room
    // open (its connections and state): the section is a signal of its own.
    let page = Memo::new(move |_| match route.get() {
        Route::Room(id, _) => Route::Room(id, String::new()),
        other => other,
    });
    let section = Memo::new(move |_| match route.get() {
        Route::Room(_, section) => section,
        _ => String::new(),
    });
    view! {
        <header class="top">
            <a href="#/" class="brand">"Tequio"</a>
            {move || (!device.online.get()).then(|| view! {
                <span class="offline" data-testid="offline" role="status">{t("Offline: changes are kept on this device and sync when you are back")}</span>
            })}
        </header>
        <PersistNotice device/>
        <SafariNotice device/>
        <main>
            {move || match page.get() {
                Route::Start => view! { <start::StartPage device/> }.into_any(),
                Route::Join(raw) => view! { <start::JoinPage device raw/> }.into_any(),
                Route::Room(id, _) => view! { <room::RoomPage device id section/> }.into_any(),
            }}
        </main>
    }
}
