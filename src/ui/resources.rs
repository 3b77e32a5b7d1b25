//! Shared resources: the registry (steward, licence, rules, condition, location), bookings from a
//! date and time to another (conflicts shown; a booking's member may cancel it), and lending
//! (hand over, return) with condition notes, kept as the thing's loan history. The steward hands
//! a thing over (asked first when that falls in someone else's booking); its holder or steward
//! records its return.

use super::form::{
    app_base, derived, error_for, field_error, local_time, locale, name_of, run, when,
    DateTimeField, Handle, Qr, RadioField, SelectField, TextArea, TextField,
};
use super::now_ms;
use super::reminders::{booking_event, loan_event, AddToCalendar};
use super::runtime::RoomView;
use super::t;
use crate::domain::{Booking, Loan, Member, NewResource, ResourceView, LICENCES};
use leptos::prelude::*;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a member is typing for one thing (booking times, a condition note), kept outside the
/// thing's item: the list is drawn again on every change to the room, and what was typed must
/// survive a peer's change arriving meanwhile.
#[derive(Clone)]
struct Draft {
    from: ArcRwSignal<String>,
    to: ArcRwSignal<String>,
    note: ArcRwSignal<String>,
}

impl Draft {
    fn new() -> Self {
        Draft {
            from: ArcRwSignal::new(String::new()),
            to: ArcRwSignal::new(String::new()),
            note: ArcRwSignal::new(String::new()),
        }
    }
}

/// A booking's span: "1 Dec 2026, 10:00 – 1 Dec 2026, 12:00". One made before bookings had
/// times (whole days, from midnight UTC to midnight UTC) reads as its days.
fn span(b: &Booking) -> String {
    if b.start.rem_euclid(DAY_MS) == 0 && b.end.rem_euclid(DAY_MS) == 0 {
        let utc_day = |ms: i64| {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
            let opts = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&opts, &"dateStyle".into(), &"medium".into());
            let _ = js_sys::Reflect::set(&opts, &"timeZone".into(), &"UTC".into());
            date.to_locale_date_string(&locale(), &opts)
                .as_string()
                .unwrap_or_default()
        };
        return format!("{} – {}", utc_day(b.start), utc_day(b.end - DAY_MS));
    }
    format!("{} – {}", when(b.start), when(b.end))
}

/// A condition note as written, or that none was.
fn note_text(note: &str) -> String {
    if note.trim().is_empty() {
        t("(no note)").to_owned()
    } else {
        format!("“{note}”")
    }
}

/// One loan in the history: who had it, from when and until when, with both condition notes.
fn loan_item(loan: Loan, members: &[Member]) -> impl IntoView {
    let out = tr!(
        "Lent to {} by {}, {}",
        name_of(members, &loan.to),
        name_of(members, &loan.handed_over_by),
        when(loan.handed_over_at)
    );
    let back = match &loan.returned {
        Some((by, at, _)) => tr!(
            "Returned, recorded by {}, {}",
            name_of(members, by),
            when(*at)
        ),
        None => t("Not returned yet").to_owned(),
    };
    view! {
        <li data-testid="loan">
            <p>{out}</p>
            <p data-testid="handover-note">{tr!("Condition at hand-over: {}", note_text(&loan.handover_note))}</p>
            <p>{back}</p>
            {loan.returned.map(|(_, _, note)| view! {
                <p data-testid="return-note">{tr!("Condition at return: {}", note_text(&note))}</p>
            })}
        </li>
    }
}

#[component]
fn ResourceItem(
    handle: Handle,
    r: ResourceView,
    members: Vec<crate::domain::Member>,
    admitted: Vec<String>,
    /// This device's member key.
    me: String,
    /// The link that opens this thing in the room (for its QR code).
    link: String,
    /// Opened through that link: shown highlighted and scrolled to.
    focused: bool,
    draft: Draft,
) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let show_qr = RwSignal::new(false);
    let item = NodeRef::<leptos::html::Li>::new();
    if focused {
        Effect::new(move |_| {
            if let Some(el) = item.get() {
                el.scroll_into_view();
            }
        });
    }
    let id = StoredValue::new(r.id.clone());
    let cancel = move |booking: String| {
        run(handle, errors, |room, me, now| {
            room.cancel_booking(me, &booking, now)
        });
    };
    let from = RwSignal::from(draft.from);
    let to = RwSignal::from(draft.to);
    let lend_to = RwSignal::new(admitted.first().cloned().unwrap_or_default());
    let due_days = RwSignal::new("7".to_string());
    let note = RwSignal::from(draft.note);
    let book = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (start, end) = match (
            local_time(&from.get_untracked(), "start"),
            local_time(&to.get_untracked(), "end"),
        ) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => return errors.set(Some(field_error(e))),
        };
        let id = id.get_value();
        if run(handle, errors, |room, me, _| room.book(me, &id, start, end)).is_some() {
            from.set(String::new());
            to.set(String::new());
        }
    };
    // A hand-over that falls in someone else's booking waits here, with what it overlaps,
    // until the steward says to go ahead anyway.
    let pending = RwSignal::new(None::<(String, Option<i64>, String)>);
    let lend = move |who: String, due: Option<i64>, override_booking: bool| {
        let note_text = note.get_untracked();
        let id = id.get_value();
        if run(handle, errors, |room, me, now| {
            room.transfer_custody(me, &id, Some(&who), due, &note_text, now, override_booking)
        })
        .is_some()
        {
            note.set(String::new());
            pending.set(None);
        }
    };
    let members_for_prompt = StoredValue::new(members.clone());
    let hand_over = move |_| {
        let who = lend_to.get_untracked();
        let now = now_ms();
        let due = due_days
            .get_untracked()
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|d| *d > 0)
            .map(|d| now + d * DAY_MS);
        let id = id.get_value();
        let conflicts = handle
            .with_value(|h| {
                h.as_ref().map(|h| {
                    h.read(|room, _| {
                        room.resource(&id)
                            .map(|r| r.conflicts_for(&who, now, due))
                            .unwrap_or_default()
                    })
                })
            })
            .unwrap_or_default();
        if conflicts.is_empty() {
            lend(who, due, false);
            return;
        }
        let members = members_for_prompt.get_value();
        let list = conflicts
            .iter()
            .map(|b| format!("{} ({})", name_of(&members, &b.member), span(b)))
            .collect::<Vec<_>>()
            .join(", ");
        pending.set(Some((who, due, list)));
    };
    let give_back = move |_| {
        let note_text = note.get_untracked();
        let id = id.get_value();
        if run(handle, errors, |room, me, now| {
            room.transfer_custody(me, &id, None, None, &note_text, now, false)
        })
        .is_some()
        {
            note.set(String::new());
        }
    };
    let name_for_qr = StoredValue::new(r.resource.name.clone());
    let now = now_ms();
    let lent = r.holder.is_some();
    let steward = r.steward == me;
    let holder = r.holder.as_deref() == Some(me.as_str());
    let physical = r.resource.kind == "physical";
    let loans = r.loans();
    view! {
        <li class="resource" class:focused=focused node_ref=item data-testid="resource" data-name=r.resource.name.clone()
            data-focused=focused.to_string()
            data-holder=r.holder.as_deref().map(|h| name_of(&members, h)).unwrap_or_default()>
            <h3>{r.resource.name.clone()}</h3>
            <p class="muted">{tr!("{} · steward {} · {}", super::labels::resource_kind(&r.resource.kind), name_of(&members, &r.steward), super::labels::licence(&r.resource.licence))}</p>
            {(!r.resource.location.is_empty()).then(|| view! { <p>{tr!("Where: {}", r.resource.location)}</p> })}
            {(!r.resource.condition.is_empty()).then(|| view! { <p>{tr!("Condition: {}", r.resource.condition)}</p> })}
            {(!r.resource.rules.is_empty()).then(|| view! { <p>{tr!("Rules: {}", r.resource.rules)}</p> })}
            <p data-testid="holder">{match &r.holder {
                Some(h) => tr!("With {}{}{}", name_of(&members, h), r.due.map(|d| tr!(", due back {}", when(d))).unwrap_or_default(), if r.overdue(now) { t(" — overdue") } else { "" }),
                None => t("Available").to_string(),
            }}
                {(holder || steward).then(|| loan_event(&r).map(|e| view! { <AddToCalendar event=e name=r.resource.name.clone()/> }))}
            </p>
            {(!r.bookings.is_empty()).then(|| view! {
                <ul class="bookings">
                    {r.bookings.iter().map(|b| {
                        let booking = b.id.clone();
                        view! {
                        <li data-testid="booking" data-conflict=(!b.conflicts_with.is_empty()).to_string()>
                            {format!("{} · {}", span(b), name_of(&members, &b.member))}
                            {(!b.conflicts_with.is_empty()).then(|| view! { <strong class="error">{t(" overlaps another booking")}</strong> })}
                            {(b.member == me || steward).then(|| view! { <AddToCalendar event=booking_event(&r, b) name=r.resource.name.clone()/> })}
                            {(b.member == me).then(|| view! {
                                <button class="secondary" data-testid="cancel-booking" on:click=move |_| cancel(booking.clone())>{t("Cancel this booking")}</button>
                            })}
                        </li>
                    }}).collect_view()}
                </ul>
            })}
            {physical.then(|| view! {
                <form class="book" on:submit=book novalidate>
                    <DateTimeField label=t("Booked from (date and time)") field="start" value=from errors testid="book-from"/>
                    <DateTimeField label=t("Until (date and time)") field="end" value=to errors testid="book-to"/>
                    <button type="submit" data-testid="book">{t("Book")}</button>
                </form>
            })}
            {error_for(errors, "booking")}
            {(steward || holder).then(|| view! {
                <TextField label=t("Condition note") field="note" value=note errors maxlength=500 testid="custody-note"/>
            })}
            {if lent {
                (holder || steward).then(|| view! {
                    <button data-testid="return" on:click=give_back>{t("Record its return")}</button>
                }).into_any()
            } else if steward {
                view! {
                    <label class="inline">{t("Lend to")}<select data-testid="lend-to" on:change=move |ev| { lend_to.set(event_target_value(&ev)); pending.set(None); }>
                        {admitted.iter().map(|k| view! { <option value=k.clone()>{name_of(&members, k)}</option> }).collect_view()}
                    </select></label>
                    <TextField label=t("for (days)") field="due" value=due_days errors inputmode="numeric"/>
                    <button data-testid="hand-over" on:click=hand_over>{t("Hand over")}</button>
                    {move || pending.get().map(|(who, due, list)| view! {
                        <div class="card error" role="alertdialog" data-testid="booking-conflict">
                            <p>{tr!("This falls in someone else's booking: {}. Hand it over anyway?", list)}</p>
                            <button data-testid="hand-over-anyway" on:click=move |_| lend(who.clone(), due, true)>{t("Hand over anyway")}</button>
                            <button class="secondary" on:click=move |_| pending.set(None)>{t("Cancel")}</button>
                        </div>
                    })}
                }.into_any()
            } else {
                ().into_any()
            }}
            {error_for(errors, "holder")}
            {error_for(errors, "note")}
            {error_for(errors, "")}
            {(!loans.is_empty()).then(|| view! {
                <h4>{t("Loan history")}</h4>
                <ol class="loans" data-testid="loan-history">
                    {loans.into_iter().map(|l| loan_item(l, &members)).collect_view()}
                </ol>
            })}
            <button class="secondary" data-testid="show-qr" aria-expanded=move || show_qr.get().to_string()
                on:click=move |_| show_qr.update(|s| *s = !*s)>{t("QR code for a label")}</button>
            {move || show_qr.get().then(|| {
                let link = link.clone();
                view! {
                    <p class="hint">{t("Print it and stick it on the thing: members who scan it land here to book or borrow it.")}</p>
                    <Qr text=link label=tr!("QR code that opens {}", name_for_qr.get_value()) testid="resource-qr"/>
                }
            })}
        </li>
    }
}

#[component]
pub fn ResourcesSection(
    handle: Handle,
    view: RwSignal<RoomView>,
    room_id: String,
    /// A thing to show first (opened from its QR code); empty for none.
    focus: String,
) -> impl IntoView {
    let base = format!("{}#/room/{room_id}/things/", app_base());
    let data = derived(handle, view, |room, me| {
        let admitted: Vec<String> = room.admitted().into_iter().collect();
        let mine = admitted.contains(&me.public());
        (
            room.resources(),
            room.members(),
            admitted,
            mine,
            me.public(),
        )
    });
    let errors = RwSignal::new(None::<(String, String)>);
    let drafts = StoredValue::new(std::collections::HashMap::<String, Draft>::new());
    let kind = RwSignal::new("physical".to_string());
    let name = RwSignal::new(String::new());
    let location = RwSignal::new(String::new());
    let condition = RwSignal::new(String::new());
    let rules = RwSignal::new(String::new());
    let licence = RwSignal::new(LICENCES[0].to_string());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let r = NewResource {
            kind: kind.get_untracked(),
            name: name.get_untracked(),
            rules: rules.get_untracked(),
            condition: condition.get_untracked(),
            location: location.get_untracked(),
            licence: licence.get_untracked(),
        };
        if run(handle, errors, |room, me, now| {
            room.add_resource(me, r, now)
        })
        .is_some()
        {
            name.set(String::new());
        }
    };
    view! {
        <section class="card">
            <h2>{t("Shared things")}</h2>
            <ul class="resources" data-testid="resource-list">
                {move || {
                    let (list, members, admitted, _, me) = data.get().unwrap_or_default();
                    if list.is_empty() {
                        return view! { <li>{t("Nothing shared yet.")}</li> }.into_any();
                    }
                    list.into_iter().map(|r| {
                        let link = format!("{base}{}", r.id);
                        let focused = r.id == focus;
                        let mut draft = None;
                        drafts.update_value(|d| {
                            draft = Some(d.entry(r.id.clone()).or_insert_with(Draft::new).clone());
                        });
                        let draft = draft.unwrap_or_else(Draft::new);
                        view! { <ResourceItem handle r members=members.clone() admitted=admitted.clone() me=me.clone() link focused draft/> }
                    }).collect_view().into_any()
                }}
            </ul>
        </section>
        {move || data.get().is_some_and(|d| d.3).then(|| view! {
            <section class="card">
                <h2>{t("Share something")}</h2>
                <form on:submit=add data-testid="add-resource">
                    <RadioField label=t("Kind") field="kind" value=kind errors options=resource_kinds() testid="resource-kind"/>
                    <TextField label=t("Name") field="name" value=name errors maxlength=100 testid="resource-name"/>
                    <TextField label=t("Where it is") field="location" value=location errors/>
                    <TextField label=t("Condition") field="condition" value=condition errors/>
                    <TextArea label=t("How to use it") field="rules" value=rules errors rows=2/>
                    <SelectField label=t("Licence") field="licence" value=licence errors
                        options=licences()/>
                    {error_for(errors, "")}
                    <button type="submit" data-testid="add-resource-submit">{t("Share it")}</button>
                </form>
            </section>
        })}
    }
}

/// What can be shared, as choices.
fn resource_kinds() -> Vec<(String, String)> {
    [
        ("physical", t("A thing (can be booked and lent)")),
        ("knowledge", t("Knowledge (a guide, a file, a skill)")),
    ]
    .map(|(v, words)| (v.to_owned(), words.to_owned()))
    .to_vec()
}

/// The licences a shared thing can carry, as choices.
fn licences() -> Vec<(String, String)> {
    LICENCES
        .iter()
        .map(|l| ((*l).to_owned(), super::labels::licence(l).to_string()))
        .collect()
}
