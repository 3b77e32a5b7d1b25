//! Members: introducing myself (a newcomer is pending until vouched for), my standing, pending
//! newcomers that admitted members can vouch for, everyone's profile, and leaving the room.

use super::form::{derived, error_for, run, Handle, TextArea, TextField};
use super::runtime::RoomView;
use super::t;
use crate::domain::{Member, Profile, Standing, TamperKind};

/// A short, stable mark of a member's key, shown beside their name so two "Ana"s can be told
/// apart.
fn fingerprint(key: &str) -> String {
    key.chars().take(8).collect()
}
use leptos::prelude::*;

/// The form a device fills in to introduce itself (or update its profile).
#[component]
pub fn ProfileForm(handle: Handle, view: RwSignal<RoomView>, me: Option<Member>) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let current = me.as_ref().map(|m| m.profile.clone()).unwrap_or_default();
    let name = RwSignal::new(current.name);
    let skills = RwSignal::new(current.skills);
    let bio = RwSignal::new(current.bio);
    let saved = RwSignal::new(false);
    let introducing = me.is_none();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let profile = Profile {
            name: name.get_untracked(),
            skills: skills.get_untracked(),
            bio: bio.get_untracked(),
        };
        let done = run(handle, errors, |room, me, now| {
            room.set_profile(me, profile, now)
        });
        saved.set(done.is_some());
    };
    let writable = Memo::new(move |_| view.with(|v| v.writable));
    view! {
        <form class="profile-form" on:submit=submit data-testid="profile-form">
            <TextField label=t("Your name in this room") field="name" value=name errors maxlength=60 autocomplete="nickname" testid="profile-name"/>
            <TextField label=t("Skills you can share (optional)") field="skills" value=skills errors maxlength=200/>
            <TextArea label=t("A few words about you (optional)") field="bio" value=bio errors rows=2 maxlength=500/>
            {error_for(errors, "")}
            <button type="submit" data-testid="profile-save" disabled=move || !writable.get()>
                {if introducing { t("Introduce me") } else { t("Save my profile") }}
            </button>
            {move || saved.get().then(|| view! { <span class="ok">{t(" Saved.")}</span> })}
        </form>
    }
}

#[component]
pub fn MembersSection(
    handle: Handle,
    view: RwSignal<RoomView>,
    room_id: String,
    /// A member named by the route (`members/<key>`, as search links): highlighted and
    /// scrolled to.
    #[prop(optional)]
    focus: String,
) -> impl IntoView {
    let charter_link = format!("#/room/{room_id}/charter");
    let members = derived(handle, view, |room, _| room.members());
    super::form::scroll_to_focus("member-", focus.clone(), move || {
        members.with(Option::is_some)
    });
    let focus = StoredValue::new(focus);
    let my_key = handle.with_value(|h| h.as_ref().map(|h| h.my_key()).unwrap_or_default());
    let errors = RwSignal::new(None::<(String, String)>);
    let me = {
        let my_key = my_key.clone();
        Memo::new(move |_| {
            members
                .get()
                .unwrap_or_default()
                .into_iter()
                .find(|m| m.key == my_key)
        })
    };
    let admitted = Memo::new(move |_| me.get().is_some_and(|m| m.standing == Standing::Admitted));
    let vouch = move |key: String| {
        run(handle, errors, |room, me, now| room.vouch(me, &key, now));
    };
    let leave = move |_| {
        let sure = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(t(
                    "Leave this room? Your stances and vouches stop counting from now on.",
                ))
                .ok()
            })
            .unwrap_or(false);
        if sure {
            run(handle, errors, |room, me, now| room.leave(me, now));
        }
    };
    let pending = Memo::new(move |_| {
        members
            .get()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| matches!(m.standing, Standing::Pending { .. }))
            .collect::<Vec<_>>()
    });
    let charter = derived(handle, view, |room, _| {
        let c = room.charter(super::now_ms());
        (c.purpose, c.values)
    });
    let integrity = derived(handle, view, |room, _| {
        (
            room.tampering(),
            room.founder_claims(),
            room.late_entries(),
            room.unverified_entries(super::now_ms()),
        )
    });
    let newcomer = Memo::new(move |_| !me.get().is_some_and(|m| m.standing == Standing::Admitted));
    view! {
        {move || newcomer.get().then(|| {
            let (purpose, values) = charter.get().unwrap_or_default();
            view! {
                <section class="card" data-testid="room-purpose">
                    <h2>{t("What this room is for")}</h2>
                    <p data-testid="purpose">{if purpose.is_empty() { t("The members have not written it down yet.").to_string() } else { purpose }}</p>
                    {(!values.is_empty()).then(|| view! { <p><strong>{t("Values: ")}</strong>{values}</p> })}
                    <p><a href=charter_link.clone()>{t("Read the whole charter")}</a></p>
                </section>
            }
        })}
        <section class="card" data-testid="my-standing">
            <h2>{t("You")}</h2>
            {move || match me.get() {
                None => view! {
                    <p data-testid="standing" data-standing="stranger">{t("Introduce yourself so the members can vouch for you.")}</p>
                    <ProfileForm handle view me=None/>
                }.into_any(),
                Some(m) => {
                    let standing = m.standing.clone();
                    let label = super::labels::standing(&standing);
                    let tag = match standing {
                        Standing::Admitted => "admitted",
                        Standing::Pending { .. } => "pending",
                        Standing::Left => "left",
                        Standing::Removed => "removed",
                    };
                    view! {
                        <p data-testid="standing" data-standing=tag>
                            {format!("{} — {label}", m.profile.name)}
                        </p>
                        {matches!(standing, Standing::Pending { .. }).then(|| view! {
                            <p class="hint">{t("You can read everything and post needs and offers. Once enough members vouch for you, you can take part in decisions, the pot and the rest.")}</p>
                        })}
                        <details>
                            <summary>{t("Edit my profile")}</summary>
                            <ProfileForm handle view me=Some(m.clone())/>
                        </details>
                        {(standing == Standing::Admitted).then(|| view! {
                            <button class="danger" data-testid="leave" on:click=leave>{t("Leave this room")}</button>
                        })}
                    }.into_any()
                }
            }}
            {error_for(errors, "")}
        </section>
        {move || (!pending.get().is_empty()).then(|| view! {
            <section class="card" data-testid="pending">
                <h2>{t("Waiting to be vouched for")}</h2>
                <ul class="members">
                    {pending.get().into_iter().map(|m| {
                        let key = m.key.clone();
                        let label = super::labels::standing(&m.standing);
                        view! {
                            <li data-testid="pending-member" data-name=m.profile.name.clone()>
                                <strong>{m.profile.name.clone()}</strong>" "<code class="fp" title=t("Key fingerprint")>{fingerprint(&m.key)}</code>" "<span class="muted">{label}</span>
                                {(!m.profile.skills.is_empty()).then(|| view! { <p>{tr!("Skills: {}", m.profile.skills)}</p> })}
                                {(!m.profile.bio.is_empty()).then(|| view! { <p>{m.profile.bio.clone()}</p> })}
                                {move || admitted.get().then(|| {
                                    let key = key.clone();
                                    view! { <button data-testid="vouch" on:click=move |_| vouch(key.clone())>{t("Vouch")}</button> }
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        })}
        <section class="card">
            <h2>{t("Members")}</h2>
            <ul class="members" data-testid="member-list">
                {move || members.get().unwrap_or_default().into_iter()
                    .filter(|m| !matches!(m.standing, Standing::Pending { .. }))
                    .map(|m| view! {
                        <li data-testid="member" data-name=m.profile.name.clone() id=format!("member-{}", m.key)
                            class:focused=focus.with_value(|f| *f == m.key) data-focused=focus.with_value(|f| *f == m.key).to_string()>
                            <strong>{m.profile.name.clone()}</strong>
                            " "<code class="fp" data-testid="fingerprint" title=t("Key fingerprint")>{fingerprint(&m.key)}</code>
                            " "<span class="muted">{super::labels::standing(&m.standing)}{m.founder.then(|| t(" · founder"))}</span>
                            {(!m.profile.skills.is_empty()).then(|| view! { <p>{tr!("Skills: {}", m.profile.skills)}</p> })}
                        </li>
                    }).collect_view()}
            </ul>
        </section>
        <section class="card" id="integrity" data-testid="integrity">
            <h2>{t("Room integrity")}</h2>
            {move || {
                let (tampering, claims, late, unverified) = integrity.get().unwrap_or_default();
                let unverified_list = (!unverified.is_empty()).then(|| view! {
                    <p>{t("Entries whose signature does not hold (forged, or altered): they count for nothing.")}</p>
                    <ul data-testid="unverified-list">
                        {unverified.into_iter().map(|key| view! {
                            <li data-testid="unverified-item" data-key=key.clone()><code>{key.clone()}</code></li>
                        }).collect_view()}
                    </ul>
                });
                let late_list = (!late.is_empty()).then(|| view! {
                    <p>{t("Entries that reached this device long after the time they claim (kept back, or dated in the past):")}</p>
                    <ul data-testid="late-list">
                        {late.into_iter().map(|(key, at, seen)| view! {
                            <li data-testid="late-item" data-key=key.clone()>
                                <code>{key.clone()}</code>" — "{tr!("arrived {} days after its date", (seen - at) / 86_400_000)}
                            </li>
                        }).collect_view()}
                    </ul>
                });
                if tampering.is_empty() && claims.len() <= 1 {
                    if unverified_list.is_none() {
                        return view! { <p data-testid="integrity-clean">{t("Nothing in this room's history was deleted, overwritten or forged.")}</p> {late_list} }.into_any();
                    }
                    return view! { {unverified_list} {late_list} }.into_any();
                }
                view! {
                    <p>{t("Someone with the room link wrote changes the room's rules ignore. Every entry still counts as its author signed it; these attempts changed nothing:")}</p>
                    <ul data-testid="tamper-list">
                        {(claims.len() > 1).then(|| view! {
                            <li data-testid="tamper-item">{tr!("{} keys claim to have founded this room; only the founder this device trusts counts", claims.len())}</li>
                        })}
                        {tampering.into_iter().map(|x| {
                            let what = match &x.kind {
                                TamperKind::Deleted => t("deleted").to_string(),
                                TamperKind::Overwritten => t("overwritten").to_string(),
                                TamperKind::Altered { field } => tr!("field “{}” changed", field),
                                TamperKind::Replayed => t("copied into another place in the history").to_string(),
                            };
                            let when = (x.claimed_at > 0).then(|| format!(" · {}", crate::domain::iso_time(x.claimed_at)));
                            view! {
                                <li data-testid="tamper-item" data-key=x.key.clone()>
                                    <code>{x.key.clone()}</code>" — "{what}
                                    <span class="muted">{format!(" ({}", x.change.chars().take(12).collect::<String>())}{when}")"</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    {unverified_list}
                    {late_list}
                }.into_any()
            }}
        </section>
    }
}
