//! The charter: the rules in force and how they came to be (changed only by decisions).

use super::form::{derived, when, Handle};
use super::now_ms;
use super::runtime::RoomView;
use super::t;
use leptos::prelude::*;

/// A charter rule's name, by the key amendments use.
pub fn rule_label(key: &str) -> String {
    match key {
        "purpose" => t("Purpose").into(),
        "values" => t("Values").into(),
        "admission" => t("Vouches a newcomer needs").into(),
        "method" => t("Default decision method").into(),
        "quorum_percent" => t("Default quorum").into(),
        "min_open_hours" => t("Changes stay open at least").into(),
        "approvals" => t("Approvals an expense needs").into(),
        "licence" => t("Default licence").into(),
        "value_types" => t("Value types (weight)").into(),
        other => match other.strip_prefix("value_type:") {
            Some(name) => tr!(
                "Weight of the value type {}",
                super::labels::value_type(name)
            ),
            None => other.to_owned(),
        },
    }
}

#[component]
pub fn CharterSection(handle: Handle, view: RwSignal<RoomView>) -> impl IntoView {
    let data = derived(handle, view, |room, _| {
        let now = now_ms();
        (
            room.charter(now),
            room.charter_history(now),
            room.admitted().len(),
        )
    });
    move || {
        let Some((c, history, admitted)) = data.get() else {
            return view! { <p>{t("Loading…")}</p> }.into_any();
        };
        let or_none = |s: &str| {
            if s.is_empty() {
                t("(not written yet)").to_string()
            } else {
                s.to_owned()
            }
        };
        let admission = if c.admission == 0 {
            tr!(
                "min(3, half the members, rounded up): {} now",
                c.admission_threshold(admitted)
            )
        } else {
            tr!("{} (at most the number of members)", c.admission)
        };
        // (rule key, test id, value): test ids stay the same in every language.
        let rows = vec![
            ("purpose", "purpose", or_none(&c.purpose)),
            ("values", "values", or_none(&c.values)),
            ("admission", "vouches-a-newcomer-needs", admission),
            (
                "method",
                "default-decision-method",
                super::labels::method(c.method),
            ),
            (
                "quorum_percent",
                "default-quorum",
                tr!("{}% of members", c.quorum_percent),
            ),
            (
                "min_open_hours",
                "changes-stay-open-at-least",
                tr!("{} hours", c.min_open_hours),
            ),
            (
                "approvals",
                "approvals-an-expense-needs",
                tr!("{} (never the requester's own)", c.approvals),
            ),
            (
                "licence",
                "default-licence",
                super::labels::licence(&c.licence),
            ),
            (
                "value_types",
                "value-types-(weight)",
                c.value_types
                    .iter()
                    .map(|(t, w)| tr!("{} ({}%)", super::labels::value_type(t), w))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ];
        view! {
            <section class="card" data-testid="charter">
                <h2>{t("Charter")}</h2>
                <dl class="charter">
                    {rows.into_iter().map(|(key, id, v)| view! { <dt>{rule_label(key)}</dt><dd data-testid=format!("charter-{id}")>{v}</dd> }).collect_view()}
                </dl>
                <p class="hint">{t("The charter changes only when a decision that proposes the change passes and its outcome is recorded (see Decisions).")}</p>
            </section>
            <section class="card">
                <h2>{t("History")}</h2>
                {if history.is_empty() {
                    view! { <p>{t("No changes yet: the room runs on the starting rules.")}</p> }.into_any()
                } else {
                    view! {
                        <ol class="history">
                            {history.into_iter().map(|(by, at, a)| {
                                let how = if by == "founding" { t("starter charter") } else { t("by decision") };
                                view! { <li>{format!("{}: {} → {} ({how})", when(at), rule_label(&a.key), super::labels::rule_value(&a.key, &a.value))}</li> }
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }}
            </section>
        }
        .into_any()
    }
}
