//! Settings: my name in this room; exports (room backup, ledger and contributions as CSV,
//! economic events as ValueFlows JSON); storage use; the signaling and ICE servers this device
//! uses (for every room).

use super::form::{derived, error_for, run, Handle, TextArea, TextField};
use super::runtime::{RoomHandle, RoomView};
use super::t;
use super::{now_ms, Device};
use crate::domain::{iso_time, Profile};
use crate::net::NetConfig;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// The device setting holding the person's own network settings (JSON of `NetConfig`).
pub const NET_SETTING: &str = "net";

/// Offers `text` as a file download named `name`.
pub fn download(name: &str, mime: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // Let the download start before the URL is released.
    gloo_timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Ok(())
}

/// A file-name-safe form of a room name.
pub(super) fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let stem = stem.trim_matches('-').to_lowercase();
    if stem.is_empty() {
        "room".into()
    } else {
        stem.chars().take(40).collect()
    }
}

fn kilobytes(bytes: f64) -> String {
    if bytes >= 1_048_576.0 {
        format!("{:.1} MB", bytes / 1_048_576.0)
    } else {
        tr!("{} KB", (bytes / 1024.0).ceil() as u64)
    }
}

#[component]
fn Exports(handle: Handle) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let export = move |what: &'static str| {
        let Some(h) = handle.get_value() else { return };
        let now = now_ms();
        let day = &iso_time(now)[..10];
        let (stem, text, name, mime) = match what {
            "backup" => {
                let b = h.backup();
                let stem = file_stem(&b.name);
                (stem, b.to_json(), "backup.json", "application/json")
            }
            other => h.read(|room, _| {
                let stem = file_stem(&room.name().unwrap_or_default());
                match other {
                    "ledger" => (stem, room.ledger_csv(now), "ledger.csv", "text/csv"),
                    "contributions" => (
                        stem,
                        room.contributions_csv(now),
                        "contributions.csv",
                        "text/csv",
                    ),
                    _ => (
                        stem,
                        serde_json::to_string_pretty(&room.valueflows_json(now))
                            .unwrap_or_default(),
                        "valueflows.json",
                        "application/ld+json",
                    ),
                }
            }),
        };
        let file = format!("tequio-{stem}-{day}-{name}");
        match download(&file, mime, &text) {
            Ok(()) => error.set(None),
            Err(e) => error.set(Some(tr!(
                "The file could not be made: {}",
                format!("{e:?}")
            ))),
        }
    };
    view! {
        <section class="card">
            <h2>{t("Export")}</h2>
            <p>{t("A backup holds the whole room, the room's secret and your key in it: anyone with the file can read the room and act as you. Keep it private. Restore it from the start page on any device; restoring merges with what is there, it never overwrites.")}</p>
            <button data-testid="export-backup" on:click=move |_| export("backup")>{t("Download a backup of the room")}</button>
            <button data-testid="export-ledger" on:click=move |_| export("ledger")>{t("Ledger (CSV)")}</button>
            <button data-testid="export-contributions" on:click=move |_| export("contributions")>{t("Contributions (CSV)")}</button>
            <button data-testid="export-valueflows" on:click=move |_| export("valueflows")>{t("Economic events (ValueFlows JSON)")}</button>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}

#[component]
fn Storage(handle: Handle, device: Device) -> impl IntoView {
    let room_bytes = RwSignal::new(None::<usize>);
    let estimate = RwSignal::new(None::<(f64, f64)>);
    if let Some(h) = handle.get_value() {
        let (id, store) = h.store();
        leptos::task::spawn_local(async move {
            if let Ok(loaded) = store.load_room(&id).await {
                room_bytes.set(Some(loaded.chunks.iter().map(Vec::len).sum()));
            }
        });
    }
    if let Some(promise) = web_sys::window().and_then(|w| w.navigator().storage().estimate().ok()) {
        leptos::task::spawn_local(async move {
            if let Ok(v) = wasm_bindgen_futures::JsFuture::from(promise).await {
                let num = |k: &str| {
                    js_sys::Reflect::get(&v, &k.into())
                        .ok()
                        .and_then(|x| x.as_f64())
                        .unwrap_or(0.0)
                };
                estimate.set(Some((num("usage"), num("quota"))));
            }
        });
    }
    view! {
        <section class="card">
            <h2>{t("Storage on this device")}</h2>
            <p data-testid="room-bytes">{move || match room_bytes.get() {
                Some(b) => tr!("This room: {}", kilobytes(b as f64)),
                None => t("This room: measuring…").into(),
            }}</p>
            <p data-testid="storage-estimate">{move || estimate.get().map(|(used, quota)| {
                tr!("Tequio uses {} of the {} this browser allows.", kilobytes(used), kilobytes(quota))
            })}</p>
            <p data-testid="persisted">{move || match device.persisted.get() {
                Some(true) => t("The browser has promised to keep this data."),
                Some(false) => t("The browser has not promised to keep this data: it may clear it when space runs low. Installing the app usually helps; keep a backup."),
                None => "",
            }}</p>
            {move || (device.persisted.get() == Some(false)).then(|| view! {
                <button type="button" on:click=move |_| super::request_persistent_storage(device.persisted)>{t("Ask the browser to keep it")}</button>
            })}
        </section>
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[component]
fn Network(device: Device) -> impl IntoView {
    let current = device.config.get_value();
    let nostr = RwSignal::new(current.nostr.join("\n"));
    let signaling = RwSignal::new(current.signaling.join("\n"));
    let limit = RwSignal::new(match current.mesh_limit {
        0 => crate::sync::DEFAULT_MESH_LIMIT.to_string(),
        n => n.to_string(),
    });
    let ice = RwSignal::new(current.ice_servers.join("\n"));
    let user = RwSignal::new(current.turn_username.clone());
    let credential = RwSignal::new(current.turn_credential.clone());
    let relay_only = RwSignal::new(current.relay_only);
    let errors = RwSignal::new(None::<(String, String)>);
    let saved = RwSignal::new(false);
    // "Saved" goes once anything is changed again.
    Effect::new(move |_| {
        for field in [nostr, signaling, ice, user, credential, limit] {
            field.track();
        }
        saved.set(false);
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(mesh_limit) = limit.get_untracked().trim().parse::<usize>() else {
            return errors.set(Some((
                "mesh".into(),
                t("Write a whole number of peers, such as 20.").into(),
            )));
        };
        let config = NetConfig {
            nostr: lines(&nostr.get_untracked()),
            signaling: lines(&signaling.get_untracked()),
            mesh_limit,
            ice_servers: lines(&ice.get_untracked()),
            turn_username: user.get_untracked().trim().to_owned(),
            turn_credential: credential.get_untracked(),
            relay_only: relay_only.get_untracked(),
        };
        if let Err((field, problem)) = config.check() {
            // The problem names the address typed: its words go through the table.
            let message = if let Some(u) = problem.strip_suffix(" is not a ws:// or wss:// address")
            {
                tr!("{} is not a ws:// or wss:// address.", u)
            } else if let Some(u) = problem.strip_suffix(" is not a stun: or turn: address") {
                tr!("{} is not a stun: or turn: address.", u)
            } else {
                format!("{problem}.")
            };
            return errors.set(Some((field.into(), message)));
        }
        let store = device.store.get_value();
        leptos::task::spawn_local(async move {
            let text = serde_json::to_string(&config).unwrap_or_default();
            match store.set_setting(NET_SETTING, &text).await {
                Ok(()) => {
                    device.config.set_value(config);
                    errors.set(None);
                    saved.set(true);
                }
                Err(e) => errors.set(Some((String::new(), tr!("Not saved: {}", e)))),
            }
        });
    };
    view! {
        <section class="card">
            <h2>{t("Connections (this device, every room)")}</h2>
            <form on:submit=save data-testid="network-settings">
                <TextArea label=t("Nostr relays where devices find each other (ws:// or wss://, one per line)") field="nostr" value=nostr errors testid="set-nostr"/>
                <TextArea label=t("Signaling servers where devices find each other (ws:// or wss://, one per line)") field="signaling" value=signaling errors testid="set-signaling"/>
                <TextArea label=t("STUN and TURN servers for crossing routers (stun: or turn:, one per line)") field="ice" value=ice errors testid="set-ice"/>
                <TextField label=t("TURN user name") field="turn-user" value=user errors autocomplete="off" testid="set-turn-user"/>
                <TextField label=t("TURN password") field="turn-credential" value=credential errors kind="password" autocomplete="off"/>
                <label class="check">
                    <input type="checkbox" data-testid="set-relay-only" prop:checked=move || relay_only.get()
                        on:change=move |ev| { relay_only.set(event_target_checked(&ev)); saved.set(false); }/>
                    {t("Connect only through a TURN relay (hides this device's address; needs a TURN server above)")}
                </label>
                <TextField label=t("Most devices to connect to at once (the others are reached through them)") field="mesh" value=limit errors inputmode="numeric" testid="set-mesh"/>
                {error_for(errors, "")}
                <button type="submit" data-testid="save-network">{t("Save")}</button>
                {move || saved.get().then(|| view! {
                    <p class="ok" role="status" data-testid="network-saved">{t("Saved. Rooms use these from the next time they connect. ")}
                        <button type="button" on:click=|_| { if let Some(w) = web_sys::window() { let _ = w.location().reload(); } }>{t("Reconnect now")}</button>
                    </p>
                })}
            </form>
        </section>
    }
}

#[component]
fn Language(device: Device) -> impl IntoView {
    let chosen = RwSignal::new(String::new());
    let store = device.store.get_value();
    leptos::task::spawn_local(async move {
        if let Ok(Some(v)) = store.setting(super::LANG_SETTING).await {
            chosen.set(v);
        }
    });
    let pick = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        chosen.set(value.clone());
        let store = device.store.get_value();
        leptos::task::spawn_local(async move {
            if store.set_setting(super::LANG_SETTING, &value).await.is_ok() {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().reload();
                }
            }
        });
    };
    view! {
        <section class="card">
            <h2>{t("Language")}</h2>
            <label for="set-lang">{t("Language")}</label>
            <select id="set-lang" data-testid="set-lang" on:change=pick>
                <option value="" selected=move || chosen.get().is_empty()>{t("The browser's language")}</option>
                <option value="en" selected=move || chosen.get() == "en">"English"</option>
                <option value="es" selected=move || chosen.get() == "es">"Español"</option>
            </select>
            <p class="hint">{t("Language changes apply when the app reloads.")}</p>
        </section>
    }
}

#[component]
pub fn SettingsSection(handle: Handle, view: RwSignal<RoomView>, device: Device) -> impl IntoView {
    let profile = derived(handle, view, |room, me| {
        room.members()
            .into_iter()
            .find(|m| m.key == me.public())
            .map(|m| m.profile)
    });
    let name = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Some(p)) = profile.get() {
            name.set(p.name);
        }
    });
    let errors = RwSignal::new(None::<(String, String)>);
    let done = RwSignal::new(false);
    Effect::new(move |_| {
        name.track();
        done.set(false);
    });
    let rename = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let keep = profile.get_untracked().flatten().unwrap_or_default();
        let p = Profile {
            name: name.get_untracked(),
            ..keep
        };
        done.set(run(handle, errors, |room, me, now| room.set_profile(me, p, now)).is_some());
    };
    view! {
        <section class="card">
            <h2>{t("My name in this room")}</h2>
            <form on:submit=rename data-testid="rename">
                <TextField label=t("Name the members see") field="name" value=name errors maxlength=60 testid="set-name"/>
                {error_for(errors, "")}
                <button type="submit" data-testid="save-name">{t("Save my name")}</button>
                {move || done.get().then(|| view! { <span class="ok" role="status">{t(" Saved")}</span> })}
            </form>
        </section>
        <Exports handle/>
        <super::reminders::RemindersSettings device/>
        <Language device/>
        <Storage handle device/>
        <Servers handle/>
        <MailboxRelays handle/>
        // Filled again if the configuration arrives while shown (the network came back).
        {move || {
            device.config_version.track();
            view! { <Network device/> }
        }}
    }
}

/// Each signaling server and relay this room uses, and whether it is reachable now (checked
/// every two seconds while shown).
#[component]
fn Servers(handle: Handle) -> impl IntoView {
    let list = every_two_seconds(handle, RoomHandle::transports);
    view! {
        <section class="card">
            <h2>{t("Meeting points")}</h2>
            {move || {
                let servers = list.get();
                if servers.is_empty() {
                    return view! { <p class="hint">{t("No signaling server or relay: devices meet only in this browser's other tabs, through connected members, or by pairing by hand.")}</p> }.into_any();
                }
                view! {
                    <ul class="servers">
                        {servers.into_iter().map(|s| {
                            let kind = if s.nostr { t("Nostr relay") } else { t("signaling server") };
                            let state = if s.up {
                                t("working").to_string()
                            } else if s.failures > 0 {
                                tr!("down ({} failed tries); the room goes on through the others", s.failures)
                            } else {
                                t("connecting…").to_string()
                            };
                            let url = s.url.clone();
                            view! {
                                <li data-testid="server" data-url=url data-up=if s.up { "1" } else { "0" }>
                                    <span class="server-url">{s.url}</span>" · "{kind}" · "<span class=if s.up { "ok" } else { "warn" }>{state}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// The room's mailbox on each relay: when this device last caught up there, and whether the
/// relay is slowing it down, refusing, or dropped for sending garbage (checked every two
/// seconds while shown).
#[component]
fn MailboxRelays(handle: Handle) -> impl IntoView {
    let list = every_two_seconds(handle, RoomHandle::mail_status);
    view! {
        <section class="card">
            <h2>{t("Mailbox on relays")}</h2>
            <p class="hint">{t("What members write is also left, sealed, on the Nostr relays above, so members who are never online at the same time still share the room.")}</p>
            {move || {
                let relays = list.get();
                if relays.is_empty() {
                    return view! { <p class="hint">{t("No Nostr relay: changes travel only while members' devices are online together.")}</p> }.into_any();
                }
                view! {
                    <ul class="servers">
                        {relays.into_iter().map(|r| {
                            let caught_up = match r.caught_up {
                                Some(at) => tr!("caught up {}", super::form::when(at)),
                                None => t("not caught up yet").to_string(),
                            };
                            let trouble = if let Some(until) = r.dropped_until {
                                Some(tr!("dropped until {}: it sent what is not this room's", super::form::when(until)))
                            } else if let Some(until) = r.slowed_until {
                                Some(tr!("asked to slow down: waiting until {}", super::form::when(until)))
                            } else {
                                r.refused.as_ref().map(|why| tr!("refused an event: {}", why))
                            };
                            let queued = (r.queued > 0).then(|| tr!("{} to send", r.queued));
                            let url = r.url.clone();
                            view! {
                                <li data-testid="mail-relay" data-url=url data-caught-up=if r.caught_up.is_some() { "1" } else { "0" }
                                    data-dropped=if r.dropped_until.is_some() { "1" } else { "0" }>
                                    <span class="server-url">{r.url}</span>" · "{caught_up}
                                    {queued.map(|q| view! { " · "{q} })}
                                    {trouble.map(|w| view! { " · "<span class="warn">{w}</span> })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// What `read` says of the open room, read again every two seconds while the component is shown.
fn every_two_seconds<T: Default + Send + Sync + 'static>(
    handle: Handle,
    read: fn(&RoomHandle) -> T,
) -> RwSignal<T> {
    let list = RwSignal::new(handle.get_value().map(|h| read(&h)).unwrap_or_default());
    let tick = gloo_timers::callback::Interval::new(2_000, move || {
        if let Some(h) = handle.try_get_value().flatten() {
            list.try_set(read(&h));
        }
    });
    let tick = StoredValue::new_local(Some(tick));
    on_cleanup(move || {
        if let Some(t) = tick.try_update_value(Option::take).flatten() {
            t.cancel();
        }
    });
    list
}
