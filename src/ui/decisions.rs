//! Decisions: propose (method, options, closing time, an optional change to enact), state a
//! stance with a reason, the live tally, and recording the outcome once closed.

use super::form::{
    derived, error_for, name_of, names_of, run, when, AmountField, Handle, MemberPicker,
    RadioField, SelectField, TextArea, TextField,
};
use super::now_ms;
use super::reminders::{closing_event, AddToCalendar};
use super::runtime::RoomView;
use super::t;
use crate::domain::{
    parse_amount, Amendment, ClosedEarly, DecisionView, Dividend, Method, NewProposal, Outcome,
    Split, Stance,
};
use leptos::prelude::*;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The changes a proposal can carry, as (amendment key, label).
/// What a proposal can enact: (amendment key, label).
fn changes() -> [(&'static str, &'static str); 12] {
    [
        ("", t("Nothing: just decide")),
        ("purpose", t("Change the purpose")),
        ("values", t("Change the values")),
        ("method", t("Change the default decision method")),
        ("quorum_percent", t("Change the default quorum (%)")),
        ("approvals", t("Change the approvals an expense needs")),
        (
            "admission",
            t("Change the vouches a newcomer needs (0: default rule)"),
        ),
        ("licence", t("Change the default licence")),
        (
            "min_open_hours",
            t("Change how long a change stays open at least (hours)"),
        ),
        ("remove", t("Remove a member")),
        ("expense", t("Approve an expense")),
        ("dividend", t("Pay a dividend from a pot to every member")),
    ]
}

/// Expenses waiting for approval, as (entry id, "memo — amount from pot").
fn pending_expenses(pots: &[crate::domain::PotView]) -> Vec<(String, String)> {
    pots.iter()
        .flat_map(|p| {
            p.lines.iter().filter(|l| l.awaits_approval()).map(|l| {
                let label = tr!(
                    "{} — {} from {}",
                    l.memo,
                    super::money(l.amount, &p.unit),
                    p.name
                );
                (l.id.clone(), label)
            })
        })
        .collect()
}

/// A pot a dividend can come from: (id, name, unit, balance).
type PotChoice = (String, String, String, i64);

/// The pots a dividend can come from.
fn pot_list(pots: &[crate::domain::PotView]) -> Vec<PotChoice> {
    pots.iter()
        .map(|p| (p.id.clone(), p.name.clone(), p.unit.clone(), p.balance))
        .collect()
}

/// The pots (id, name, unit, balance) and the expenses waiting for approval, from one
/// derivation of the pots.
fn pots_and_expenses(room: &crate::domain::RoomDoc) -> (Vec<PotChoice>, Vec<(String, String)>) {
    let pots = room.pots(now_ms());
    (pot_list(&pots), pending_expenses(&pots))
}

/// A dividend's split in words, each member's share by name and what rounding leaves.
fn shares_text(
    shares: &[(String, i64)],
    amount: i64,
    unit: &str,
    members: &[crate::domain::Member],
) -> String {
    if shares.is_empty() {
        return t("No member has a share to be paid.").into();
    }
    let each = shares
        .iter()
        .map(|(m, a)| format!("{} {}", name_of(members, m), super::money(*a, unit)))
        .collect::<Vec<_>>()
        .join(" · ");
    let left = amount - shares.iter().map(|(_, a)| a).sum::<i64>();
    if left > 0 {
        tr!("{}; {} stays in the pot", each, super::money(left, unit))
    } else {
        each
    }
}

/// What a decision enacts, in words: the member it removes by name, the expense it approves by
/// its memo, the charter rule it changes by the rule's name.
fn change_text(
    a: &Amendment,
    members: &[crate::domain::Member],
    expenses: &[(String, String)],
    pots: &[PotChoice],
) -> String {
    match a.key.as_str() {
        "dividend" => {
            let Some(d) = Dividend::parse(&a.value) else {
                return a.value.clone();
            };
            let (name, unit) = pots
                .iter()
                .find(|p| p.0 == d.pot)
                .map(|p| (p.1.clone(), p.2.clone()))
                .unwrap_or_default();
            let split = match d.split {
                Split::Equal => t("equally"),
                Split::Shares => t("by contribution shares"),
            };
            tr!(
                "Pays {} from {} to every member, {}",
                super::money(d.amount, &unit),
                name,
                split
            )
        }
        "remove" => tr!("Removes {} from the room", name_of(members, &a.value)),
        "expense" => {
            let what = expenses
                .iter()
                .find(|(id, _)| *id == a.value)
                .map_or_else(|| t("an expense").to_owned(), |(_, l)| l.clone());
            tr!("Approves {}", what)
        }
        key => tr!(
            "Changes the charter: {} → {}",
            super::charter::rule_label(key),
            super::labels::rule_value(key, &a.value)
        ),
    }
}

fn outcome_label(o: &Outcome, options: &[String]) -> String {
    match o {
        Outcome::Open => t("open").into(),
        Outcome::Passed { winner: None } => t("passed").into(),
        Outcome::Passed { winner: Some(i) } => {
            tr!("passed: {}", options.get(*i).cloned().unwrap_or_default())
        }
        Outcome::Rejected => t("rejected").into(),
        Outcome::Blocked => t("blocked").into(),
        Outcome::NoQuorum => t("no quorum").into(),
        Outcome::TooShort => t("not passed: open too short a time for a change").into(),
        Outcome::TooFewAgreed => t("not passed: a change needs two members to agree").into(),
    }
}

/// The outcome as a word for tests and styles, the same in every language.
fn outcome_key(o: &Outcome) -> &'static str {
    match o {
        Outcome::Open => "open",
        Outcome::Passed { .. } => "passed",
        Outcome::Rejected => "rejected",
        Outcome::Blocked => "blocked",
        Outcome::NoQuorum => "no-quorum",
        Outcome::TooShort => "too-short",
        Outcome::TooFewAgreed => "too-few-agreed",
    }
}

/// A counted stance as the list shows it: (a tag for `data-stance`, the words).
fn stance_label(s: &Stance, options: &[String]) -> (&'static str, String) {
    let option = |i: usize| options.get(i).cloned().unwrap_or_default();
    let per_option = |v: &[u32]| {
        v.iter()
            .enumerate()
            .map(|(i, n)| format!("{}: {n}", option(i)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match s {
        Stance::Agree => ("agree", t("Agree").into()),
        Stance::Abstain => ("abstain", t("Abstain").into()),
        Stance::Disagree => ("disagree", t("Disagree").into()),
        Stance::Block => ("block", t("Block").into()),
        Stance::Choose(i) => ("choose", option(*i)),
        Stance::Scores(v) => ("scores", per_option(v)),
        Stance::Dots(v) => ("dots", per_option(v)),
        Stance::Ranking(v) => (
            "ranking",
            v.iter()
                .enumerate()
                .map(|(rank, i)| format!("{}. {}", rank + 1, option(*i)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

/// Every stance that counts, for everyone: who, what (objections marked), why and when; and,
/// while the decision is open, who has not answered yet.
fn stance_list(d: &DecisionView, members: &[crate::domain::Member], open: bool) -> impl IntoView {
    let rows = d
        .stances
        .iter()
        .map(|s| {
            let name = name_of(members, &s.member);
            let shown_name = name.clone();
            let (tag, label) = stance_label(&s.stance, &d.options);
            let block = s.stance == Stance::Block;
            let objection = block || s.stance == Stance::Disagree;
            view! {
                <li data-testid="stance-row" data-name=name data-stance=tag
                    class="stance-row" class:objection=objection class:block=block>
                    <strong>{shown_name}</strong>": "
                    <span class="stance-value">{block.then_some("⛔ ")}{label}</span>
                    {(!s.reason.is_empty()).then(|| view! {
                        " — "<q data-testid="stance-reason">{s.reason.clone()}</q>
                    })}
                    <span class="muted">" · "{when(s.at)}</span>
                </li>
            }
        })
        .collect_view();
    let waiting = (open && !d.not_answered.is_empty()).then(|| {
        view! {
            <p class="muted" data-testid="not-answered">
                {tr!("Not answered yet: {}", names_of(members, &d.not_answered))}
            </p>
        }
    });
    view! {
        <ul class="stances" data-testid="stances">{rows}</ul>
        {waiting}
    }
}

#[component]
fn ProposeForm(handle: Handle, view: RwSignal<RoomView>) -> impl IntoView {
    let charter = derived(handle, view, |room, _| room.charter(now_ms()));
    // Who a removal can name: the other admitted members.
    let removable = derived(handle, view, |room, me| {
        room.members()
            .into_iter()
            .filter(|m| m.standing == crate::domain::Standing::Admitted && m.key != me.public())
            .collect::<Vec<_>>()
    });
    // Which expenses an approval can name: those waiting for approval, by memo and amount.
    let pots_expenses = derived(handle, view, |room, _| pots_and_expenses(room));
    let expenses = Memo::new(move |_| pots_expenses.get().map(|(_, e)| e));
    let pots = Memo::new(move |_| pots_expenses.get().map(|(p, _)| p));
    let dividend_pot = RwSignal::new(String::new());
    let dividend_amount = RwSignal::new(String::new());
    let split = RwSignal::new("equal".to_string());
    // The dividend as typed so far (None until the pot and amount read).
    let dividend = move || {
        let pot = dividend_pot.get();
        let unit = pots.get()?.into_iter().find(|p| p.0 == pot)?.2;
        let amount = parse_amount(&dividend_amount.get(), &unit).ok()?;
        let split = if split.get() == "shares" {
            Split::Shares
        } else {
            Split::Equal
        };
        Some((Dividend { pot, amount, split }, unit))
    };
    let preview = derived(handle, view, move |room, _| {
        dividend().map(|(d, unit)| {
            let shares = room.dividend_preview(&d, now_ms());
            shares_text(&shares, d.amount, &unit, &room.members())
        })
    });
    let errors = RwSignal::new(None::<(String, String)>);
    let title = RwSignal::new(String::new());
    let method = RwSignal::new("consent".to_string());
    let dots = RwSignal::new("10".to_string());
    let options = RwSignal::new(String::new());
    let days = RwSignal::new("3".to_string());
    let quorum = RwSignal::new(String::new());
    let change = RwSignal::new(String::new());
    let value = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let m = match method.get_untracked().as_str() {
            "majority" => Method::Majority,
            "score" => Method::Score,
            "ranked" => Method::Ranked,
            "dots" => match dots.get_untracked().trim().parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => Method::Dots(n),
                _ => {
                    return errors.set(Some((
                        "dots".into(),
                        t("The number of dots must be a whole number from 1 to 100.").into(),
                    )))
                }
            },
            _ => Method::Consent,
        };
        let Ok(days) = days.get_untracked().trim().parse::<i64>() else {
            return errors.set(Some((
                "closes_at".into(),
                t("Say in how many days the decision closes (a whole number).").into(),
            )));
        };
        let quorum_percent = match quorum.get_untracked().trim() {
            "" => charter.get_untracked().map_or(50, |c| c.quorum_percent),
            q => match q.parse::<u32>() {
                Ok(q) => q,
                Err(_) => {
                    return errors.set(Some((
                        "quorum".into(),
                        t("The quorum is a whole percentage from 0 to 100.").into(),
                    )))
                }
            },
        };
        let key = change.get_untracked();
        if key == "dividend" {
            let pot = dividend_pot.get_untracked();
            let Some(unit) = pots
                .get_untracked()
                .and_then(|l| l.into_iter().find(|p| p.0 == pot))
                .map(|p| p.2)
            else {
                return errors.set(Some((
                    "pot".into(),
                    t("Choose the pot the dividend comes from.").into(),
                )));
            };
            match parse_amount(&dividend_amount.get_untracked(), &unit) {
                Ok(amount) => {
                    let split = if split.get_untracked() == "shares" {
                        Split::Shares
                    } else {
                        Split::Equal
                    };
                    value.set(Dividend { pot, amount, split }.encode());
                }
                Err(e) => return errors.set(Some(super::form::field_error(e))),
            }
        }
        let amendment = (!key.is_empty()).then(|| Amendment::new(&key, &value.get_untracked()));
        let mut proposal = NewProposal {
            title: title.get_untracked(),
            method: if amendment.is_some() {
                Method::Consent
            } else {
                m
            },
            options: options
                .get_untracked()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            closes_at: 0,
            quorum_percent,
            amendment,
        };
        if run(handle, errors, |room, me, now| {
            // From the time the command runs: exactly `days` days, as the floor is measured.
            proposal.closes_at = now.saturating_add(days.clamp(0, 3_650) * DAY_MS);
            room.propose(me, proposal, now)
        })
        .is_some()
        {
            title.set(String::new());
            options.set(String::new());
            change.set(String::new());
            value.set(String::new());
        }
    };
    // A change stays open at least the charter's minimum: the closing starts from there.
    Effect::new(move |_| {
        if let (false, Some(c)) = (change.get().is_empty(), charter.get_untracked()) {
            let least = i64::from(c.min_open_hours.div_ceil(24));
            if !matches!(days.get_untracked().trim().parse::<i64>(), Ok(d) if d >= least) {
                days.set(least.to_string());
            }
        }
    });
    let change_options = Signal::derive(|| {
        changes()
            .into_iter()
            .map(|(k, label)| (k.to_owned(), label.to_owned()))
            .collect::<Vec<_>>()
    });
    let expense_options = Signal::derive(move || expenses.get().unwrap_or_default());
    let pot_options = Signal::derive(move || {
        pots.get()
            .unwrap_or_default()
            .into_iter()
            .map(|(id, name, unit, balance)| {
                (id, format!("{name} ({})", super::money(balance, &unit)))
            })
            .collect::<Vec<_>>()
    });
    let dividend_unit = Signal::derive(move || {
        let pot = dividend_pot.get();
        pots.get()
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.0 == pot)
            .map(|p| p.2)
            .unwrap_or_default()
    });
    let split_options = Signal::derive(|| {
        vec![
            (
                "equal".to_owned(),
                t("Equally among the members").to_owned(),
            ),
            ("shares".to_owned(), t("By contribution shares").to_owned()),
        ]
    });
    let method_options = Signal::derive(|| {
        [
            ("consent", t("Consent (agree, abstain, disagree, block)")),
            ("majority", t("Majority (one option each)")),
            ("score", t("Score each option 0–5")),
            ("ranked", t("Ranked choice")),
            ("dots", t("Dot vote")),
        ]
        .map(|(k, words)| (k.to_owned(), words.to_owned()))
        .to_vec()
    });
    let removable = Signal::derive(move || removable.get().unwrap_or_default());
    view! {
        <form class="propose" on:submit=submit data-testid="propose-form">
            <TextField label=t("What should we decide?") field="title" value=title errors maxlength=160 testid="decision-title"/>
            <SelectField label=t("If it passes, it enacts") field="amendment" value=change errors options=change_options testid="decision-change"/>
            {move || match change.get().as_str() {
                "remove" => view! {
                    <MemberPicker label=t("Member to remove") field="member" value errors members=removable testid="decision-member"/>
                }.into_any(),
                "expense" => view! {
                    <SelectField label=t("Expense to approve") field="expense" value errors options=expense_options prompt=t("Choose an expense") testid="decision-expense"/>
                }.into_any(),
                "dividend" => view! {
                    <SelectField label=t("From the pot") field="pot" value=dividend_pot errors options=pot_options prompt=t("Choose a pot") testid="dividend-pot"/>
                    <AmountField label=t("Amount to share") unit=dividend_unit field="amount" value=dividend_amount errors/>
                    <SelectField label=t("Split") field="split" value=split errors options=split_options/>
                    <p class="hint" data-testid="dividend-preview" aria-live="polite">{move || preview.get().flatten()}</p>
                }.into_any(),
                "" => view! {
                    <RadioField label=t("How we decide") field="method" value=method errors options=method_options testid="method"/>
                    {move || (method.get() == "dots").then(|| view! {
                        <TextField label=t("Dots per member") field="dots" value=dots errors inputmode="numeric"/>
                    })}
                    {move || (method.get() != "consent").then(|| view! {
                        <TextArea label=t("Options, one per line") field="options" value=options errors testid="decision-options"/>
                    })}
                }.into_any(),
                _ => view! {
                    <TextField label=t("New value") field="value" value errors testid="decision-value"/>
                }.into_any(),
            }}
            {move || (!change.get().is_empty()).then(|| view! {
                <p class="hint">{t("A change is decided by consent.")}" "{move || charter.get().map(|c| tr!(
                    "It stays open at least {} hours, needs a quorum of at least {}% and two members who agree.",
                    c.min_open_hours, c.quorum_percent
                ))}</p>
            })}
            <TextField label=t("Closes in (days)") field="closes_at" value=days errors inputmode="numeric" testid="decision-days"/>
            <TextField label=t("Quorum (% of members; empty: the charter's)") field="quorum" value=quorum errors inputmode="numeric"/>
            {error_for(errors, "")}
            <button type="submit" data-testid="propose">{t("Propose")}</button>
        </form>
    }
}

/// Stance controls for an open decision.
#[component]
fn StanceForm(handle: Handle, decision: DecisionView) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let reason = RwSignal::new(String::new());
    let id = StoredValue::new(decision.id.clone());
    let n = decision.options.len();
    let numbers: Vec<RwSignal<String>> = (0..n).map(|_| RwSignal::new(String::new())).collect();
    let take = move |stance: Stance| {
        let id = id.get_value();
        let reason = reason.get_untracked();
        run(handle, errors, |room, me, now| {
            room.take_stance(me, &id, stance, &reason, now)
        });
    };
    let method = decision.method;
    let buttons = match method {
        Method::Consent => [
            (Stance::Agree, "Agree"),
            (Stance::Abstain, "Abstain"),
            (Stance::Disagree, "Disagree"),
            (Stance::Block, "Block"),
        ]
        .into_iter()
        .map(|(s, label)| {
            view! { <button type="button" data-testid="stance" data-stance=label on:click=move |_| take(s.clone())>{t(label)}</button> }
        })
        .collect_view()
        .into_any(),
        Method::Majority => decision
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| {
                view! { <button type="button" data-testid="stance" data-stance=o.clone() on:click=move |_| take(Stance::Choose(i))>{o.clone()}</button> }
            })
            .collect_view()
            .into_any(),
        _ => {
            let inputs = numbers.clone();
            let hint = match method {
                Method::Score => t("Score each option from 0 to 5.").to_string(),
                Method::Ranked => t("Number the options in your order of preference (1 = first); leave out any you would not accept.").to_string(),
                Method::Dots(d) => tr!("Spread up to {} dots over the options.", d),
                _ => String::new(),
            };
            let submit = move |_| {
                let values: Vec<Option<u32>> = numbers
                    .iter()
                    .map(|s| s.get_untracked().trim().parse::<u32>().ok())
                    .collect();
                let stance = match method {
                    Method::Score => Stance::Scores(values.iter().map(|v| v.unwrap_or(0)).collect()),
                    Method::Dots(_) => Stance::Dots(values.iter().map(|v| v.unwrap_or(0)).collect()),
                    _ => {
                        let mut ranked: Vec<(u32, usize)> = values
                            .iter()
                            .enumerate()
                            .filter_map(|(i, v)| v.filter(|r| *r > 0).map(|r| (r, i)))
                            .collect();
                        ranked.sort();
                        Stance::Ranking(ranked.into_iter().map(|(_, i)| i).collect())
                    }
                };
                take(stance);
            };
            view! {
                <p class="hint">{hint}</p>
                {decision.options.iter().zip(inputs.iter().copied()).map(|(o, sig)| view! {
                    <label class="inline">{o.clone()}" "<input inputmode="numeric" size="3" prop:value=move || sig.get()
                        on:input=move |ev| sig.set(event_target_value(&ev))/></label>
                }).collect_view()}
                <button type="button" data-testid="stance-submit" on:click=submit>{t("Send my stance")}</button>
            }
            .into_any()
        }
    };
    view! {
        <div class="stance">
            <TextField label=t("Reason (optional)") field="reason" value=reason errors maxlength=1000/>
            <div class="actions">{buttons}</div>
            {error_for(errors, "stance")}
            {error_for(errors, "")}
        </div>
    }
}

/// The proposer's "close it now" (for a change, once the charter's minimum open time is over).
#[component]
fn CloseEarly(handle: Handle, decision: DecisionView) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let id = StoredValue::new(decision.id.clone());
    let from = decision.earliest_close;
    if now_ms() < from {
        return view! {
            <p class="hint" data-testid="close-from">{tr!("You can close it early from {}.", when(from))}</p>
        }
        .into_any();
    }
    let close = move |_| {
        let id = id.get_value();
        run(handle, errors, |room, me, now| {
            room.close_decision(me, &id, now)
        });
    };
    view! {
        <div class="close-early">
            <button type="button" data-testid="close-decision" on:click=close>{t("Close it now")}</button>
            {error_for(errors, "decision")}
            {error_for(errors, "")}
        </div>
    }
    .into_any()
}

#[component]
fn OutcomeForm(handle: Handle, id: String) -> impl IntoView {
    let errors = RwSignal::new(None::<(String, String)>);
    let statement = RwSignal::new(String::new());
    let review = RwSignal::new(String::new());
    let id = StoredValue::new(id);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let review_at =
            match review.get_untracked().trim() {
                "" => None,
                d => match d.parse::<i64>() {
                    Ok(d) if d > 0 => Some(now_ms() + d * DAY_MS),
                    _ => return errors.set(Some((
                        "review".into(),
                        t("Review in how many days? A whole number above 0, or leave it empty.")
                            .into(),
                    ))),
                },
            };
        let (id, text) = (id.get_value(), statement.get_untracked());
        run(handle, errors, |room, me, now| {
            room.record_outcome(me, &id, &text, review_at, now)
        });
    };
    view! {
        <form class="outcome" on:submit=submit>
            <TextArea label=t("Outcome statement") field="statement" value=statement errors rows=2 testid="outcome-text"/>
            <TextField label=t("Review in (days, optional)") field="review" value=review errors inputmode="numeric"/>
            {error_for(errors, "outcome")}
            {error_for(errors, "")}
            <button type="submit" data-testid="record-outcome">{t("Record the outcome")}</button>
        </form>
    }
}

#[component]
pub fn DecisionsSection(
    handle: Handle,
    view: RwSignal<RoomView>,
    /// A decision named by the route (`decisions/<id>`, as search links): highlighted and
    /// scrolled to.
    #[prop(optional)]
    focus: String,
) -> impl IntoView {
    let data = derived(handle, view, |room, me| {
        let now = now_ms();
        (
            room.decisions(now),
            room.members(),
            room.admitted().contains(&me.public()),
            me.public(),
            pots_and_expenses(room),
        )
    });
    super::form::scroll_to_focus("decision-", focus.clone(), move || {
        data.with(Option::is_some)
    });
    let focus = StoredValue::new(focus);
    view! {
        <section class="card">
            <h2>{t("Propose")}</h2>
            {move || match data.get() {
                Some((_, _, true, _, _)) => view! { <ProposeForm handle view/> }.into_any(),
                _ => view! { <p>{t("Once you are a member, you can propose and take part.")}</p> }.into_any(),
            }}
        </section>
        <section class="card">
            <h2>{t("Decisions")}</h2>
            <ul class="decisions" data-testid="decision-list">
                {move || {
                    let (mut list, members, admitted, me, (pots, expenses)) = data.get().unwrap_or_default();
                    list.sort_by(|a, b| b.proposed_at.cmp(&a.proposed_at).then(a.id.cmp(&b.id)));
                    if list.is_empty() {
                        return view! { <li>{t("No decisions yet.")}</li> }.into_any();
                    }
                    list.into_iter().map(|d| {
                        let labels: Vec<String> = if d.method == Method::Consent {
                            [t("agree"), t("abstain"), t("disagree"), t("block")].map(String::from).to_vec()
                        } else {
                            d.options.clone()
                        };
                        let tally = labels.iter().zip(&d.totals)
                            .map(|(l, t)| format!("{l}: {t}"))
                            .collect::<Vec<_>>()
                            .join(" · ");
                        let outcome = outcome_label(&d.outcome, &d.options);
                        let outcome_tag = outcome_key(&d.outcome);
                        let open = d.outcome == Outcome::Open;
                        view! {
                            <li class="decision" class:focused=focus.with_value(|f| *f == d.id) id=format!("decision-{}", d.id)
                                data-testid="decision" data-title=d.title.clone() data-outcome=outcome_tag
                                data-focused=focus.with_value(|f| *f == d.id).to_string()>
                                <h3>{d.title.clone()}</h3>
                                <p class="muted" data-testid="decision-meta">
                                    {tr!("{} · proposed by {} · {} {}", super::labels::method(d.method), name_of(&members, &d.author), if open { t("closes") } else { t("closed") }, when(d.closes_at))}
                                    {match d.closed_early {
                                        Some(ClosedEarly::ByProposer) => Some(t(" · closed early by its proposer")),
                                        Some(ClosedEarly::AllAnswered) => Some(t(" · closed: everyone had answered")),
                                        None => None,
                                    }}
                                    {open.then(|| view! { " " <AddToCalendar event=closing_event(&d) name=d.title.clone()/> })}
                                </p>
                                {d.amendment.as_ref().map(|a| view! {
                                    <p data-testid="enacts">{change_text(a, &members, &expenses, &pots)}{d.enacted.then(|| t(" (enacted)"))}</p>
                                })}
                                <p data-testid="tally">{tr!("{} taking part · {}", d.participants, tally)}</p>
                                {stance_list(&d, &members, open)}
                                <p><strong data-testid="outcome">{outcome}</strong></p>
                                {d.statement.as_ref().map(|s| view! {
                                    <p data-testid="statement">{format!("“{}” — {}, {}", s.text, name_of(&members, &s.author), when(s.at))}
                                    {(s.review_at > 0).then(|| tr!(" · review {}", when(s.review_at)))}</p>
                                })}
                                {(open && admitted).then(|| view! { <StanceForm handle decision=d.clone()/> })}
                                {(open && admitted && d.author == me).then(|| view! { <CloseEarly handle decision=d.clone()/> })}
                                {(!open && admitted && d.statement.is_none()).then(|| view! { <OutcomeForm handle id=d.id.clone()/> })}
                            </li>
                        }
                    }).collect_view().into_any()
                }}
            </ul>
        </section>
    }
}
