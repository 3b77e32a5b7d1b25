//! Words for the model's vocabularies, in the app's language: each closed set of the domain
//! (licences, decision methods, standings, value types, resource kinds, charter rules) gets one
//! function here that names every member of the set through the translation table, so no label
//! reaches a screen without it. Names a room made up itself (a value type added by decision) are
//! shown as written.

use super::{money, t};
use crate::domain::{is_time, FeedValue, Licence, Method, Standing};

/// A licence stored by name; a name outside the known set as written.
pub fn licence(name: &str) -> String {
    match Licence::from_name(name) {
        Some(l) => t(match l {
            Licence::CcBySa4 => "CC BY-SA 4.0",
            Licence::Cc0 => "CC0",
            Licence::Gpl3 => "GPL-3.0",
            Licence::PeerProduction => "Peer Production Licence",
            Licence::MembersOnly => "members only",
        })
        .into(),
        None => name.to_owned(),
    }
}

/// A decision method, as the decision list and the charter name it.
pub fn method(m: Method) -> String {
    match m {
        Method::Consent => t("consent").into(),
        Method::Majority => t("majority").into(),
        Method::Score => t("score (0–5)").into(),
        Method::Ranked => t("ranked choice").into(),
        Method::Dots(n) => tr!("dot vote ({} dots)", n),
    }
}

/// A member's standing in the room.
pub fn standing(s: &Standing) -> String {
    match s {
        Standing::Admitted => t("member").into(),
        Standing::Pending { vouches, needed } => {
            tr!("pending: {} of {} vouches", vouches, needed)
        }
        Standing::Left => t("left").into(),
        Standing::Removed => t("removed by decision").into(),
    }
}

/// A contribution value type: the starter ones translated, a room's own as written.
pub fn value_type(name: &str) -> String {
    match name {
        "work" => t("work").into(),
        "care" => t("care").into(),
        "money" => t("money").into(),
        "materials" => t("materials").into(),
        "knowledge" => t("knowledge").into(),
        other => other.to_owned(),
    }
}

/// A quantity of a value type: time as hours (`1:30 h`), other value in whole units.
pub fn quantity(quantity: i64, value_type_name: &str) -> String {
    if is_time(value_type_name) {
        money(quantity, "hours")
    } else {
        format!("{quantity} {}", value_type(value_type_name))
    }
}

/// A pot's unit: a currency code as written, time in the app's word for hours.
pub fn unit(unit: &str) -> String {
    match unit {
        "hours" => t("hours").into(),
        code => code.to_owned(),
    }
}

/// What kind of thing a shared resource is.
pub fn resource_kind(kind: &str) -> String {
    match kind {
        "physical" => t("a thing").into(),
        "knowledge" => t("knowledge").into(),
        other => other.to_owned(),
    }
}

/// A share in basis points (1/100 of a percent), with the language's decimal separator.
pub fn percent(basis_points: i64) -> String {
    money(basis_points, "%")
}

/// A value in an activity-feed phrase, written the way the app's language writes it.
pub fn feed_value(v: &FeedValue) -> String {
    match v {
        FeedValue::Text(text) => text.clone(),
        FeedValue::Amount { minor, unit } => money(*minor, unit),
        FeedValue::Quantity {
            quantity: q,
            value_type,
        } => quantity(*q, value_type),
    }
}

/// A charter rule's value as the charter and a proposal show it: methods and licences by their
/// words, weights as percentages, text as written.
pub fn rule_value(key: &str, value: &str) -> String {
    match key {
        "method" => Method::parse(value).map_or_else(|| value.to_owned(), method),
        "licence" => licence(value),
        k if k.starts_with("value_type:") => tr!("{}%", value),
        _ => value.to_owned(),
    }
}
