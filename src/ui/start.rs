//! The start page (my rooms, create with a starter charter, join by pasting a link, restore a
//! backup) and the join route.

use super::form::{TextArea, TextField};
use super::t;
use super::{go, now_ms, Device};
use crate::crypto::{parse_join_link, Identity, RoomSecret};
use crate::domain::{starter_charter, Profile, RoomDoc, TEMPLATES};
use crate::store::RoomRecord;
use leptos::prelude::*;

#[component]
pub fn StartPage(device: Device) -> impl IntoView {
    let rooms = RwSignal::new(None::<Result<Vec<RoomRecord>, String>>);
    let damaged = RwSignal::new(0usize);
    let store = device.store.get_value();
    leptos::task::spawn_local(async move {
        let listed = store.rooms_and_damage().await.map_err(|e| e.to_string());
        if let Ok((_, n)) = &listed {
            damaged.set(*n);
        }
        rooms.set(Some(listed.map(|(list, _)| list)));
    });

    let new_name = RwSignal::new(String::new());
    let purpose = RwSignal::new(String::new());
    let template = RwSignal::new(String::new());
    let my_name = RwSignal::new(String::new());
    // What was refused, by field ("name": the room's, "my-name": the founder's).
    let create_errors = RwSignal::new(None::<(String, String)>);
    // What was refused goes once the person types again.
    Effect::new(move |_| {
        new_name.track();
        my_name.track();
        create_errors.set(None);
    });
    let creating = RwSignal::new(false);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if creating.get_untracked() {
            return;
        }
        let now = now_ms();
        let secret = RoomSecret::generate();
        let mut room = match RoomDoc::create(&secret.room_id(), &new_name.get_untracked(), now) {
            Ok(room) => room,
            Err(e) => {
                return create_errors.set(Some(("name".into(), super::form::field_error(e).1)))
            }
        };
        // The creator founds the room: its first admitted member, under the name they chose.
        let me = Identity::generate();
        let profile = Profile {
            name: my_name.get_untracked(),
            ..Profile::default()
        };
        // The template's values are written in the creator's language: they become the room's own.
        let starter: Vec<_> = starter_charter(&template.get_untracked(), &purpose.get_untracked())
            .into_iter()
            .map(|mut a| {
                if a.key == "values" {
                    a.value = crate::i18n::lookup_dyn(super::lang(), &a.value);
                }
                a
            })
            .collect();
        if let Err(e) = room.found_with_charter(&me, profile, &starter, now) {
            return create_errors.set(Some(("my-name".into(), super::form::field_error(e).1)));
        }
        creating.set(true);
        let record = RoomRecord {
            id: secret.room_id(),
            name: room.name().unwrap_or_default(),
            secret: secret.to_base64url(),
            joined_at: now,
            last_opened: now,
            identity: me.secret(),
            founder: me.public(),
            ..RoomRecord::default()
        };
        let store = device.store.get_value();
        leptos::task::spawn_local(async move {
            let bytes = room.take_unsaved();
            let saved = match store.append_chunk(&record.id, &bytes).await {
                Ok(_) => store.put_room(&record).await,
                Err(e) => Err(e),
            };
            creating.set(false);
            match saved {
                Ok(()) => go(&format!("/room/{}", record.id)),
                Err(e) => create_errors.set(Some((
                    "name".into(),
                    tr!("The room was not created: {}", e),
                ))),
            }
        });
    };

    let link = RwSignal::new(String::new());
    let join_errors = RwSignal::new(None::<(String, String)>);
    Effect::new(move |_| {
        link.track();
        join_errors.set(None);
    });
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match parse_join_link(&link.get_untracked()) {
            Ok(link) => {
                // Pasted and joined here by the person: the join page need not ask again.
                CHOSEN.with(|c| c.replace(Some(link.room_id())));
                let fragment = crate::crypto::join_fragment(
                    &link.secret,
                    link.founder.as_deref(),
                    &link.room_id(),
                );
                go(&fragment[1..])
            }
            Err(e) => join_errors.set(Some((
                "link".into(),
                tr!("That link does not work: {}.", e),
            ))),
        }
    };

    let import_note = RwSignal::new(None::<Result<String, String>>);
    let key_offer = RwSignal::new(None::<KeyOffer>);
    let import = move |ev: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        input.set_value("");
        let store = device.store.get_value();
        leptos::task::spawn_local(async move {
            key_offer.set(None);
            let result = import_backup(&store, &file).await;
            import_note.set(Some(result.clone().map(|(note, _)| note)));
            key_offer.set(result.ok().and_then(|(_, offer)| offer));
            rooms.set(Some(store.rooms().await.map_err(|e| e.to_string())));
        });
    };

    view! {
        <section class="card">
            <h1>{t("My rooms")}</h1>
            {move || (damaged.get() > 0).then(|| view! {
                <p class="error" role="alert" data-testid="damaged-rooms">
                    {tr!("{} saved rooms on this device could not be read. They are kept as they are; a backup restores them.", damaged.get())}
                </p>
            })}
            {move || match rooms.get() {
                None => view! { <p>{t("Loading…")}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => {
                    view! { <p data-testid="no-rooms">{t("No rooms on this device yet. Create one, or join with a link someone shared.")}</p> }.into_any()
                }
                Some(Ok(list)) => view! {
                    <ul class="rooms" data-testid="room-list">
                        {list.into_iter().map(|r| {
                            let meta = match (r.members, r.last_activity) {
                                (0, _) => t("Not opened yet on this device").to_string(),
                                (n, at) => {
                                    let last = if at > 0 { super::form::when(at) } else { t("none yet").into() };
                                    if n == 1 { tr!("1 member · last activity {}", last) } else { tr!("{} members · last activity {}", n, last) }
                                }
                            };
                            view! {
                                <li data-testid="room-entry" data-name=r.name.clone() data-unread=r.unread.to_string()>
                                    <a href=format!("#/room/{}", r.id) data-testid="room-link">{r.name.clone()}</a>
                                    {(r.unread > 0).then(|| view! { <span class="unread-count" data-testid="unread">{tr!("{} new", r.unread)}</span> })}
                                    <span class="room-meta" data-testid="room-meta">{meta}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
        <section class="card">
            <h2>{t("Create a room")}</h2>
            <form on:submit=create>
                <TextField label=t("Room name") field="name" value=new_name errors=create_errors maxlength=80
                    placeholder=t("e.g. Elm Street tool library")/>
                <TextField label=t("Your name in this room") field="my-name" value=my_name errors=create_errors maxlength=60 autocomplete="nickname"/>
                <TextArea label=t("What the room is for (optional; it opens the charter)") field="purpose" value=purpose errors=create_errors rows=2 maxlength=2000 testid="room-purpose"/>
                <fieldset class="templates">
                    <legend>{t("Starting rules")}</legend>
                    <label class="check">
                        <input type="radio" name="template" value="" data-testid="template-none"
                            prop:checked=move || template.get().is_empty() on:change=move |_| template.set(String::new())/>
                        {t("Plain defaults (consent decisions, two approvals per expense)")}
                    </label>
                    {TEMPLATES.iter().map(|tpl| view! {
                        <label class="check">
                            <input type="radio" name="template" value=tpl.id data-testid=format!("template-{}", tpl.id)
                                prop:checked=move || template.get() == tpl.id on:change=move |_| template.set(tpl.id.to_owned())/>
                            <strong>{t(tpl.name)}</strong>" — "{t(tpl.about)}
                        </label>
                    }).collect_view()}
                </fieldset>
                <button type="submit" disabled=move || creating.get()>{t("Create a room")}</button>
            </form>
        </section>
        <section class="card">
            <h2>{t("Join a room")}</h2>
            <form on:submit=join>
                <TextField label=t("Room link") field="link" value=link errors=join_errors placeholder="https://…/#/join/…"/>
                <button type="submit">{t("Join")}</button>
            </form>
        </section>
        <section class="card">
            <h2>{t("Restore a backup")}</h2>
            <label for="import-file">{t("A room backup file (made in a room's Settings). It is merged with what this device has; nothing is overwritten.")}</label>
            <input id="import-file" type="file" data-testid="import-file" accept=".json,application/json" on:change=import/>
            {move || import_note.get().map(|r| match r {
                Ok(m) => view! { <p class="ok" role="status" data-testid="import-done">{m}</p> }.into_any(),
                Err(e) => view! { <p class="field-error" role="alert" data-testid="import-error">{e}</p> }.into_any(),
            })}
            {move || key_offer.get().map(|offer| {
                let use_key = move |_| {
                    let offer = offer.clone();
                    let store = device.store.get_value();
                    leptos::task::spawn_local(async move {
                        key_offer.set(None);
                        import_note.set(Some(match store.use_identity(&offer.room_id, &offer.identity).await {
                            Ok(()) => Ok(tr!("This device now takes part in the room as {}.", offer.name)),
                            Err(e) => Err(tr!("The key was not changed: {}", e)),
                        }));
                    });
                };
                view! {
                    <p class="notice" data-testid="key-offer">
                        {tr!("This device has its own key in this room, which is not a member's; the backup's key is {}'s. Use it here to take part as {}? (This device's own key is then no longer used.)", key_offer.get().map(|o| o.name).unwrap_or_default(), key_offer.get().map(|o| o.name).unwrap_or_default())}
                    </p>
                    <button type="button" data-testid="use-backup-key" on:click=use_key>{t("Use the backup's key")}</button>
                }
            })}
        </section>
    }
}

/// After a restore: the backup's member key, which the person may choose to use on this
/// device instead of its own (the backup's is a member of the room, this device's is not).
#[derive(Debug, Clone)]
struct KeyOffer {
    room_id: String,
    identity: String,
    name: String,
}

/// Reads a backup file and brings its room onto this device; says what happened.
async fn import_backup(
    store: &crate::store::Store,
    file: &web_sys::File,
) -> Result<(String, Option<KeyOffer>), String> {
    use crate::domain::{Backup, MAX_BACKUP_BYTES};
    if file.size() > MAX_BACKUP_BYTES as f64 {
        return Err(tr!(
            "That file is too big to be a room backup (at most {} MB).",
            MAX_BACKUP_BYTES / (1024 * 1024)
        ));
    }
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or(t("The file could not be read."))?;
    let (backup, room) = Backup::from_json(text.as_bytes()).map_err(|e| match e {
        crate::domain::DomainError::Invalid { problem, .. } => {
            tr!(
                "That file {}.",
                crate::i18n::lookup_dyn(super::lang(), &problem)
            )
        }
        other => other.to_string(),
    })?;
    match store.import(&backup, now_ms()).await {
        Ok(done) if done.merged => {
            // Never switched silently: offered when the backup's key is a member's and this
            // device's own is not.
            let admitted = room.admitted();
            let theirs = Identity::from_secret(&backup.identity).map(|k| k.public());
            let offer = match (done.kept_own_key, theirs) {
                (Some(own), Some(theirs))
                    if admitted.contains(&theirs) && !admitted.contains(&own) =>
                {
                    let name = room
                        .members()
                        .into_iter()
                        .find(|m| m.key == theirs)
                        .map(|m| m.profile.name)
                        .unwrap_or_default();
                    Some(KeyOffer {
                        room_id: backup.room_id.clone(),
                        identity: backup.identity.clone(),
                        name,
                    })
                }
                _ => None,
            };
            Ok((
                tr!(
                    "Merged the backup into “{}”: everything already here was kept.",
                    backup.name
                ),
                offer,
            ))
        }
        Ok(_) => Ok((tr!("Restored “{}” on this device.", backup.name), None)),
        Err(e) => Err(tr!("The backup was not stored: {}", e)),
    }
}

thread_local! {
    /// The room a person just chose to join on the start page (by pasting its link).
    static CHOSEN: std::cell::Cell<Option<String>> = const { std::cell::Cell::new(None) };
}

/// `#/join/<secret>`: adds the room to this device (once, after asking: the link may come from
/// anywhere — another site, a page in a room) and opens it; a bad link creates nothing.
#[component]
pub fn JoinPage(device: Device, raw: String) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    // A room not on this device yet: what joining it would add, once the person says so.
    let asking = RwSignal::new(None::<RoomRecord>);
    let store = StoredValue::new_local(device.store.get_value());
    let open = move |id: String| {
        // Replace the join link in history so "back" does not re-join.
        if let Some(w) = web_sys::window() {
            let _ = w.location().replace(&format!("#/room/{id}"));
        }
    };
    match parse_join_link(&raw) {
        Err(e) => error.set(Some(tr!("This room link does not work: {}.", e))),
        Ok(link) => {
            let id = link.room_id();
            let (secret, pin) = (link.secret, link.founder.unwrap_or_default());
            let store = store.get_value();
            leptos::task::spawn_local(async move {
                let known = match store.rooms().await {
                    Ok(rooms) => rooms.into_iter().find(|r| r.id == id),
                    Err(e) => return error.set(Some(e.to_string())),
                };
                let Some(mut record) = known else {
                    let now = now_ms();
                    let record = RoomRecord {
                        id: id.clone(),
                        name: t("Joining room…").into(),
                        secret: secret.to_base64url(),
                        joined_at: now,
                        last_opened: now,
                        identity: Identity::generate().secret(),
                        founder: pin,
                        ..RoomRecord::default()
                    };
                    if CHOSEN.with(|c| c.take()).as_deref() == Some(id.as_str()) {
                        return match store.put_room(&record).await {
                            Ok(()) => open(id),
                            Err(e) => error.set(Some(tr!("The room could not be added: {}", e))),
                        };
                    }
                    return asking.set(Some(record));
                };
                // A link with the founder's mark pins a room joined before by one without.
                if record.founder.is_empty() && !pin.is_empty() {
                    record.founder = pin;
                    if let Err(e) = store.put_room(&record).await {
                        return error.set(Some(tr!("The room could not be added: {}", e)));
                    }
                }
                open(id);
            });
        }
    }
    let join = move |_| {
        let Some(record) = asking.get_untracked() else {
            return;
        };
        let store = store.get_value();
        leptos::task::spawn_local(async move {
            match store.put_room(&record).await {
                Ok(()) => open(record.id),
                Err(e) => error.set(Some(tr!("The room could not be added: {}", e))),
            }
        });
    };
    view! {
        <section class="card">
            {move || match error.get() {
                Some(e) => view! {
                    <h1>{t("Cannot join")}</h1>
                    <p class="error" role="alert" data-testid="join-error">{e}</p>
                    <p><a href="#/">{t("Back to my rooms")}</a></p>
                }.into_any(),
                None if asking.get().is_some() => view! {
                    <h1>{t("Join this room?")}</h1>
                    <p>{t("This link adds a room to this device and connects it to the devices of the people in it, who will see this device's network address. Join only if you know who sent you the link.")}</p>
                    <div class="actions">
                        <button type="button" data-testid="join-confirm" on:click=join>{t("Join the room")}</button>
                        <a href="#/" data-testid="join-cancel">{t("Not now")}</a>
                    </div>
                }.into_any(),
                None => view! { <p>{t("Joining…")}</p> }.into_any(),
            }}
        </section>
    }
}
