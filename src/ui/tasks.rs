//! Tasks and work parties: add a task with slots, claim one, give it back, mark it done (logging
//! the time as a contribution for others to validate); plan a work party, possibly recurring,
//! sign up and withdraw.

use super::form::{
    derived, error_for, field_error, local_time, names_of, run, when, DateTimeField, Handle,
    TextField,
};
use super::now_ms;
use super::reminders::{party_event, AddToCalendar};
use super::runtime::RoomView;
use super::t;
use crate::domain::{parse_amount, Member, TaskView, WorkPartyView};
use leptos::prelude::*;

/// A list item's node, scrolled into view once shown if `focused`.
fn scroll_to(focused: bool) -> NodeRef<leptos::html::Li> {
    let item = NodeRef::<leptos::html::Li>::new();
    if focused {
        Effect::new(move |_| {
            if let Some(el) = item.get() {
                el.scroll_into_view();
            }
        });
    }
    item
}

#[component]
fn TaskItem(
    handle: Handle,
    task: TaskView,
    members: Vec<Member>,
    me: String,
    member: bool,
    /// Opened through a link to it (as search gives): highlighted and scrolled to.
    focused: bool,
) -> impl IntoView {
    let item = scroll_to(focused);
    let errors = RwSignal::new(None::<(String, String)>);
    let finishing = RwSignal::new(false);
    let time = RwSignal::new(String::new());
    let id = StoredValue::new(task.id.clone());
    let claim = move |_| {
        let id = id.get_value();
        run(handle, errors, |room, me, now| {
            room.claim_task(me, &id, now)
        });
    };
    let give_back = move |_| {
        let id = id.get_value();
        run(handle, errors, |room, me, now| {
            room.give_back_task(me, &id, now)
        });
    };
    let finish = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let minutes = match parse_amount(&time.get_untracked(), "hours") {
            Ok(m) => m,
            Err(e) => return errors.set(Some(field_error(e))),
        };
        let id = id.get_value();
        if run(handle, errors, |room, me, now| {
            room.finish_task(me, &id, minutes, now)
        })
        .is_some()
        {
            finishing.set(false);
        }
    };
    let holds = task.claimed_by.contains(&me);
    let can_claim = member && !holds && !task.waiting.contains(&me);
    let can_finish = holds && !task.done_by.contains(&me);
    let can_give_back = (holds || task.waiting.contains(&me)) && !task.done_by.contains(&me);
    let open = task.slots.saturating_sub(task.claimed_by.len());
    let done: Vec<String> = task.done_by.iter().cloned().collect();
    view! {
        <li data-testid="task" node_ref=item class:focused=focused data-focused=focused.to_string() data-title=task.title.clone() data-done=(!task.done_by.is_empty()).to_string()>
            <strong>{task.title.clone()}</strong>
            <span class="muted">{tr!(" · {} of {} taken{}", task.claimed_by.len(), task.slots, if open == 0 { t(", full").to_string() } else { String::new() })}</span>
            {(!task.claimed_by.is_empty()).then(|| view! { <p data-testid="claimed-by">{t("Taken by ")} {names_of(&members, &task.claimed_by)}</p> })}
            {(!task.waiting.is_empty()).then(|| view! { <p>{t("Waiting for a slot: ")} {names_of(&members, &task.waiting)}</p> })}
            {(!done.is_empty()).then(|| view! { <p data-testid="done-by">{t("Done by ")} {names_of(&members, &done)}</p> })}
            {can_claim.then(|| view! {
                <button data-testid="claim" on:click=claim>{if open > 0 { t("Take it on") } else { t("Join the waiting list") }}</button>
            })}
            {can_give_back.then(|| view! {
                <button class="secondary" data-testid="give-back" on:click=give_back>{t("Give it back")}</button>
            })}
            {can_finish.then(|| view! {
                <button data-testid="finish" aria-expanded=move || finishing.get().to_string()
                    on:click=move |_| finishing.update(|f| *f = !*f)>{t("Mark my part done")}</button>
            })}
            {move || finishing.get().then(|| view! {
                <form on:submit=finish data-testid="finish-form">
                    <TextField label=t("Time it took (hours like 1:30, or minutes): it is logged as your contribution for others to validate")
                        field="amount" also="quantity" value=time errors inputmode="decimal" testid="finish-time"/>
                    <button type="submit" data-testid="finish-log">{t("Done, log my time")}</button>
                </form>
            })}
            {error_for(errors, "")}
            {error_for(errors, "task")}
        </li>
    }
}

#[component]
fn PartyItem(
    handle: Handle,
    p: WorkPartyView,
    members: Vec<Member>,
    me: String,
    member: bool,
    /// Opened through a link to it (as search gives): highlighted and scrolled to.
    focused: bool,
) -> impl IntoView {
    let item = scroll_to(focused);
    let errors = RwSignal::new(None::<(String, String)>);
    let id = StoredValue::new(p.id.clone());
    let sign_up = move |_| {
        let id = id.get_value();
        run(handle, errors, |room, me, now| room.sign_up(me, &id, now));
    };
    let withdraw = move |_| {
        let id = id.get_value();
        run(handle, errors, |room, me, now| {
            room.withdraw_sign_up(me, &id, now)
        });
    };
    let next = p.next_date(now_ms());
    let can_sign =
        member && !p.signed_up.contains(&me) && !p.waiting.contains(&me) && next.is_some();
    let can_withdraw = p.signed_up.contains(&me) || p.waiting.contains(&me);
    let repeats = match p.every_days {
        0 => String::new(),
        1 => t(" · every day").to_string(),
        7 => t(" · every week").to_string(),
        n => tr!(" · every {} days", n),
    };
    view! {
        <li data-testid="party" node_ref=item class:focused=focused data-focused=focused.to_string() data-title=p.title.clone()>
            <strong>{p.title.clone()}</strong>
            <span class="muted">{format!(" · {} · {}{}", p.place,
                next.map(when).unwrap_or_else(|| tr!("was {}", when(p.date))), repeats)}</span>
            <p data-testid="signed-up">{tr!("{} of {} places taken", p.signed_up.len(), p.slots)}
                {(!p.signed_up.is_empty()).then(|| format!(": {}", names_of(&members, &p.signed_up)))}</p>
            {(!p.waiting.is_empty()).then(|| view! { <p>{t("Waiting: ")} {names_of(&members, &p.waiting)}</p> })}
            {can_sign.then(|| view! { <button data-testid="sign-up" on:click=sign_up>{t("Sign me up")}</button> })}
            {can_withdraw.then(|| view! { <button class="secondary" data-testid="withdraw" on:click=withdraw>{t("Withdraw my sign-up")}</button> })}
            {party_event(&p, now_ms()).map(|e| view! { <AddToCalendar event=e name=p.title.clone()/> })}
            {error_for(errors, "")}
            {error_for(errors, "party")}
        </li>
    }
}

#[component]
pub fn TasksSection(
    handle: Handle,
    view: RwSignal<RoomView>,
    /// A task or work party named by the route (`tasks/<id>`, as search links).
    #[prop(optional)]
    focus: String,
) -> impl IntoView {
    let focus = StoredValue::new(focus);
    let data = derived(handle, view, |room, me| {
        (
            room.tasks(),
            room.work_parties(),
            room.members(),
            me.public(),
            room.admitted().contains(&me.public()),
        )
    });
    let errors = RwSignal::new(None::<(String, String)>);
    let title = RwSignal::new(String::new());
    let slots = RwSignal::new("1".to_string());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(n) = slots.get_untracked().trim().parse::<usize>() else {
            return errors.set(Some((
                "slots".into(),
                t("The slots must be a whole number.").into(),
            )));
        };
        let t = title.get_untracked();
        if run(handle, errors, |room, me, now| {
            room.add_task(me, &t, n, now)
        })
        .is_some()
        {
            title.set(String::new());
            slots.set("1".into());
        }
    };
    let party_errors = RwSignal::new(None::<(String, String)>);
    let p_title = RwSignal::new(String::new());
    let place = RwSignal::new(String::new());
    let date = RwSignal::new(String::new());
    let every = RwSignal::new("0".to_string());
    let p_slots = RwSignal::new("10".to_string());
    let plan = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let at = match local_time(&date.get_untracked(), "date") {
            Ok(at) => at,
            Err(e) => return party_errors.set(Some(field_error(e))),
        };
        let (Ok(every), Ok(n)) = (
            every.get_untracked().trim().parse::<i64>(),
            p_slots.get_untracked().trim().parse::<usize>(),
        ) else {
            return party_errors.set(Some((
                "slots".into(),
                t("Places and repetition must be whole numbers.").into(),
            )));
        };
        let (t, pl) = (p_title.get_untracked(), place.get_untracked());
        if run(handle, party_errors, |room, me, now| {
            room.plan_work_party(me, &t, &pl, at, every, n, now)
        })
        .is_some()
        {
            p_title.set(String::new());
            place.set(String::new());
        }
    };
    let member = move || data.get().is_some_and(|d| d.4);
    view! {
        <section class="card">
            <h2>{t("Tasks")}</h2>
            <ul class="items" data-testid="task-list">
                {move || {
                    let (mut tasks, _, members, me, member) = data.get().unwrap_or_default();
                    // Open tasks first, then by title.
                    tasks.sort_by(|a, b| (a.done_by.len() >= a.slots).cmp(&(b.done_by.len() >= b.slots)).then(a.title.cmp(&b.title)));
                    if tasks.is_empty() {
                        return view! { <li>{t("No tasks yet.")}</li> }.into_any();
                    }
                    tasks.into_iter().map(|task| view! {
                        <TaskItem handle focused=focus.with_value(|f| *f == task.id) task members=members.clone() me=me.clone() member/>
                    }).collect_view().into_any()
                }}
            </ul>
            {move || member().then(|| view! {
                <form on:submit=add data-testid="add-task" novalidate>
                    <h3>{t("Add a task")}</h3>
                    <TextField label=t("What needs doing") field="title" value=title errors maxlength=160 testid="task-title"/>
                    <TextField label=t("How many people") field="slots" value=slots errors kind="number" min=1 max=100 testid="task-slots"/>
                    {error_for(errors, "")}
                    <button type="submit" data-testid="add">{t("Add the task")}</button>
                </form>
            })}
        </section>
        <section class="card">
            <h2>{t("Work parties")}</h2>
            <ul class="items" data-testid="party-list">
                {move || {
                    let (_, mut parties, members, me, member) = data.get().unwrap_or_default();
                    let now = now_ms();
                    parties.sort_by_key(|p| p.next_date(now).unwrap_or(i64::MAX));
                    if parties.is_empty() {
                        return view! { <li>{t("No work parties planned.")}</li> }.into_any();
                    }
                    parties.into_iter().map(|p| view! {
                        <PartyItem handle focused=focus.with_value(|f| *f == p.id) p members=members.clone() me=me.clone() member/>
                    }).collect_view().into_any()
                }}
            </ul>
            {move || member().then(|| view! {
                <form on:submit=plan data-testid="plan-party" novalidate>
                    <h3>{t("Plan a work party")}</h3>
                    <TextField label=t("What we will do") field="title" value=p_title errors=party_errors maxlength=160 testid="party-title"/>
                    <TextField label=t("Where") field="place" value=place errors=party_errors maxlength=160 testid="party-place"/>
                    <DateTimeField label=t("When") field="date" value=date errors=party_errors testid="party-date"/>
                    <TextField label=t("Repeat every how many days (0: once)") field="every" value=every errors=party_errors kind="number" min=0 max=365 testid="party-every"/>
                    <TextField label=t("Places") field="slots" value=p_slots errors=party_errors kind="number" min=1 max=500 testid="party-slots"/>
                    {error_for(party_errors, "")}
                    <button type="submit" data-testid="plan">{t("Plan it")}</button>
                </form>
            })}
        </section>
    }
}
