//! Lending circles (who receives which round, who has paid, paying one's share; opening one) and
//! the time bank (accounts in hours, transfers). Shown in the common pot section.

use super::form::{
    day, derived, error_for, field_error, name_of, names_of, run, when, Handle, SelectField,
    TextField,
};
use super::now_ms;
use super::reminders::{circle_event, AddToCalendar};
use super::runtime::RoomView;
use super::t;
use crate::domain::{parse_amount, CircleView, Member, NewCircle, CREDIT_LIMIT_MINUTES};
use leptos::prelude::*;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const TRANSFERS: usize = 30;

#[component]
fn Circle(handle: Handle, c: CircleView, members: Vec<Member>, me: String) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let id = StoredValue::new(c.id.clone());
    let pay = move |round: usize| {
        let id = id.get_value();
        run(handle, errors, |room, me, now| {
            room.pay_into_circle(me, &id, round, now)
        });
    };
    let now = now_ms();
    let current = c.current_round(now);
    let each = super::money(c.amount, &c.unit);
    let summary = tr!(
        "{} each, {} · {} members · started {}",
        each,
        match c.period_days {
            7 => t("every week").to_string(),
            1 => t("every day").to_string(),
            n => tr!("every {} days", n),
        },
        c.members.len(),
        when(c.starts_at)
    );
    view! {
        <article class="circle" data-testid="circle" data-name=c.name.clone()>
            <h3>{c.name.clone()}</h3>
            <p class="muted">{summary}</p>
            <div class="scroll">
            <table class="totals">
                <thead><tr>
                    <th scope="col">{t("Round")}</th><th scope="col">{t("Receives")}</th><th scope="col">{t("Due")}</th>
                    <th scope="col">{t("Paid")}</th><th scope="col">{t("Still owing")}</th><th scope="col"><span class="sr-only">{t("Action")}</span></th>
                </tr></thead>
                <tbody>
                    {c.rounds.iter().map(|r| {
                        let round = r.index;
                        let mine = r.owing.contains(&me) && r.due_at <= now + c.period_days * DAY_MS;
                        let complete = r.owing.is_empty();
                        view! {
                            <tr data-testid="round" data-round=(round + 1).to_string() data-receiver=name_of(&members, &r.receiver)
                                data-complete=complete.to_string() aria-current=(round == current).then_some("step")>
                                <td>{round + 1}</td>
                                <td>{name_of(&members, &r.receiver)}" · "{super::money(r.total, &c.unit)}</td>
                                <td>{day(r.due_at)}</td>
                                <td data-testid="paid">{names_of(&members, &r.paid)}</td>
                                <td data-testid="owing">{names_of(&members, &r.owing)}</td>
                                <td>{mine.then(|| view! { <button data-testid="pay-round" on:click=move |_| pay(round)>{t("Pay my share")}</button> })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
            {c.members.contains(&me).then(|| view! { <AddToCalendar event=circle_event(&c) name=c.name.clone()/> })}
            {error_for(errors, "")}
            {error_for(errors, "round")}
        </article>
    }
}

#[component]
pub fn CirclesCard(handle: Handle, view: RwSignal<RoomView>) -> impl IntoView {
    let data = derived(handle, view, |room, me| {
        let admitted: Vec<String> = room.admitted().into_iter().collect();
        (room.circles(), room.members(), admitted, me.public())
    });
    let errors = RwSignal::new(None::<(String, String)>);
    let name = RwSignal::new(String::new());
    let unit = RwSignal::new("EUR".to_string());
    let amount = RwSignal::new(String::new());
    let period = RwSignal::new("30".to_string());
    let start = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<String>::new());
    let open = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let unit = unit.get_untracked().trim().to_uppercase();
        let each = match parse_amount(&amount.get_untracked(), &unit) {
            Ok(a) => a,
            Err(e) => return errors.set(Some(field_error(e))),
        };
        let Ok(period_days) = period.get_untracked().trim().parse::<i64>() else {
            return errors.set(Some((
                "period".into(),
                t("The period must be a whole number of days.").into(),
            )));
        };
        let starts_at = match start.get_untracked().trim() {
            "" => now_ms(),
            s => {
                let ms = js_sys::Date::parse(s);
                if ms.is_nan() {
                    return errors
                        .set(Some(("start".into(), t("The start is not a date.").into())));
                }
                ms as i64
            }
        };
        let c = NewCircle {
            name: name.get_untracked(),
            unit,
            amount: each,
            period_days,
            starts_at,
            members: chosen.get_untracked(),
        };
        if run(handle, errors, |room, me, now| room.open_circle(me, c, now)).is_some() {
            name.set(String::new());
            amount.set(String::new());
            chosen.set(Vec::new());
        }
    };
    view! {
        <section class="card">
            <h2>{t("Lending circles")}</h2>
            <p class="muted">{t("Each round everyone puts in the same amount and one member receives it all, in turn.")}</p>
            {move || {
                let (circles, members, _, me) = data.get().unwrap_or_default();
                if circles.is_empty() {
                    return view! { <p>{t("No lending circle yet.")}</p> }.into_any();
                }
                circles.into_iter().map(|c| view! { <Circle handle c members=members.clone() me=me.clone()/> }).collect_view().into_any()
            }}
            {move || data.get().filter(|d| d.2.contains(&d.3)).map(|(_, members, admitted, _)| view! {
                <form on:submit=open data-testid="open-circle" novalidate>
                    <h3>{t("Start a lending circle")}</h3>
                    <TextField label=t("Name") field="name" value=name errors maxlength=60 testid="circle-name"/>
                    <TextField label=t("Currency code") field="unit" value=unit errors maxlength=5 testid="circle-unit"/>
                    <TextField label=t("Each member puts in, per round") field="amount" value=amount errors inputmode="decimal" testid="circle-amount"/>
                    <TextField label=t("Days between rounds") field="period" value=period errors kind="number" min=1 max=366 testid="circle-period"/>
                    <TextField label=t("First round due (empty: today)") field="start" value=start errors kind="date" testid="circle-start"/>
                    <fieldset>
                        <legend>{t("Members, in the order they receive")}</legend>
                        {admitted.into_iter().map(|k| {
                            let key = k.clone();
                            let key_check = k.clone();
                            let label = name_of(&members, &k);
                            view! {
                                <label class="check">
                                    <input type="checkbox" data-testid="circle-member" data-name=label.clone()
                                        prop:checked=move || chosen.with(|c| c.contains(&key_check))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            chosen.update(|c| {
                                                c.retain(|x| x != &key);
                                                if on { c.push(key.clone()); }
                                            });
                                        }/>
                                    {label}
                                    {move || chosen.with(|c| c.iter().position(|x| x == &k)).map(|i| tr!(" (round {})", i + 1))}
                                </label>
                            }
                        }).collect_view()}
                    </fieldset>
                    {error_for(errors, "members")}
                    {error_for(errors, "")}
                    <button type="submit" data-testid="open-circle-submit">{t("Start the circle")}</button>
                </form>
            })}
        </section>
    }
}

#[component]
pub fn TimeBankCard(handle: Handle, view: RwSignal<RoomView>) -> impl IntoView {
    let data = derived(handle, view, |room, me| {
        let admitted: Vec<String> = room.admitted().into_iter().collect();
        let (accounts, transfers) = room.time_accounts();
        (accounts, transfers, room.members(), admitted, me.public())
    });
    let errors = RwSignal::new(None::<(String, String)>);
    let shown = RwSignal::new(TRANSFERS);
    let to = RwSignal::new(String::new());
    let time = RwSignal::new(String::new());
    let memo = RwSignal::new(String::new());
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let minutes = match parse_amount(&time.get_untracked(), "hours") {
            Ok(m) => m,
            Err(e) => return errors.set(Some(field_error(e))),
        };
        let (who, note) = (to.get_untracked(), memo.get_untracked());
        if who.is_empty() {
            return errors.set(Some((
                "to".into(),
                t("Choose whom the time goes to.").into(),
            )));
        }
        if run(handle, errors, |room, me, now| {
            room.pay_hours(me, &who, minutes, &note, now)
        })
        .is_some()
        {
            time.set(String::new());
            memo.set(String::new());
        }
    };
    view! {
        <section class="card">
            <h2>{t("Time bank")}</h2>
            <p class="muted">{tr!("An hour given is an hour received. Anyone may go up to {} into credit.", super::money(CREDIT_LIMIT_MINUTES, "hours"))}</p>
            <table class="totals" data-testid="time-accounts">
                <thead><tr><th scope="col">{t("Member")}</th><th scope="col">{t("Balance (hours)")}</th></tr></thead>
                <tbody>
                    {move || {
                        let (accounts, _, members, admitted, _) = data.get().unwrap_or_default();
                        admitted.iter().map(|k| {
                            let minutes = accounts.get(k).copied().unwrap_or(0);
                            let shown = if minutes > 0 { format!("+{}", super::money(minutes, "hours")) } else { super::money(minutes, "hours") };
                            view! { <tr data-testid="time-account" data-name=name_of(&members, k)><td>{name_of(&members, k)}</td><td data-testid="hours">{shown}</td></tr> }
                        }).collect_view()
                    }}
                </tbody>
            </table>
            {move || data.get().filter(|d| d.3.contains(&d.4)).map(|(_, _, members, admitted, me)| view! {
                <form on:submit=send data-testid="give-time" novalidate>
                    <h3>{t("Give time")}</h3>
                    <SelectField label=t("To") field="to" value=to errors prompt=t("Choose a member") testid="time-to"
                        options=recipients(&admitted, &me, &members)/>
                    <TextField label=t("Time (hours like 1:30, or minutes)") field="amount" also="minutes" value=time errors inputmode="decimal" testid="time-amount"/>
                    <TextField label=t("For what") field="memo" value=memo errors maxlength=200 testid="time-memo"/>
                    {error_for(errors, "")}
                    <button type="submit" data-testid="give-time-submit">{t("Give the time")}</button>
                </form>
            })}
            <h3>{t("Transfers")}</h3>
            <ul class="ledger" data-testid="time-transfers">
                {move || {
                    let (_, transfers, members, _, _) = data.get().unwrap_or_default();
                    if transfers.is_empty() {
                        return view! { <li>{t("No time given yet.")}</li> }.into_any();
                    }
                    transfers.iter().rev().take(shown.get()).map(|x| view! {
                        <li data-testid="time-transfer" data-memo=x.memo.clone()>
                            <span class="muted">{when(x.at)}</span>
                            {format!("{} → {} · {} · {}", name_of(&members, &x.from), name_of(&members, &x.to),
                                super::money(x.minutes, "hours"), x.memo)}
                            {(!x.counted).then(|| view! { <span class="error">{t(" · not counted (past the credit limit)")}</span> })}
                        </li>
                    }).collect_view().into_any()
                }}
            </ul>
            {move || (data.with(|d| d.as_ref().map_or(0, |d| d.1.len())) > shown.get()).then(|| view! {
                <button on:click=move |_| shown.update(|n| *n += TRANSFERS)>{t("Show more")}</button>
            })}
        </section>
    }
}

/// Whom time can go to: the other admitted members, by name.
fn recipients(admitted: &[String], me: &str, members: &[Member]) -> Vec<(String, String)> {
    admitted
        .iter()
        .filter(|k| *k != me)
        .map(|k| (k.clone(), name_of(members, k)))
        .collect()
}
