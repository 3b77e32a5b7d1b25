//! The room page: name, peers, save state, share link, the section menu and the section shown.

use super::board::Board;
use super::charter::CharterSection;
use super::contributions::ContributionsSection;
use super::decisions::DecisionsSection;
use super::home::HomeSection;
use super::members::MembersSection;
use super::pages::PagesSection;
use super::pot::PotSection;
use super::resources::ResourcesSection;
use super::runtime::RoomHandle;
use super::settings::SettingsSection;
use super::t;
use super::tasks::TasksSection;
use super::{now_ms, Device};
use leptos::prelude::*;

#[component]
pub fn RoomPage(device: Device, id: String, section: Memo<String>) -> impl IntoView {
    let room_id = id.clone();
    let handle = StoredValue::new_local(None::<RoomHandle>);
    let view_signal = RwSignal::new(None::<RwSignal<super::RoomView>>);
    let error = RwSignal::new(None::<String>);
    let store = device.store.get_value();
    let config = device.config.get_value();
    leptos::task::spawn_local(async move {
        let rooms = match store.rooms().await {
            Ok(r) => r,
            Err(e) => return error.set(Some(e.to_string())),
        };
        let Some(mut record) = rooms.into_iter().find(|r| r.id == id) else {
            return error.set(Some(
                t("This room is not on this device. Ask for its link to join it.").into(),
            ));
        };
        record.last_opened = now_ms();
        let _ = store.put_room(&record).await;
        match RoomHandle::open(store, record, config).await {
            Ok(h) => {
                // The configuration may have arrived while the room was opening.
                h.set_config(device.config.get_value());
                view_signal.set(Some(h.view()));
                handle.set_value(Some(h));
            }
            Err(e) => error.set(Some(e)),
        }
    });
    on_cleanup(move || {
        if let Some(h) = handle.try_get_value().flatten() {
            h.close();
        }
    });
    // The device started without a network configuration and it arrived (the network came
    // back): the open room meets where it says, with no reload.
    Effect::new(move |_| {
        device.config_version.track();
        if let Some(h) = handle.try_get_value().flatten() {
            h.set_config(device.config.get_value());
        }
    });

    // Closing the tab or the browser says goodbye to the peers (they see us leave at once,
    // rather than when their connection times out); a page restored from the back-forward
    // cache starts afresh.
    let on_hide = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        if let Some(h) = handle.try_get_value().flatten() {
            h.close();
        }
    });
    let on_show = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(
        move |e: web_sys::Event| {
            let persisted = js_sys::Reflect::get(&e, &"persisted".into())
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if persisted {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().reload();
                }
            }
        },
    );
    if let Some(w) = web_sys::window() {
        use wasm_bindgen::JsCast;
        let _ = w.add_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref());
        let _ = w.add_event_listener_with_callback("pageshow", on_show.as_ref().unchecked_ref());
    }
    let listeners = StoredValue::new_local(Some((on_hide, on_show)));
    on_cleanup(move || {
        if let Some((hide, show)) = listeners.try_update_value(Option::take).flatten() {
            if let Some(w) = web_sys::window() {
                use wasm_bindgen::JsCast;
                let _ = w
                    .remove_event_listener_with_callback("pagehide", hide.as_ref().unchecked_ref());
                let _ = w
                    .remove_event_listener_with_callback("pageshow", show.as_ref().unchecked_ref());
            }
        }
    });

    // Time moves views too (decisions close, posts expire): re-derive twice a minute.
    let tick = gloo_timers::callback::Interval::new(30_000, move || {
        if let Some(v) = view_signal.try_get_untracked().flatten() {
            v.update(|v| v.version += 1);
        }
    });
    let tick = StoredValue::new_local(Some(tick));
    on_cleanup(move || {
        if let Some(t) = tick.try_update_value(Option::take).flatten() {
            t.cancel();
        }
    });

    // A pairing code scanned from another device's screen opens the room at `pair/<code>`:
    // the code is taken (to the pairing panel) and the address goes back to the room.
    let share_open = RwSignal::new(false);
    let incoming = RwSignal::new(None::<String>);
    {
        let home = format!("#/room/{room_id}");
        Effect::new(move |_| {
            if let Some(code) = section.get().strip_prefix("pair/") {
                incoming.set(Some(code.to_owned()));
                share_open.set(true);
                if let Some(w) = web_sys::window() {
                    let _ = w.location().set_hash(&home);
                }
            }
        });
    }
    // Looked at once per page (see `net::webrtc_available`).
    let direct = crate::net::webrtc_available();
    let settings_link = StoredValue::new(format!("#/room/{}/settings", room_id));
    let integrity_link = StoredValue::new(format!("#/room/{}/members", room_id));
    let pair_room = StoredValue::new(room_id.clone());
    let copied = RwSignal::new(false);
    // Whether the phone layout's "More" menu is open.
    let more_open = RwSignal::new(false);
    // The room's members, for naming who is here (read again when the room changes).
    let members = Memo::new(move |_| {
        if let Some(v) = view_signal.get() {
            v.with(|v| v.version);
        }
        handle
            .with_value(|h| h.as_ref().map(|h| h.read(|room, _| room.members())))
            .unwrap_or_default()
    });
    let share_link = move || {
        // Read again when the room changes: the link follows the room's key.
        if let Some(v) = view_signal.get() {
            v.with(|v| v.version);
        }
        let fragment = handle
            .with_value(|h| h.as_ref().map(RoomHandle::link_fragment))
            .unwrap_or_default();
        format!("{}{fragment}", super::form::app_base())
    };
    let copy = move |_| {
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&share_link());
            copied.set(true);
        }
    };

    view! {
        {move || error.get().map(|e| view! {
            <section class="card"><p class="error" role="alert">{e}</p><p><a href="#/">{t("Back to my rooms")}</a></p></section>
        })}
        {move || view_signal.get().map(|v| view! {
            <super::reminders::Reminders handle view=v device room_id=pair_room.get_value()/>
            <section class="room-head">
                <h1 data-testid="room-name">{move || v.get().name.unwrap_or_else(|| t("Waiting for the room…").into())}</h1>
                {move || (v.get().tampered > 0).then(|| view! {
                    <p class="warning" role="status">
                        <a data-testid="tamper-warning" href=integrity_link.get_value()>
                            {tr!("⚠ {} changes to this room were ignored: see Room integrity", v.get().tampered)}
                        </a>
                    </p>
                })}
                // The status keeps its height whatever it says: each line stays one line (cut
                // short if need be; the details hold the rest), so a form below never moves
                // under a finger or a click while peers come and go.
                <div class="status">
                    <details class="peer-details">
                        <summary class="status-line">
                            <span data-testid="peer-count" data-count=move || v.get().peers.to_string()>
                                {move || who_is_here(&here(&v.get().peer_sync, &members.get()))}
                            </span>
                            {move || {
                                let v = v.get();
                                let in_sync = v.peer_sync.iter().filter(|p| p.up_to_date).count();
                                let behind = v.peer_sync.len() - in_sync;
                                (!v.peer_sync.is_empty()).then(|| view! {
                                    " · "
                                    <span data-testid="sync-state" data-in-sync=in_sync.to_string() data-behind=behind.to_string()>
                                        {if behind == 0 { t("everything is shared") } else { t("sharing changes…") }}
                                    </span>
                                })
                            }}
                        </summary>
                        <ul>
                            {move || {
                                let v = v.get();
                                if v.peer_sync.is_empty() {
                                    return view! { <li>{t("No other device of this room is connected right now.")}</li> }.into_any();
                                }
                                let members = members.get();
                                v.peer_sync.iter().map(|p| view! {
                                    <li data-testid="peer" data-up-to-date=p.up_to_date.to_string()>
                                        {tr!("{}'s device: {}", member_name(&members, p.member.as_deref()), if p.up_to_date { t("has everything this device has, and this device has everything it has") } else { t("still exchanging changes") })}
                                        {p.synced_at.map(|at| tr!(" · last in step {}", super::form::when(at)))}
                                    </li>
                                }).collect_view().into_any()
                            }}
                        </ul>
                    </details>
                    <p class="status-line" class:wraps=move || v.get().save_error.is_some()>
                        <span data-testid="save-state" data-state=move || {
                            let v = v.get();
                            if v.save_error.is_some() { "error" } else if v.pending_saves > 0 { "saving" } else { "saved" }
                        }>
                            {move || {
                                let v = v.get();
                                match (v.save_error, v.pending_saves) {
                                    (Some(e), _) => tr!("Not saved: {}", e),
                                    (None, 0) => t("All changes saved on this device").to_string(),
                                    (None, _) => t("Saving…").to_string(),
                                }
                            }}
                        </span>
                        {move || {
                            // Only what the relays said: "sent" once one stored every event of
                            // this device's, "waiting" while any is stored by none.
                            let mail = v.get().mail;
                            let (state, text) = match (mail.relays, mail.reached, mail.waiting) {
                                (0, _, _) | (_, None, 0) => return None,
                                (_, _, w) if w > 0 => ("waiting", t("waiting to reach a relay").to_string()),
                                (_, Some(1), _) => ("sent", t("sent to 1 relay").to_string()),
                                (_, Some(n), _) => ("sent", tr!("sent to {} relays", n)),
                                (_, None, _) => return None,
                            };
                            let count = mail.reached.unwrap_or(0).to_string();
                            Some(view! {
                                " · "<span data-testid="mail-state" data-state=state data-count=count>{text}</span>
                            })
                        }}
                        {move || v.get().save_error.map(|_| view! {
                            <button on:click=move |_| handle.with_value(|h| if let Some(h) = h { h.retry_save() })>{t("Retry saving")}</button>
                        })}
                    </p>
                </div>
                {move || (v.get().cut_off || v.get().replaced).then(|| {
                    let was_member = handle.with_value(|h| {
                        h.as_ref().is_some_and(|h| h.read(|room, me| room.members().iter().any(|m| m.key == me.public())))
                    });
                    view! {
                        <p class="error" role="alert" data-testid="cut-off">
                            {if was_member {
                                t("This device is no longer in the room: its member was removed or left, and the room moved on to a new key. What is here stays; nothing written after reaches this device.")
                            } else {
                                t("This link was replaced: the room moved on to a new key. Ask a member for the new link.")
                            }}
                        </p>
                    }
                })}
                {move || (!direct).then(|| {
                    let relays = v.get().mail.relays > 0;
                    view! {
                        <p class="notice" role="status" data-testid="no-webrtc" data-relays=relays.to_string()>
                            {if relays {
                                t("This browser cannot connect directly to other devices (it has no WebRTC, or it is switched off). Changes still travel through the relays' mailbox, just not live: what others write arrives once their device has sent it to a relay, and what you write reaches them the same way.")
                            } else {
                                t("This browser cannot connect directly to other devices (it has no WebRTC, or it is switched off), and no relays are set up: nothing written on other devices reaches this one, and nothing written here reaches them. Open the room in another browser, or add a Nostr relay in Settings.")
                            }}
                        </p>
                    }
                })}
                {move || {
                    let v = v.get();
                    (direct && v.unreachable > 0 && v.peers == 0).then(|| view! {
                        <p class="notice" role="status" data-testid="cant-connect">
                            {t("Other devices of this room were found, but this device can't connect to them directly. A TURN server can relay the connection: ")}
                            <a href=settings_link.get_value()>{t("add one in Settings")}</a>
                        </p>
                    })
                }}
                <button on:click=move |_| share_open.update(|o| *o = !*o) aria-expanded=move || share_open.get().to_string()>{t("Share")}</button>
                {move || share_open.get().then(|| view! {
                    <div class="share">
                        <label for="share-link">{t("Anyone with this link can read and change the room:")}</label>
                        <textarea id="share-link" data-testid="share-link" readonly rows="3" prop:value=share_link></textarea>
                        <button on:click=copy>{move || if copied.get() { t("Copied") } else { t("Copy link") }}</button>
                        <p class="hint">{t("Or let them scan this code with their phone's camera:")}</p>
                        <super::form::Qr text=share_link() label=t("QR code of the room link") testid="share-qr"/>
                        // Pairing by hand makes a direct connection: not offered without one.
                        {direct.then(|| view! { <super::pairing::Pairing handle room_id=pair_room.get_value() incoming/> })}
                    </div>
                })}
            </section>
            {
                let ready = Memo::new(move |_| v.get().ready);
                let room_id = room_id.clone();
                move || if ready.get() {
                    let room_id = room_id.clone();
                    view! {
                        // On a phone: the sections most used in a bar at the bottom, the rest
                        // behind "More"; on a wide screen all of them in a row.
                        <nav class="sections" class:more-open=move || more_open.get() aria-label=t("Room sections")>
                            {SECTIONS[..PRIMARY].iter().map(|(slug, label)| section_link(&room_id, slug, label, section)).collect_view()}
                            <button type="button" class="more" data-testid="nav-more"
                                aria-expanded=move || more_open.get().to_string() aria-controls="more-sections"
                                class:current=move || SECTIONS[PRIMARY..].iter().any(|(slug, _)| section.get().split('/').next() == Some(*slug))
                                on:click=move |_| more_open.update(|o| *o = !*o)>{t("More")}</button>
                            <div id="more-sections" class="more-sections" on:click=move |_| more_open.set(false)>
                                {SECTIONS[PRIMARY..].iter().map(|(slug, label)| section_link(&room_id, slug, label, section)).collect_view()}
                            </div>
                        </nav>
                        <super::search::RoomSearch handle view=v room_id=room_id.clone()/>
                        {move || {
                            // A section may name one of its items: `things/<id>`.
                            let full = section.get();
                            let (name, item) = full.split_once('/').unwrap_or((full.as_str(), ""));
                            let item = item.to_owned();
                            match name {
                            "board" => view! { <Board handle view=v focus=item room_id=room_id.clone()/> }.into_any(),
                            "members" => view! { <MembersSection handle view=v room_id=room_id.clone() focus=item/> }.into_any(),
                            "decisions" => view! { <DecisionsSection handle view=v focus=item/> }.into_any(),
                            "pot" => view! { <PotSection handle view=v/> }.into_any(),
                            "things" => view! { <ResourcesSection handle view=v room_id=room_id.clone() focus=item/> }.into_any(),
                            "contributions" => view! { <ContributionsSection handle view=v/> }.into_any(),
                            "charter" => view! { <CharterSection handle view=v/> }.into_any(),
                            "tasks" => view! { <TasksSection handle view=v focus=item/> }.into_any(),
                            "pages" => view! { <PagesSection handle view=v focus=item room_id=room_id.clone()/> }.into_any(),
                            "settings" => view! { <SettingsSection handle view=v device/> }.into_any(),
                            _ => view! { <HomeSection handle view=v room_id=room_id.clone()/> }.into_any(),
                        }}}
                    }.into_any()
                } else {
                    let text = match (direct, v.get().mail.relays > 0) {
                        (true, _) => t("This room has not arrived yet. It will appear as soon as another member's device is online."),
                        (false, true) => t("This room has not arrived yet. It will arrive through the relays' mailbox once a member's device has sent it there."),
                        (false, false) => t("This room cannot arrive in this browser: it cannot connect to other devices, and no relays are set up."),
                    };
                    view! { <p class="card" data-testid="waiting">{text}</p> }.into_any()
                }
            }
        })}
    }
}

/// The name of the member a device speaks for ("someone new" before they introduce themselves).
fn member_name(members: &[crate::domain::Member], key: Option<&str>) -> String {
    key.and_then(|k| members.iter().find(|m| m.key == k))
        .map(|m| m.profile.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| t("someone new").to_owned())
}

/// The members whose devices are connected, each once, by name.
fn here(peers: &[crate::replica::PeerState], members: &[crate::domain::Member]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut keys: Vec<Option<&str>> = Vec::new();
    for p in peers {
        let key = p.member.as_deref();
        // Two devices of one member are one person here (a newcomer's each count).
        if key.is_some() && keys.contains(&key) {
            continue;
        }
        keys.push(key);
        names.push(member_name(members, key));
    }
    names
}

/// Who is here, in words: "Ben and Carla are here".
fn who_is_here(names: &[String]) -> String {
    let text: String = match names {
        [] => t("Nobody else is here right now").into(),
        [a] => tr!("{} is here", a),
        [a, b] => tr!("{} and {} are here", a, b),
        [a, b, c] => tr!("{}, {} and {} are here", a, b, c),
        [a, b, rest @ ..] => tr!("{}, {} and {} others are here", a, b, rest.len()),
    };
    // ("someone new is here" starts a sentence.)
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A link to one of the room's sections, marked when it is the one shown.
fn section_link(
    room_id: &str,
    slug: &'static str,
    label: &'static str,
    section: Memo<String>,
) -> impl IntoView {
    let href = format!("#/room/{room_id}/{slug}");
    view! {
        <a href=href data-testid=format!("nav-{}", if slug.is_empty() { "home" } else { slug })
            aria-current=move || (section.get().split('/').next() == Some(slug)).then_some("page")>{t(label)}</a>
    }
}

/// How many of [`SECTIONS`] (the first) a phone shows in its bottom bar.
const PRIMARY: usize = 4;

/// The sections of a room, as (route slug, menu label): the most used first.
const SECTIONS: [(&str, &str); 11] = [
    ("", "Home"),
    ("board", "Needs & offers"),
    ("things", "Shared things"),
    ("decisions", "Decisions"),
    ("tasks", "Tasks"),
    ("pages", "Pages"),
    ("members", "Members"),
    ("pot", "Common pot"),
    ("contributions", "Contributions"),
    ("charter", "Charter"),
    ("settings", "Settings"),
];
