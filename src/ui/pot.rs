//! The common pot: pots and balances, the ledger, recording money in (which another member
//! confirms) and asking for an expense (which others approve, then someone pays), approving and
//! confirming others' entries and paying approved ones.

use super::circles::{CirclesCard, TimeBankCard};
use super::form::{
    derived, error_for, name_of, run, when, AmountField, Handle, RadioField, TextField,
};
use super::now_ms;
use super::runtime::RoomView;
use super::t;
use crate::domain::{parse_amount, EntryKind, EntryState, LedgerLine, NewEntry, PotView};
use leptos::prelude::*;

const LINES: usize = 50;

fn state_text(s: &EntryState) -> String {
    match s {
        EntryState::Counted => t("counted").into(),
        EntryState::AwaitingApproval { approvals, needed } => {
            tr!("waiting for approval ({} of {})", approvals, needed)
        }
        EntryState::AwaitingConfirmation => t("waiting for another member to confirm it").into(),
        EntryState::Approved => t("approved, not paid yet").into(),
        EntryState::Reversed => t("reversed").into(),
        EntryState::Refused(why) => tr!(
            "not counted: {}",
            crate::i18n::lookup_dyn(super::lang(), why)
        ),
    }
}

/// The state as a word for tests and styles: "counted", "awaitingapproval", ...
fn state_key(s: &EntryState) -> &'static str {
    match s {
        EntryState::Counted => "counted",
        EntryState::AwaitingApproval { .. } => "awaitingapproval",
        EntryState::AwaitingConfirmation => "awaitingconfirmation",
        EntryState::Approved => "approved",
        EntryState::Reversed => "reversed",
        EntryState::Refused(_) => "refused",
    }
}

fn kind_text(k: EntryKind) -> &'static str {
    match k {
        EntryKind::Inflow => t("money in"),
        EntryKind::Payout => t("money out"),
        EntryKind::Expense => t("expense"),
        EntryKind::Reversal => t("correction"),
        EntryKind::Dividend => t("dividend"),
    }
}

#[component]
fn RecordForm(handle: Handle, pot: PotView) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let kind = RwSignal::new("expense".to_string());
    let amount = RwSignal::new(String::new());
    let memo = RwSignal::new(String::new());
    // An unusually large amount waiting for the person to confirm it (in minor units).
    let confirming = RwSignal::new(None::<i64>);
    let unit = StoredValue::new(pot.unit.clone());
    let pot = StoredValue::new(pot);
    // A changed amount is asked about afresh.
    Effect::new(move |_| {
        amount.track();
        confirming.set(None);
    });
    let record = move |minor: i64| {
        // Money goes out only as an expense that others approve (a payout follows the same
        // rules, so the form does not offer both).
        let kind = match kind.get_untracked().as_str() {
            "inflow" => EntryKind::Inflow,
            _ => EntryKind::Expense,
        };
        let entry = NewEntry::new(kind, minor, &memo.get_untracked());
        let id = pot.with_value(|p| p.id.clone());
        if run(handle, errors, |room, me, now| {
            room.record(me, &id, entry, now)
        })
        .is_some()
        {
            amount.set(String::new());
            memo.set(String::new());
        }
        confirming.set(None);
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let minor = match parse_amount(&amount.get_untracked(), &unit.get_value()) {
            Ok(m) => m,
            Err(e) => return errors.set(Some(super::form::field_error(e))),
        };
        if pot.with_value(|p| p.unusual(minor)) && confirming.get_untracked() != Some(minor) {
            errors.set(None);
            return confirming.set(Some(minor));
        }
        record(minor);
    };
    let kinds = Signal::derive(|| {
        vec![
            (
                "expense".to_owned(),
                t("Ask for an expense (others approve it)").to_owned(),
            ),
            (
                "inflow".to_owned(),
                t("Money in (another member confirms it)").to_owned(),
            ),
        ]
    });
    let unit_shown = Signal::derive(move || super::labels::unit(&unit.get_value()));
    view! {
        <form class="record" on:submit=submit data-testid="record-form">
            <RadioField label=t("What") field="kind" value=kind errors options=kinds testid="record-kind"/>
            <AmountField label=t("Amount") unit=unit_shown field="amount" value=amount errors testid="record-amount"/>
            {move || confirming.get().map(|minor| {
                let money = super::money(minor, &unit.get_value());
                view! {
                    <div class="confirm" role="alert" data-testid="confirm-large">
                        <p>{tr!("That is {}, far more than this pot has seen. Is it right?", money.clone())}</p>
                        <button type="button" data-testid="confirm-large-yes" on:click=move |_| record(minor)>{tr!("Yes, record {}", money)}</button>
                        " "<button type="button" on:click=move |_| confirming.set(None)>{t("No, change it")}</button>
                    </div>
                }
            })}
            <TextField label=t("What for") field="memo" value=memo errors maxlength=200 testid="record-memo"/>
            {error_for(errors, "")}
            <button type="submit" data-testid="record">{t("Record")}</button>
        </form>
    }
}

/// A counted entry's correction: why, then a reversing entry for its full amount (which
/// another member confirms).
#[component]
fn CorrectForm(
    handle: Handle,
    pot: String,
    line: LedgerLine,
    done: RwSignal<Option<String>>,
) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let reason = RwSignal::new(String::new());
    let (pot, line) = (StoredValue::new(pot), StoredValue::new(line));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (pot, (id, amount)) = (
            pot.get_value(),
            line.with_value(|l| (l.id.clone(), l.amount)),
        );
        let entry = NewEntry::reversal(&id, amount, &reason.get_untracked());
        if run(handle, errors, |room, me, now| {
            room.record(me, &pot, entry, now)
        })
        .is_some()
        {
            done.set(None);
        }
    };
    view! {
        <form class="correct" on:submit=submit data-testid="correct-form">
            <TextField label=t("Why is it wrong?") field="reason" value=reason errors maxlength=200/>
            {error_for(errors, "target")}
            {error_for(errors, "")}
            <button type="submit">{t("Record the correction")}</button>
            " "<button type="button" on:click=move |_| done.set(None)>{t("Cancel")}</button>
        </form>
    }
}

#[component]
fn Ledger(
    handle: Handle,
    pot: PotView,
    my_key: String,
    /// Whether this device's member is admitted (only members approve, confirm and pay).
    member: bool,
    members: Vec<crate::domain::Member>,
    /// Entries this device's member already approved.
    approved: std::collections::BTreeSet<String>,
) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let limit = RwSignal::new(LINES);
    // The line whose correction is being written, if any.
    let correcting = RwSignal::new(None::<String>);
    let pot_id = StoredValue::new(pot.id.clone());
    let approve = move |id: String| {
        let pot = pot_id.get_value();
        run(handle, errors, |room, me, now| {
            room.approve(me, &pot, &id, now)
        });
    };
    let pay = move |id: String| {
        let pot = pot_id.get_value();
        run(handle, errors, |room, me, now| room.pay(me, &pot, &id, now));
    };
    let confirm = move |id: String| {
        let pot = pot_id.get_value();
        run(handle, errors, |room, me, now| {
            room.confirm(me, &pot, &id, now)
        });
    };
    let unit = pot.unit.clone();
    let memos: std::collections::BTreeMap<String, String> = pot
        .lines
        .iter()
        .map(|l| (l.id.clone(), l.memo.clone()))
        .collect();
    let mut lines: Vec<LedgerLine> = pot.lines;
    lines.reverse();
    let total = lines.len();
    view! {
        {error_for(errors, "")}
        <ul class="ledger" data-testid="ledger">
            {move || lines.iter().take(limit.get()).map(|l| {
                let id = l.id.clone();
                let mine = l.author == my_key;
                let can_approve = member
                    && matches!(l.state, EntryState::AwaitingApproval { .. })
                    && !mine
                    && !approved.contains(&l.id);
                let can_confirm = member && l.state == EntryState::AwaitingConfirmation && !mine;
                let can_pay = member && l.state == EntryState::Approved;
                let can_correct = member
                    && l.state == EntryState::Counted
                    && matches!(l.kind, EntryKind::Inflow | EntryKind::Expense | EntryKind::Payout);
                let what = match &l.target {
                    Some(target) => tr!(
                        "of “{}”: {}",
                        memos.get(target).cloned().unwrap_or_default(),
                        l.memo.clone()
                    ),
                    None => l.memo.clone(),
                };
                let line = l.clone();
                view! {
                    <li data-testid="line" data-memo=l.memo.clone() data-state=state_key(&l.state)>
                        <span class="muted">{when(l.at)}</span>" "
                        <strong>{format!("{} {}", kind_text(l.kind), super::money(l.amount, &unit))}</strong>" "
                        <span data-testid="line-memo">{what}</span>" · "{name_of(&members, &l.author)}" · "
                        <span data-testid="line-state">{state_text(&l.state)}</span>
                        {can_approve.then(|| { let id = id.clone(); view! { <button data-testid="approve" on:click=move |_| approve(id.clone())>{t("Approve")}</button> } })}
                        {can_confirm.then(|| { let id = id.clone(); view! { <button data-testid="confirm" on:click=move |_| confirm(id.clone())>{t("Confirm")}</button> } })}
                        {can_pay.then(|| { let id = id.clone(); view! { <button data-testid="pay" on:click=move |_| pay(id.clone())>{t("Pay out")}</button> } })}
                        {can_correct.then(|| {
                            let (open_id, shown_id) = (id.clone(), id.clone());
                            view! {
                                <button type="button" on:click=move |_| correcting.set(Some(open_id.clone()))>{t("Correct")}</button>
                                {move || (correcting.get().as_deref() == Some(shown_id.as_str())).then(|| view! {
                                    <CorrectForm handle pot=pot_id.get_value() line=line.clone() done=correcting/>
                                })}
                            }
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
        {move || (total > limit.get()).then(|| view! {
            <button on:click=move |_| limit.update(|l| *l += LINES)>{t("Show older entries")}</button>
        })}
    }
}

#[component]
pub fn PotSection(handle: Handle, view: RwSignal<RoomView>) -> impl IntoView {
    let data = derived(handle, view, |room, me| {
        let now = now_ms();
        let pots = room.pots(now);
        // What I already approved: no second Approve button for it.
        let approved: std::collections::BTreeSet<String> = pots
            .iter()
            .flat_map(|p| p.lines.iter())
            .filter(|l| matches!(l.state, EntryState::AwaitingApproval { .. }))
            .filter(|l| room.approvers(&l.id).contains(&me.public()))
            .map(|l| l.id.clone())
            .collect();
        (
            pots,
            room.members(),
            room.admitted().contains(&me.public()),
            me.public(),
            approved,
        )
    });
    let errors = RwSignal::new(None::<(String, String)>);
    let name = RwSignal::new(String::new());
    let unit = RwSignal::new("EUR".to_string());
    let open = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, u) = (
            name.get_untracked(),
            unit.get_untracked().trim().to_uppercase(),
        );
        // "hours" is the model's word for a pot of time; it may be typed in the app's language.
        let u = if u == "HOURS" || u == t("hours").to_uppercase() {
            "hours".to_string()
        } else {
            u
        };
        if run(handle, errors, |room, me, now| {
            room.open_pot(me, &n, &u, now)
        })
        .is_some()
        {
            name.set(String::new());
        }
    };
    view! {
        {move || {
            let (pots, members, admitted, my_key, approved) = data.get().unwrap_or_default();
            if pots.is_empty() {
                return view! { <section class="card"><h2>{t("Common pot")}</h2><p>{t("No pot yet.")}</p></section> }.into_any();
            }
            pots.into_iter().map(|p| {
                let balance = super::money(p.balance, &p.unit);
                view! {
                    <section class="card" data-testid="pot" data-name=p.name.clone()>
                        <h2>{p.name.clone()}" "<span data-testid="balance">{balance}</span></h2>
                        {admitted.then(|| view! { <RecordForm handle pot=p.clone()/> })}
                        <Ledger handle pot=p.clone() my_key=my_key.clone() member=admitted members=members.clone() approved=approved.clone()/>
                    </section>
                }
            }).collect_view().into_any()
        }}
        {move || data.get().is_some_and(|d| d.2).then(|| view! {
            <section class="card">
                <h2>{t("Open a pot")}</h2>
                <form on:submit=open data-testid="open-pot">
                    <TextField label=t("Name") field="name" value=name errors maxlength=60 testid="pot-name"/>
                    <TextField label=t("Currency code (EUR, MXN, …) or \"hours\"") field="unit" value=unit errors maxlength=5 testid="pot-unit"/>
                    {error_for(errors, "")}
                    <button type="submit" data-testid="open-pot-submit">{t("Open the pot")}</button>
                </form>
            </section>
        })}
        <CirclesCard handle view/>
        <TimeBankCard handle view/>
    }
}
