//! Contributions: log one (value type from the charter, minutes or units, optional beneficiary),
//! validate others', countersign as beneficiary, and totals and shares per member and type
//! (time in hours, other value types in whole units).

use super::form::{derived, error_for, name_of, run, when, Handle, SelectField, TextField};
use super::now_ms;
use super::runtime::RoomView;
use super::t;
use crate::domain::{is_time, parse_quantity, NewContribution};
use leptos::prelude::*;

const SHOWN: usize = 50;

#[component]
pub fn ContributionsSection(handle: Handle, view: RwSignal<RoomView>) -> impl IntoView {
    let data = derived(handle, view, |room, me| {
        let now = now_ms();
        let admitted: Vec<String> = room.admitted().into_iter().collect();
        (
            room.contributions(now),
            room.contribution_totals(now),
            room.members(),
            admitted,
            me.public(),
            room.charter(now)
                .value_types
                .keys()
                .cloned()
                .collect::<Vec<_>>(),
        )
    });
    let shown = RwSignal::new(SHOWN);
    let errors = RwSignal::new(None::<(String, String)>);
    let value_type = RwSignal::new("work".to_string());
    let quantity = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let beneficiary = RwSignal::new(String::new());
    let log = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // Time is entered as hours (1:30) or minutes; other value types as whole units.
        let kind = value_type.get_untracked();
        let amount = match parse_quantity(&quantity.get_untracked(), &kind) {
            Ok(m) => m,
            Err(e) => return errors.set(Some(super::form::field_error(e))),
        };
        let c = NewContribution {
            value_type: kind,
            quantity: amount,
            description: description.get_untracked(),
            date: now_ms(),
            beneficiary: Some(beneficiary.get_untracked()).filter(|b| !b.is_empty()),
            reverses: None,
        };
        if run(handle, errors, |room, me, now| {
            room.log_contribution(me, c, now)
        })
        .is_some()
        {
            quantity.set(String::new());
            description.set(String::new());
        }
    };
    let act_errors = RwSignal::new(None::<(String, String)>);
    let validate = move |id: String| {
        run(handle, act_errors, |room, me, now| {
            room.validate_contribution(me, &id, now)
        });
    };
    let countersign = move |id: String| {
        run(handle, act_errors, |room, me, now| {
            room.countersign(me, &id, now)
        });
    };
    view! {
        {move || data.get().is_some_and(|d| d.3.contains(&d.4)).then(|| {
            let (_, _, members, admitted, _, types) = data.get().unwrap_or_default();
            view! {
                <section class="card">
                    <h2>{t("Log a contribution")}</h2>
                    <form on:submit=log data-testid="log-contribution">
                        <SelectField label=t("Kind of value") field="value_type" value=value_type errors testid="contribution-type"
                            options={types.into_iter().map(|t| { let words = super::labels::value_type(&t); (t, words) }).collect::<Vec<_>>()}/>
                        <TextField label=Signal::derive(move || if is_time(&value_type.get()) {
                                t("Time spent (hours like 1:30, or minutes)").to_string()
                            } else {
                                tr!("How much {} (a whole number)", super::labels::value_type(&value_type.get()))
                            })
                            field="amount" also="quantity" value=quantity errors inputmode="decimal" testid="contribution-quantity"/>
                        <TextField label=t("What you did") field="description" value=description errors maxlength=500 testid="contribution-description"/>
                        <SelectField label=t("For whom (optional; they can confirm it)") field="beneficiary" value=beneficiary errors
                            prompt=t("The room") testid="contribution-beneficiary"
                            options={admitted.iter().map(|k| (k.clone(), name_of(&members, k))).collect::<Vec<_>>()}/>
                        {error_for(errors, "")}
                        <button type="submit" data-testid="log">{t("Log it")}</button>
                    </form>
                </section>
            }
        })}
        <section class="card">
            <h2>{t("Contributions")}</h2>
            {error_for(act_errors, "")}
            <ul class="ledger" data-testid="contribution-list">
                {move || {
                    let (mut list, _, members, admitted, me, _) = data.get().unwrap_or_default();
                    let member = admitted.contains(&me);
                    list.sort_by(|a, b| b.date.cmp(&a.date).then(a.id.cmp(&b.id)));
                    if list.is_empty() {
                        return view! { <li>{t("Nothing logged yet.")}</li> }.into_any();
                    }
                    list.into_iter().take(shown.get()).map(|c| {
                        let id = c.id.clone();
                        // The two parties do not validate: the beneficiary confirms instead.
                        let beneficiary = c.beneficiary.as_deref() == Some(me.as_str());
                        let can_validate = member && c.contributor != me && !beneficiary && !c.validators.contains(&me);
                        let can_confirm = member && beneficiary && c.contributor != me && !c.confirmed && !c.reversed;
                        let status = if c.reversed { t("reversed").to_string() } else if c.confirmed {
                            tr!("confirmed · {} validation(s)", c.validators.len())
                        } else {
                            tr!("{} validation(s)", c.validators.len())
                        };
                        view! {
                            <li data-testid="contribution" data-description=c.description.clone() data-confirmed=c.confirmed.to_string()>
                                <span class="muted">{when(c.date)}</span>
                                <strong>{name_of(&members, &c.contributor)}</strong>
                                {format!(" · {} · {}", if is_time(&c.value_type) { tr!("{} of {}", super::money(c.quantity, "hours"), super::labels::value_type(&c.value_type)) } else { super::labels::quantity(c.quantity, &c.value_type) }, c.description)}
                                {c.beneficiary.as_ref().map(|b| tr!(" · for {}", name_of(&members, b)))}
                                " · "<span data-testid="contribution-status">{status}</span>
                                {can_validate.then(|| { let id = id.clone(); view! { <button data-testid="validate" on:click=move |_| validate(id.clone())>{t("Validate")}</button> } })}
                                {can_confirm.then(|| { let id = id.clone(); view! { <button data-testid="countersign" on:click=move |_| countersign(id.clone())>{t("Confirm it was for me")}</button> } })}
                            </li>
                        }
                    }).collect_view().into_any()
                }}
            </ul>
            {move || (data.with(|d| d.as_ref().map_or(0, |d| d.0.len())) > shown.get()).then(|| view! {
                <button on:click=move |_| shown.update(|n| *n += SHOWN)>{t("Show more")}</button>
            })}
        </section>
        <section class="card">
            <h2>{t("Totals")}</h2>
            <table class="totals" data-testid="contribution-totals">
                <thead><tr><th scope="col">{t("Member")}</th><th scope="col">{t("Time")}</th><th scope="col">{t("Other value")}</th><th scope="col">{t("Share of the total")}</th><th scope="col"><span class="sr-only">{t("Bar")}</span></th></tr></thead>
                <tbody>
                    {move || {
                        let (_, totals, members, _, _, _) = data.get().unwrap_or_default();
                        totals.weighted_by_member.keys().map(|k| {
                            let bp = totals.share_basis_points.get(k).copied().unwrap_or(0);
                            let mine = totals.by_member_and_type.iter().filter(|((m, _), _)| m == k);
                            let time: i64 = mine.clone().filter(|((_, t), _)| is_time(t)).map(|(_, q)| q).sum();
                            let other: Vec<String> = mine.filter(|((_, t), _)| !is_time(t)).map(|((_, t), q)| super::labels::quantity(*q, t)).collect();
                            view! {
                                <tr data-testid="total" data-name=name_of(&members, k)>
                                    <td>{name_of(&members, k)}</td>
                                    <td>{super::money(time, "hours")}</td>
                                    <td>{if other.is_empty() { "—".to_string() } else { other.join(", ") }}</td>
                                    <td>{super::labels::percent(bp)}</td>
                                    <td><progress max="10000" value=bp.to_string()></progress></td>
                                </tr>
                            }
                        }).collect_view()
                    }}
                </tbody>
            </table>
        </section>
    }
}
