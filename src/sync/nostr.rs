//! Signaling over Nostr relays (NIP-01): a sealed signal travels as the content of an
//! *ephemeral* event (relays pass it to subscribers and keep nothing), tagged with the room's
//! opaque topic of the day and of the day's kind (`sync::topic`), signed (BIP-340) with a
//! throwaway key made for each visit to a room, so nothing links the events to a person or to
//! earlier visits. The relay sees the topic, the kind, the throwaway public key and ciphertext.

use super::topic::Topic;
use crate::crypto::{hex, random_bytes};
use k256::schnorr::SigningKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Event kinds of the ephemeral range (20000–29999), which relays do not store: a room's
/// signals use one of them, changing daily.
pub const MIN_EPHEMERAL_KIND: u32 = 20_000;
pub const EPHEMERAL_KINDS: u32 = 10_000;
/// The longest relay message read (a sealed signal plus the event around it); longer ones are
/// dropped before parsing.
pub const MAX_RELAY_MESSAGE: usize = super::MAX_SIGNAL_TEXT + 4 * 1024;

/// A throwaway Nostr key.
pub struct NostrKey(SigningKey);

impl NostrKey {
    pub fn generate() -> Self {
        loop {
            let mut bytes = [0u8; 32];
            random_bytes(&mut bytes);
            // Fails only for zero or values above the group order: draw again.
            if let Ok(key) = SigningKey::from_bytes(&bytes) {
                return NostrKey(key);
            }
        }
    }

    /// The x-only public key as 64 hex digits.
    pub fn public_hex(&self) -> String {
        hex(&self.0.verifying_key().to_bytes())
    }

    /// The relay message publishing `content` under `topic` (with its kind): `["EVENT", {…}]`.
    pub fn event(&self, topic: &Topic, content: &str, created_at: u64) -> String {
        self.event_with_id(topic, content, created_at).1
    }

    /// [`NostrKey::event`], with the event's id (64 hex digits): the relay's `OK` names it.
    pub fn event_with_id(&self, topic: &Topic, content: &str, created_at: u64) -> (String, String) {
        self.stored_event(topic, content, created_at, None)
    }

    /// A stored event that relays may delete after `expires` (s; NIP-40), with its id.
    pub fn stored_event(
        &self,
        topic: &Topic,
        content: &str,
        created_at: u64,
        expires: Option<u64>,
    ) -> (String, String) {
        let pubkey = self.public_hex();
        let tags = match expires {
            Some(at) => json!([["t", topic.name], ["expiration", at.to_string()]]),
            None => json!([["t", topic.name]]),
        };
        let id = event_id(&pubkey, created_at, topic.kind, &tags, content);
        let mut aux = [0u8; 32];
        random_bytes(&mut aux);
        let sig = self
            .0
            .sign_raw(&id, &aux)
            .expect("signing a 32-byte digest cannot fail");
        let message = json!(["EVENT", {
            "id": hex(&id),
            "pubkey": pubkey,
            "created_at": created_at,
            "kind": topic.kind,
            "tags": tags,
            "content": content,
            "sig": hex(&sig.to_bytes()),
        }])
        .to_string();
        (hex(&id), message)
    }
}

/// NIP-01 event id: SHA-256 of `[0, pubkey, created_at, kind, tags, content]` as compact JSON.
fn event_id(pubkey: &str, created_at: u64, kind: u32, tags: &Value, content: &str) -> [u8; 32] {
    let serialized = json!([0, pubkey, created_at, kind, tags, content]).to_string();
    Sha256::digest(serialized.as_bytes()).into()
}

/// The relay message subscribing to a room's signals on `topics` from `since` (seconds) on.
pub fn subscribe(subscription: &str, topics: &[Topic], since: u64) -> String {
    let kinds: Vec<u32> = topics.iter().map(|t| t.kind).collect();
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    json!(["REQ", subscription, {"kinds": kinds, "#t": names, "since": since}]).to_string()
}

/// The relay message ending a subscription.
pub fn unsubscribe(subscription: &str) -> String {
    json!(["CLOSE", subscription]).to_string()
}

/// What a relay said, as far as signaling cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayMessage {
    /// A room signal (the content of an event of ours on this topic).
    Signal(String),
    /// The relay refused an event or subscription, with its reason.
    Refused(String),
    /// Anything else (end of stored events, notices, acceptances).
    Other,
}

/// Whether an event carries one of `topics` with that topic's kind (the relay's filtering is
/// not trusted).
fn on_topics(event: &Value, topics: &[Topic]) -> bool {
    topics.iter().any(|topic| {
        event["kind"] == topic.kind
            && event["tags"].as_array().is_some_and(|tags| {
                tags.iter().any(|t| {
                    t.as_array()
                        .is_some_and(|t| t.len() >= 2 && t[0] == "t" && t[1] == topic.name.as_str())
                })
            })
    })
}

/// Reads a message from a relay. Size-capped before parsing; never panics; an event is taken
/// only if it carries one of `topics` with that topic's kind (the relay's filtering is not
/// trusted).
pub fn read(text: &str, subscription: &str, topics: &[Topic]) -> Option<RelayMessage> {
    if text.len() > MAX_RELAY_MESSAGE {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let items = value.as_array()?;
    match items.first()?.as_str()? {
        "EVENT" => {
            let (sub, event) = (items.get(1)?.as_str()?, items.get(2)?);
            let id_ok = event["id"].as_str().is_some_and(|id| id.len() == 64);
            (sub == subscription && on_topics(event, topics) && id_ok)
                .then(|| RelayMessage::Signal(event["content"].as_str().unwrap_or("").to_owned()))
        }
        "OK" if items.get(2) == Some(&Value::Bool(false)) => Some(RelayMessage::Refused(
            items
                .get(3)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        )),
        "CLOSED" => Some(RelayMessage::Refused(
            items
                .get(2)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        )),
        _ => Some(RelayMessage::Other),
    }
}

/// The longest relay message read for the mailbox (a stored event of the largest size, with
/// room for the JSON around it).
pub const MAX_MAIL_MESSAGE: usize = super::mailbox::MAX_CONTENT + 4 * 1024;

/// What a relay said, as far as the mailbox cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailMessage {
    /// A stored event of the room's mailbox on subscription `sub`: its id (checked against
    /// its fields), content, when it says it was made (s), and the event itself (JSON, to be
    /// published again to a relay that lacks it: its signature still holds).
    Event {
        sub: String,
        id: String,
        content: String,
        created_at: u64,
        event: String,
    },
    /// The relay stored the event with this id.
    Stored(String),
    /// The relay refused the event with this id; `slow_down` when it says to (rate-limited).
    Refused {
        id: String,
        reason: String,
        slow_down: bool,
    },
    /// A well-formed event not of the room's mailbox now (another topic or kind: one of a week
    /// or key this device no longer reads). Not the relay's fault.
    OffTopic,
    /// The relay sent every stored event it has for subscription `sub`.
    EndOfStored(String),
    /// The relay ended subscription `sub` (NIP-01 `CLOSED`), with its reason.
    Closed { sub: String, reason: String },
    /// Anything else.
    Other,
}

/// The relay message asking for a room's mailbox on `topics`, from `since` (s) on, at most
/// `limit` events, none after `until` if given (to page back through a full answer).
pub fn mail_request(
    subscription: &str,
    topics: &[Topic],
    since: u64,
    until: Option<u64>,
    limit: usize,
) -> String {
    let kinds: Vec<u32> = topics.iter().map(|t| t.kind).collect();
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    let mut filter = json!({"kinds": kinds, "#t": names, "since": since, "limit": limit});
    if let Some(until) = until {
        filter["until"] = json!(until);
    }
    json!(["REQ", subscription, filter]).to_string()
}

/// The id an event's fields give it (NIP-01), if they are of the right types.
fn id_of(event: &Value) -> Option<String> {
    let pubkey = event["pubkey"].as_str()?;
    let created_at = event["created_at"].as_u64()?;
    let kind = u32::try_from(event["kind"].as_u64()?).ok()?;
    let content = event["content"].as_str()?;
    event["tags"].as_array()?;
    Some(hex(&event_id(
        pubkey,
        created_at,
        kind,
        &event["tags"],
        content,
    )))
}

/// Reads a relay message for the mailbox. Size-capped before parsing; never panics; an event
/// is taken only with one of `topics` and that topic's kind, and an id its fields give it (the
/// relay's filtering and word are not trusted).
pub fn read_mail(text: &str, topics: &[Topic]) -> Option<MailMessage> {
    if text.len() > MAX_MAIL_MESSAGE {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let items = value.as_array()?;
    let string = |i: usize| {
        items
            .get(i)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match items.first()?.as_str()? {
        "EVENT" => {
            let (sub, event) = (items.get(1)?.as_str()?, items.get(2)?);
            let id = id_of(event).filter(|id| event["id"] == id.as_str())?;
            if !on_topics(event, topics) {
                return Some(MailMessage::OffTopic);
            }
            Some(MailMessage::Event {
                sub: sub.to_owned(),
                id,
                content: event["content"].as_str().unwrap_or("").to_owned(),
                created_at: event["created_at"].as_u64().unwrap_or(0),
                event: event.to_string(),
            })
        }
        "OK" if items.get(2) == Some(&Value::Bool(true)) => Some(MailMessage::Stored(string(1))),
        "OK" => {
            let reason = string(3);
            Some(MailMessage::Refused {
                id: string(1),
                slow_down: reason.starts_with("rate-limited"),
                reason,
            })
        }
        "EOSE" => Some(MailMessage::EndOfStored(string(1))),
        "CLOSED" => Some(MailMessage::Closed {
            sub: string(1),
            reason: string(2),
        }),
        _ => Some(MailMessage::Other),
    }
}

/// The relay message publishing an event read from another relay (see `MailMessage::Event`).
pub fn republish(event: &str) -> String {
    format!("[\"EVENT\",{event}]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::schnorr::{Signature, VerifyingKey};

    fn topic(name: &str, kind: u32) -> Topic {
        Topic {
            name: name.into(),
            kind,
        }
    }

    #[test]
    fn events_are_signed_nip01_events_on_the_topic() {
        let key = NostrKey::generate();
        let text = key.event(&topic("topic123", 21_430), "c2VhbGVk", 1_700_000_000);
        let msg: Value = serde_json::from_str(&text).unwrap();
        let ev = &msg[1];
        assert_eq!(msg[0], "EVENT");
        assert_eq!(ev["kind"], 21_430);
        let id = event_id(
            ev["pubkey"].as_str().unwrap(),
            1_700_000_000,
            21_430,
            &ev["tags"],
            "c2VhbGVk",
        );
        assert_eq!(ev["id"], hex(&id));
        let unhex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let pk = VerifyingKey::from_bytes(&unhex(ev["pubkey"].as_str().unwrap())).unwrap();
        let sig = Signature::try_from(unhex(ev["sig"].as_str().unwrap()).as_slice()).unwrap();
        pk.verify_raw(&id, &sig).expect("a valid BIP-340 signature");
        // A fresh key each time: nothing links two visits.
        assert_ne!(NostrKey::generate().public_hex(), key.public_hex());
    }

    #[test]
    fn mailbox_messages_are_read_carefully() {
        let key = NostrKey::generate();
        let week = [topic("week", 4_321)];
        let (id, event) = key.event_with_id(&week[0], "sealed", 1_700_000_000);
        let ev: Value = serde_json::from_str(&event).unwrap();
        assert_eq!(ev[1]["id"], id.as_str());
        let delivered = json!(["EVENT", "m", ev[1]]).to_string();
        let Some(MailMessage::Event {
            sub,
            id: read_id,
            content,
            created_at,
            event: again,
        }) = read_mail(&delivered, &week)
        else {
            panic!("the event is read");
        };
        assert_eq!(
            (sub.as_str(), read_id.as_str(), content.as_str(), created_at),
            ("m", id.as_str(), "sealed", 1_700_000_000)
        );
        // Published again as it came: the same event, its signature intact.
        let republished: Value = serde_json::from_str(&republish(&again)).unwrap();
        assert_eq!(republished[1], ev[1]);
        assert_eq!(
            read_mail(&delivered, &[topic("week", 4_322)]),
            Some(MailMessage::OffTopic)
        );
        // An id its fields do not give (a relay's made-up or altered event) is not read.
        let mut altered = ev[1].clone();
        altered["content"] = json!("other");
        let altered = json!(["EVENT", "m", altered]).to_string();
        assert_eq!(read_mail(&altered, &week), None);
        let ok = format!(r#"["OK","{id}",true,""]"#);
        assert_eq!(read_mail(&ok, &week), Some(MailMessage::Stored(id.clone())));
        let slow = format!(r#"["OK","{id}",false,"rate-limited: slow down"]"#);
        assert_eq!(
            read_mail(&slow, &week),
            Some(MailMessage::Refused {
                id: id.clone(),
                reason: "rate-limited: slow down".into(),
                slow_down: true
            })
        );
        let big = format!(r#"["OK","{id}",false,"invalid: event too large"]"#);
        assert!(matches!(
            read_mail(&big, &week),
            Some(MailMessage::Refused {
                slow_down: false,
                ..
            })
        ));
        assert_eq!(
            read_mail(r#"["EOSE","m"]"#, &week),
            Some(MailMessage::EndOfStored("m".into()))
        );
        for junk in ["", "[]", "{}", r#"["EVENT","m",{"kind":4321}]"#, "nope"] {
            assert!(!matches!(
                read_mail(junk, &week),
                Some(MailMessage::Event { .. })
            ));
        }
        let huge = format!(r#"["NOTICE","{}"]"#, "x".repeat(MAX_MAIL_MESSAGE));
        assert_eq!(read_mail(&huge, &week), None);
        let request: Value =
            serde_json::from_str(&mail_request("m", &week, 5, Some(9), 500)).unwrap();
        assert_eq!(
            request,
            json!(["REQ", "m", {"kinds": [4321], "#t": ["week"], "since": 5, "until": 9, "limit": 500}])
        );
    }

    #[test]
    fn the_id_is_the_hash_of_the_canonical_serialisation() {
        // NIP-01: no whitespace, in this order.
        let tags = json!([["t", "x"]]);
        let expected: [u8; 32] =
            Sha256::digest(br#"[0,"ab",1,21430,[["t","x"]],"hi \"there\""]"#).into();
        assert_eq!(event_id("ab", 1, 21_430, &tags, "hi \"there\""), expected);
    }

    #[test]
    fn relay_messages_are_read_carefully() {
        let key = NostrKey::generate();
        let room = [topic("yesterday", 20_001), topic("room", 21_000)];
        let event = key.event(&room[1], "payload", 1);
        let ev: Value = serde_json::from_str(&event).unwrap();
        let delivered = json!(["EVENT", "sub1", ev[1]]).to_string();
        assert_eq!(
            read(&delivered, "sub1", &room),
            Some(RelayMessage::Signal("payload".into()))
        );
        assert_eq!(
            read(&delivered, "sub2", &room),
            None,
            "another subscription"
        );
        let other = [topic("other", 21_000)];
        assert_eq!(read(&delivered, "sub1", &other), None, "another topic");
        let other_kind = [topic("room", 20_001)];
        assert_eq!(read(&delivered, "sub1", &other_kind), None, "another kind");
        let subscription: Value = serde_json::from_str(&subscribe("s", &room, 5)).unwrap();
        assert_eq!(subscription[2]["kinds"], json!([20_001, 21_000]));
        assert_eq!(subscription[2]["#t"], json!(["yesterday", "room"]));
        assert_eq!(
            read(r#"["OK","abc",false,"invalid: too large"]"#, "s", &room),
            Some(RelayMessage::Refused("invalid: too large".into()))
        );
        assert_eq!(
            read(r#"["OK","abc",true,""]"#, "s", &room),
            Some(RelayMessage::Other)
        );
        assert_eq!(
            read(r#"["EOSE","s"]"#, "s", &room),
            Some(RelayMessage::Other)
        );
        for junk in [
            "",
            "[]",
            "{}",
            "[1]",
            "not json",
            r#"["EVENT"]"#,
            r#"["EVENT","s",1]"#,
        ] {
            assert!(
                !matches!(read(junk, "s", &room), Some(RelayMessage::Signal(_))),
                "{junk}"
            );
        }
        let huge = format!(r#"["NOTICE","{}"]"#, "x".repeat(MAX_RELAY_MESSAGE));
        assert_eq!(read(&huge, "s", &room), None);
    }
}
