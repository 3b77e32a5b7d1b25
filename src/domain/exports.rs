//! What leaves the app as files: a room backup (imported back by merging, never overwriting),
//! the ledger and contributions as CSV, and economic events as ValueFlows JSON-LD.

use super::pot::format_amount;
use super::room::{DomainError, RoomDoc};
use crate::crypto::{from_base64url, to_base64url, Identity, RoomSecret};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The largest backup file read (a 50 MB room, base64-encoded, with room to spare).
pub const MAX_BACKUP_BYTES: usize = 80 * 1024 * 1024;
const FORMAT: &str = "tequio-room-backup";

/// A whole room as one file: enough to open it on a new device and rejoin its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub room_id: String,
    pub name: String,
    /// The room secret, base64url (the join link's secret).
    pub secret: String,
    /// This member's key in the room (base64url secret), so a restore continues as them.
    pub identity: String,
    pub exported_at: i64,
    /// The automerge document, saved whole.
    pub document: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct BackupFile {
    format: String,
    version: u32,
    room_id: String,
    name: String,
    secret: String,
    #[serde(default)]
    identity: String,
    exported_at: i64,
    document: String,
}

fn bad(problem: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field: "backup",
        problem: problem.into(),
    }
}

impl Backup {
    /// The backup of an open room.
    pub fn of(room: &RoomDoc, secret: &str, identity: &str, now_ms: i64) -> Self {
        Backup {
            room_id: room.room_id().to_owned(),
            name: room.name().unwrap_or_default(),
            secret: secret.to_owned(),
            identity: identity.to_owned(),
            exported_at: now_ms,
            document: room.doc().clone().save(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&BackupFile {
            format: FORMAT.into(),
            version: 1,
            room_id: self.room_id.clone(),
            name: self.name.clone(),
            secret: self.secret.clone(),
            identity: self.identity.clone(),
            exported_at: self.exported_at,
            document: to_base64url(&self.document),
        })
        .unwrap_or_default()
    }

    /// Reads a backup file, checking everything before anything is stored: its size, its format,
    /// that the secret is the room's (the room id derives from it), that the key is a key, and
    /// that the document loads as that room.
    pub fn from_json(bytes: &[u8]) -> Result<(Self, RoomDoc), DomainError> {
        if bytes.len() > MAX_BACKUP_BYTES {
            return Err(bad(format!(
                "is {} MB; at most {} MB can be imported",
                bytes.len() / (1024 * 1024),
                MAX_BACKUP_BYTES / (1024 * 1024)
            )));
        }
        let file: BackupFile = serde_json::from_slice(bytes)
            .map_err(|_| bad("is not a Tequio room backup (it could not be read)"))?;
        if file.format != FORMAT {
            return Err(bad("is not a Tequio room backup"));
        }
        if file.version != 1 {
            return Err(bad(format!(
                "was made by a newer Tequio (format {}); update the app first",
                file.version
            )));
        }
        let secret = RoomSecret::from_base64url(&file.secret)
            .map_err(|_| bad("holds a damaged room secret"))?;
        if !file.identity.is_empty() && Identity::from_secret(&file.identity).is_none() {
            return Err(bad("holds a damaged member key"));
        }
        let document =
            from_base64url(&file.document).ok_or_else(|| bad("holds a damaged document"))?;
        let room = RoomDoc::load_chunks(&file.room_id, [document.as_slice()])
            .map_err(|_| bad("holds a document that could not be loaded"))?;
        // The room's first secret derives its id; a later one is brought by a rotation in it.
        if secret.room_id() != file.room_id && !room.brought_key(&secret) {
            return Err(bad("holds a secret that does not belong to its room"));
        }
        Ok((
            Backup {
                room_id: file.room_id,
                name: file.name,
                secret: file.secret,
                identity: file.identity,
                exported_at: file.exported_at,
                document,
            },
            room,
        ))
    }
}

/// A CSV cell: quoted when needed, and text a spreadsheet would run as a formula is prefixed
/// with an apostrophe.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn row(cells: &[String]) -> String {
    let mut line = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// An exact decimal from minor units (a number column, unlike `format_amount`'s text).
fn decimal(minor: i64, unit: &str) -> String {
    if unit == "hours" {
        return minor.to_string();
    }
    let sign = if minor < 0 { "-" } else { "" };
    let v = minor.unsigned_abs();
    format!("{sign}{}.{:02}", v / 100, v % 100)
}

/// A UTC time as ISO 8601 (`2026-11-21T10:50:48Z`), from milliseconds since 1970.
pub fn iso_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Members' display names by key, derived once per export (not once per line).
struct Names(std::collections::HashMap<String, String>);

impl Names {
    fn of(room: &RoomDoc) -> Self {
        Names(
            room.members()
                .into_iter()
                .map(|m| (m.key, m.profile.name))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_default()
    }
}

impl RoomDoc {
    /// Every pot's ledger as CSV: one line per entry, with its state at `now_ms`. Amounts are
    /// exact decimals in the pot's currency (minutes for "hours" pots).
    pub fn ledger_csv(&self, now_ms: i64) -> String {
        let names = Names::of(self);
        let mut out = row(&[
            "pot",
            "time",
            "kind",
            "amount",
            "unit",
            "memo",
            "author",
            "author_key",
            "state",
            "id",
        ]
        .map(String::from));
        for pot in self.pots(now_ms) {
            let unit = if pot.unit == "hours" {
                "minutes".to_string()
            } else {
                pot.unit.clone()
            };
            for l in &pot.lines {
                out.push_str(&row(&[
                    pot.name.clone(),
                    iso_time(l.at),
                    format!("{:?}", l.kind).to_lowercase(),
                    decimal(l.amount, &pot.unit),
                    unit.clone(),
                    l.memo.clone(),
                    names.get(&l.author),
                    l.author.clone(),
                    format!("{:?}", l.state),
                    l.id.clone(),
                ]));
            }
        }
        out
    }

    /// Every contribution as CSV (quantities in minutes for time, units otherwise).
    pub fn contributions_csv(&self, now_ms: i64) -> String {
        let names = Names::of(self);
        let mut out = row(&[
            "date",
            "contributor",
            "contributor_key",
            "value_type",
            "quantity",
            "description",
            "beneficiary",
            "validations",
            "confirmed",
            "counts",
            "id",
        ]
        .map(String::from));
        let mut list = self.contributions(now_ms);
        list.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
        for c in list {
            out.push_str(&row(&[
                iso_time(c.date),
                names.get(&c.contributor),
                c.contributor.clone(),
                c.value_type.clone(),
                c.quantity.to_string(),
                c.description.clone(),
                c.beneficiary
                    .as_deref()
                    .map(|b| names.get(b))
                    .unwrap_or_default(),
                c.validators.len().to_string(),
                c.confirmed.to_string(),
                c.counts.to_string(),
                c.id.clone(),
            ]));
        }
        out
    }

    /// The room's economic events as ValueFlows (JSON-LD): counted contributions as `work`
    /// (time) or `deliverService`, counted money movements and time-bank transfers as
    /// `transfer`, lending as `transferCustody`. Agents are members' public keys.
    pub fn valueflows_json(&self, now_ms: i64) -> Value {
        let names = Names::of(self);
        let agent =
            |key: &str| json!({ "@id": format!("urn:tequio:agent:{key}"), "name": names.get(key) });
        let room = json!({ "@id": format!("urn:tequio:room:{}", self.room_id()), "name": self.name().unwrap_or_default() });
        let quantity = |n: i64, unit: &str| {
            if unit == "minutes" {
                json!({ "hasNumericalValue": n, "hasUnit": "om2:minute-Time" })
            } else {
                json!({ "hasNumericalValue": decimal(n, unit), "hasUnit": unit })
            }
        };
        let mut events = Vec::new();
        for c in self.contributions(now_ms).into_iter().filter(|c| c.counts) {
            let time = c.value_type == "work" || c.value_type == "care";
            events.push(json!({
                "@id": format!("urn:tequio:contribution:{}", c.id),
                "@type": "vf:EconomicEvent",
                "action": if time { "work" } else { "deliverService" },
                "provider": agent(&c.contributor),
                "receiver": c.beneficiary.as_deref().map(agent).unwrap_or_else(|| room.clone()),
                "resourceClassifiedAs": c.value_type,
                "effortQuantity": if time { quantity(c.quantity, "minutes") } else { Value::Null },
                "resourceQuantity": if time { Value::Null } else { json!({ "hasNumericalValue": c.quantity, "hasUnit": "one" }) },
                "hasPointInTime": iso_time(c.date),
                "note": c.description,
            }));
        }
        for pot in self.pots(now_ms) {
            let unit = if pot.unit == "hours" {
                "minutes"
            } else {
                pot.unit.as_str()
            };
            for l in pot
                .lines
                .iter()
                .filter(|l| l.state == super::EntryState::Counted)
            {
                let (provider, receiver) = match l.kind {
                    super::EntryKind::Inflow => (agent(&l.author), room.clone()),
                    _ => (room.clone(), agent(&l.author)),
                };
                events.push(json!({
                    "@id": format!("urn:tequio:ledger:{}", l.id),
                    "@type": "vf:EconomicEvent",
                    "action": "transfer",
                    "provider": provider,
                    "receiver": receiver,
                    "resourceInventoriedAs": { "@id": format!("urn:tequio:pot:{}", pot.id), "name": pot.name },
                    "resourceQuantity": quantity(l.amount.abs(), unit),
                    "hasPointInTime": iso_time(l.at),
                    "note": format!("{} ({})", l.memo, format_amount(l.amount, &pot.unit)),
                }));
            }
        }
        for t in self.time_accounts().1.into_iter().filter(|t| t.counted) {
            events.push(json!({
                "@id": format!("urn:tequio:hours:{}", t.id),
                "@type": "vf:EconomicEvent",
                "action": "transfer",
                "provider": agent(&t.from),
                "receiver": agent(&t.to),
                "resourceClassifiedAs": "time-bank-hours",
                "resourceQuantity": quantity(t.minutes, "minutes"),
                "hasPointInTime": iso_time(t.at),
                "note": t.memo,
            }));
        }
        for r in self.resources() {
            for t in &r.transfers {
                let (provider, receiver) = if t.kind == "handover" {
                    (room.clone(), agent(&t.holder))
                } else {
                    (agent(&t.by), room.clone())
                };
                events.push(json!({
                    "@id": format!("urn:tequio:custody:{}", t.id),
                    "@type": "vf:EconomicEvent",
                    "action": "transferCustody",
                    "provider": provider,
                    "receiver": receiver,
                    "resourceInventoriedAs": { "@id": format!("urn:tequio:resource:{}", r.id), "name": r.resource.name },
                    "resourceQuantity": { "hasNumericalValue": 1, "hasUnit": "one" },
                    "hasPointInTime": iso_time(t.at),
                    "note": t.note,
                }));
            }
        }
        // Keep every event's key set, dropping only nulls.
        for e in &mut events {
            if let Some(map) = e.as_object_mut() {
                map.retain(|_, v| !v.is_null());
            }
        }
        json!({
            "@context": { "vf": "https://w3id.org/valueflows/ont/vf#", "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/" },
            "@id": format!("urn:tequio:room:{}", self.room_id()),
            "name": self.name().unwrap_or_default(),
            "exportedAt": iso_time(now_ms),
            "@graph": events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::community;
    use crate::domain::{EntryKind, NewContribution, NewEntry};

    #[test]
    fn iso_times_match_known_dates() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso_time(1_795_258_248_000), "2026-11-21T10:50:48Z");
        assert_eq!(iso_time(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-12.50"), "'-12.50");
        assert_eq!(decimal(-1250, "EUR"), "-12.50");
        assert_eq!(decimal(5, "EUR"), "0.05");
    }

    fn busy_room() -> (RoomDoc, Vec<Identity>) {
        let (mut room, m) = community(2);
        let pot = room.open_pot(&m[0], "Common pot", "EUR", 1).unwrap();
        let dues = room
            .record(
                &m[0],
                &pot,
                NewEntry::new(EntryKind::Inflow, 12_050, "Dues, March"),
                2,
            )
            .unwrap();
        room.confirm(&m[1], &pot, &dues, 2).unwrap();
        let c = room
            .log_contribution(
                &m[1],
                NewContribution {
                    value_type: "work".into(),
                    quantity: 90,
                    description: "=cmd|' /C calc'!A0".into(),
                    date: 3,
                    beneficiary: None,
                    reverses: None,
                },
                3,
            )
            .unwrap();
        room.validate_contribution(&m[0], &c, 4).unwrap();
        room.pay_hours(&m[0], &m[1].public(), 45, "Bike, fixed", 5)
            .unwrap();
        (room, m)
    }

    #[test]
    fn ledger_and_contributions_export_as_csv() {
        let (room, _) = busy_room();
        let ledger = room.ledger_csv(10);
        let lines: Vec<&str> = ledger.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "pot,time,kind,amount,unit,memo,author,author_key,state,id"
        );
        assert!(
            lines[1].starts_with(
                "Common pot,1970-01-01T00:00:00Z,inflow,120.50,EUR,\"Dues, March\",Member 0,"
            ),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(",Counted,"));
        let contributions = room.contributions_csv(10);
        let line = contributions.split("\r\n").nth(1).unwrap();
        assert!(
            line.contains(",work,90,'=cmd|' /C calc'!A0,,1,false,true,"),
            "{line}"
        );
    }

    #[test]
    fn valueflows_lists_counted_events_with_integer_quantities() {
        let (room, m) = busy_room();
        let vf = room.valueflows_json(10);
        let events = vf["@graph"].as_array().unwrap();
        let actions: Vec<&str> = events
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["work", "transfer", "transfer"]);
        assert_eq!(events[0]["effortQuantity"]["hasNumericalValue"], 90);
        assert_eq!(
            events[0]["provider"]["@id"],
            format!("urn:tequio:agent:{}", m[1].public())
        );
        assert_eq!(events[1]["resourceQuantity"]["hasNumericalValue"], "120.50");
        assert_eq!(events[1]["resourceQuantity"]["hasUnit"], "EUR");
        assert_eq!(events[2]["resourceQuantity"]["hasNumericalValue"], 45);
        assert!(events
            .iter()
            .all(|e| e.as_object().unwrap().values().all(|v| !v.is_null())));
    }

    #[test]
    fn a_backup_round_trips_and_bad_files_are_refused_with_a_reason() {
        let secret = RoomSecret::generate();
        let mut real = RoomDoc::create(&secret.room_id(), "Commons", 0).unwrap();
        let m = [Identity::generate()];
        let ana = crate::domain::Profile {
            name: "Ana".into(),
            ..Default::default()
        };
        real.found(&m[0], ana, 1).unwrap();
        let backup = Backup::of(&real, &secret.to_base64url(), &m[0].secret(), 99);
        let json = backup.to_json();
        let (read, loaded) = Backup::from_json(json.as_bytes()).unwrap();
        assert_eq!(read, backup);
        assert_eq!(loaded.members(), real.members());
        assert_eq!(loaded.members()[0].profile.name, "Ana");

        let refused = |text: &str| match Backup::from_json(text.as_bytes()) {
            Err(DomainError::Invalid {
                field: "backup",
                problem,
            }) => problem,
            other => panic!("expected a refusal, got {:?}", other.map(|b| b.0.name)),
        };
        assert!(refused("not json").contains("could not be read"));
        assert!(refused(&json.replace(FORMAT, "something-else")).contains("not a Tequio"));
        assert!(refused(&json.replace("\"version\": 1", "\"version\": 9")).contains("newer"));
        let other = RoomSecret::generate().to_base64url();
        assert!(refused(&json.replace(&secret.to_base64url(), &other)).contains("does not belong"));
        let doc = to_base64url(&backup.document);
        assert!(refused(&json.replace(&doc, "AAAA")).contains("could not be loaded"));
        assert!(refused(&json.replace(&doc, "!!")).contains("damaged document"));
        assert!(refused(&json.replace(&m[0].secret(), "xx")).contains("damaged member key"));
    }
}
