//! IndexedDB persistence (browser only): the device's room list, each room's document as
//! incremental chunks plus compacted snapshots, and device settings.
//!
//! A write resolves only after its transaction has completed, so a caller may show an edit as
//! saved exactly when the returned future succeeds. Compaction writes the snapshot in one
//! transaction and deletes the chunks it replaced in a later one, so a crash between the two
//! leaves duplicates (harmless to automerge) and never a gap.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::Uint8Array;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

const ROOMS: &str = "rooms";
const CHUNKS: &str = "chunks";
const SETTINGS: &str = "settings";
/// Incremental chunks tolerated before a room is compacted into one snapshot.
pub use crate::replica::COMPACT_AFTER;

/// A storage failure, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the browser's storage is full: free some space, then try again ({0})")]
    QuotaExceeded(String),
    #[error("storage failed: {0}")]
    Failed(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl From<indexed_db_futures::error::Error> for StoreError {
    fn from(e: indexed_db_futures::error::Error) -> Self {
        let text = e.to_string();
        let name = match &e {
            indexed_db_futures::error::Error::DomException(d) => d
                .as_ref()
                .dyn_ref::<web_sys::DomException>()
                .map(web_sys::DomException::name)
                .unwrap_or_default(),
            _ => String::new(),
        };
        web_sys::console::warn_1(&format!("tequio: storage error {name}: {text}").into());
        if name == "QuotaExceededError" || text.contains("Quota") || text.contains("quota") {
            StoreError::QuotaExceeded(text)
        } else {
            StoreError::Failed(text)
        }
    }
}

impl From<indexed_db_futures::error::OpenDbError> for StoreError {
    fn from(e: indexed_db_futures::error::OpenDbError) -> Self {
        StoreError::Failed(e.to_string())
    }
}

/// What the device remembers about one room (its content lives in the chunks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRecord {
    pub id: String,
    pub name: String,
    /// The first room secret this device had (base64url): the room's keys are followed from it
    /// (see `domain::rotation`).
    pub secret: String,
    pub joined_at: i64,
    pub last_opened: i64,
    /// This device's signing key in the room (base64url secret; see `crypto::Identity`).
    /// Records saved before identities existed have none until the room is next opened.
    #[serde(default)]
    pub identity: String,
    /// What the room list shows, as of the last time the room was open here: admitted members,
    /// the time of the newest activity, and how many activity items from others arrived after
    /// `seen_at` (the newest activity shown on the room's home).
    #[serde(default)]
    pub members: usize,
    #[serde(default)]
    pub last_activity: i64,
    #[serde(default)]
    pub unread: usize,
    #[serde(default)]
    pub seen_at: i64,
    /// The founder this device accepts: a fingerprint from the join link, or the key of the
    /// first founder seen; empty until known.
    #[serde(default)]
    pub founder: String,
    /// Keys the room moved on from (base64url secrets), each with until when (ms) this device
    /// still meets devices under it when the room is open: a member who was away when the key
    /// changed learns of the new one there.
    #[serde(default)]
    pub former_keys: Vec<(String, i64)>,
    /// The room's mailbox on Nostr relays (see `replica::Replica::resume_mail`): the heads up
    /// to which this device's changes reached a relay (hex), its actors of openings since, and
    /// what it last heard from each relay.
    #[serde(default)]
    pub mail_heads: Vec<String>,
    #[serde(default)]
    pub mail_actors: Vec<String>,
    #[serde(default)]
    pub relays: std::collections::BTreeMap<String, crate::sync::postman::RelayMark>,
}

/// What restoring a backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The room was on this device already (the backup was merged into it).
    pub merged: bool,
    /// This device kept a key of its own in the room, other than the backup's: its public key.
    pub kept_own_key: Option<String>,
}

/// The saved chunks of one room, with the keys needed to compact them later.
pub struct LoadedRoom {
    pub keys: Vec<String>,
    pub chunks: Vec<Vec<u8>>,
}

/// The device's database.
#[derive(Clone)]
pub struct Store {
    db: std::rc::Rc<Database>,
}

/// Waits until a read-write transaction has completed (the browser auto-commits it once its
/// requests are done). When it aborts, the transaction's own error (for instance
/// `QuotaExceededError`) says why, and that is what is reported.
async fn completed(tx: indexed_db_futures::transaction::Transaction<'_>) -> Result<(), StoreError> {
    use indexed_db_futures::transaction::TransactionFinishKind;
    match tx.on_done()?.await {
        TransactionFinishKind::Ok => Ok(()),
        _ => Err(tx
            .error()
            .map(StoreError::from)
            .unwrap_or_else(|| StoreError::Failed("the write was aborted".into()))),
    }
}

fn chunk_range(room_id: &str) -> std::ops::Range<String> {
    // Keys are "<room id>/<chunk id>"; '0' sorts right after '/'.
    format!("{room_id}/")..format!("{room_id}0")
}

impl Store {
    /// Opens (creating or upgrading) the database called `name`.
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        let db = Database::open(name)
            .with_version(1u8)
            .with_on_upgrade_needed(|event, db| {
                if event.old_version() < 1.0 {
                    db.create_object_store(ROOMS).build()?;
                    db.create_object_store(CHUNKS).build()?;
                    db.create_object_store(SETTINGS).build()?;
                }
                Ok(())
            })
            .await?;
        Ok(Self {
            db: std::rc::Rc::new(db),
        })
    }

    /// Every room on this device, most recently opened first.
    pub async fn rooms(&self) -> Result<Vec<RoomRecord>, StoreError> {
        Ok(self.rooms_and_damage().await?.0)
    }

    /// Every readable room on this device, most recently opened first, and how many records
    /// could not be read: one damaged record hides no other room (it is left as it is).
    pub async fn rooms_and_damage(&self) -> Result<(Vec<RoomRecord>, usize), StoreError> {
        let tx = self.db.transaction(ROOMS).build()?;
        let store = tx.object_store(ROOMS)?;
        let values = store.get_all::<JsValue>().primitive()?.await?;
        let mut rooms = Vec::new();
        let mut damaged = 0;
        for value in values {
            match value?
                .as_string()
                .and_then(|text| serde_json::from_str::<RoomRecord>(&text).ok())
            {
                Some(room) => rooms.push(room),
                None => damaged += 1,
            }
        }
        rooms.sort_by(|a, b| b.last_opened.cmp(&a.last_opened).then(a.name.cmp(&b.name)));
        Ok((rooms, damaged))
    }

    /// Adds or updates a room record; resolves once committed.
    pub async fn put_room(&self, room: &RoomRecord) -> Result<(), StoreError> {
        let text = serde_json::to_string(room).map_err(|e| StoreError::Failed(e.to_string()))?;
        let tx = self
            .db
            .transaction(ROOMS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(ROOMS)?
            .put(JsValue::from_str(&text))
            .with_key(room.id.clone())
            .primitive()?;
        completed(tx).await
    }

    /// All saved chunks of a room (empty for a room never saved).
    pub async fn load_room(&self, room_id: &str) -> Result<LoadedRoom, StoreError> {
        let tx = self.db.transaction(CHUNKS).build()?;
        let store = tx.object_store(CHUNKS)?;
        let keys = store
            .get_all_keys::<JsValue>()
            .with_query(chunk_range(room_id))
            .primitive()?
            .await?;
        let values = store
            .get_all::<JsValue>()
            .with_query(chunk_range(room_id))
            .primitive()?
            .await?;
        let mut loaded = LoadedRoom {
            keys: Vec::new(),
            chunks: Vec::new(),
        };
        for key in keys {
            loaded.keys.push(
                key?.as_string()
                    .ok_or_else(|| StoreError::Corrupt("a chunk key is not text".into()))?,
            );
        }
        for value in values {
            let bytes = value?
                .dyn_into::<Uint8Array>()
                .map_err(|_| StoreError::Corrupt("a chunk is not bytes".into()))?;
            loaded.chunks.push(bytes.to_vec());
        }
        if loaded.keys.len() != loaded.chunks.len() {
            return Err(StoreError::Corrupt("chunk keys and values disagree".into()));
        }
        Ok(loaded)
    }

    /// Saves one chunk of a room; resolves with its key once the transaction has completed.
    pub async fn append_chunk(&self, room_id: &str, bytes: &[u8]) -> Result<String, StoreError> {
        let key = format!("{room_id}/{}", crate::crypto::random_id());
        let tx = self
            .db
            .transaction(CHUNKS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(CHUNKS)?
            .put(JsValue::from(Uint8Array::from(bytes)))
            .with_key(key.clone())
            .primitive()?;
        completed(tx).await?;
        Ok(key)
    }

    /// Replaces the chunks named by `replaced` with one snapshot: the snapshot is committed
    /// first, then exactly those chunks are deleted. Returns the snapshot's key.
    pub async fn compact(
        &self,
        room_id: &str,
        snapshot: &[u8],
        replaced: &[String],
    ) -> Result<String, StoreError> {
        let key = self.append_chunk(room_id, snapshot).await?;
        let tx = self
            .db
            .transaction(CHUNKS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let store = tx.object_store(CHUNKS)?;
        for old in replaced {
            store.delete(old.clone()).primitive()?;
        }
        tx.commit().await?;
        Ok(key)
    }

    /// Forgets a room and everything saved of it on this device.
    pub async fn delete_room(&self, room_id: &str) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction([ROOMS, CHUNKS, SETTINGS])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(ROOMS)?
            .delete(room_id.to_owned())
            .primitive()?;
        tx.object_store(CHUNKS)?
            .delete(chunk_range(room_id))
            .primitive()?;
        tx.object_store(SETTINGS)?
            .delete(facts_key(room_id))
            .primitive()?;
        tx.commit().await?;
        Ok(())
    }

    /// Brings a room backup onto this device, in one transaction: a room already here keeps its
    /// record and gains the backup's document as one more chunk (loading merges chunks, so
    /// nothing here is overwritten); a room not here is added. A room here without a key takes
    /// the backup's (so does one whose key is damaged). Returns whether the room was already on
    /// this device, and the key of its own it kept if other than the backup's.
    pub async fn import(
        &self,
        backup: &crate::domain::Backup,
        now_ms: i64,
    ) -> Result<Imported, StoreError> {
        let existing = self
            .rooms()
            .await?
            .into_iter()
            .find(|r| r.id == backup.room_id);
        let merged = existing.is_some();
        let mut record = existing.unwrap_or_else(|| RoomRecord {
            id: backup.room_id.clone(),
            name: backup.name.clone(),
            secret: backup.secret.clone(),
            joined_at: now_ms,
            ..RoomRecord::default()
        });
        let own = crate::crypto::Identity::from_secret(&record.identity);
        if own.is_none() {
            record.identity = backup.identity.clone();
        }
        let kept_own_key = own
            .filter(|_| !backup.identity.is_empty() && record.identity != backup.identity)
            .map(|me| me.public());
        let text = serde_json::to_string(&record).map_err(|e| StoreError::Failed(e.to_string()))?;
        let key = format!("{}/{}", backup.room_id, crate::crypto::random_id());
        let tx = self
            .db
            .transaction([ROOMS, CHUNKS])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(ROOMS)?
            .put(JsValue::from_str(&text))
            .with_key(record.id.clone())
            .primitive()?;
        tx.object_store(CHUNKS)?
            .put(JsValue::from(Uint8Array::from(backup.document.as_slice())))
            .with_key(key)
            .primitive()?;
        completed(tx).await?;
        Ok(Imported {
            merged,
            kept_own_key,
        })
    }

    /// Makes `identity` this device's key in the room `room_id` (a member's key from a backup,
    /// when the person chooses it).
    pub async fn use_identity(&self, room_id: &str, identity: &str) -> Result<(), StoreError> {
        let mut record = self
            .rooms()
            .await?
            .into_iter()
            .find(|r| r.id == room_id)
            .ok_or_else(|| StoreError::Failed("the room is not on this device".into()))?;
        record.identity = identity.to_owned();
        self.put_room(&record).await
    }

    /// What the room's index derived from its history, kept to open it faster (see
    /// `RoomDoc::facts`); a cache: losing it costs time, not data.
    pub async fn facts(&self, room_id: &str) -> Option<String> {
        self.setting(&facts_key(room_id)).await.ok().flatten()
    }

    pub async fn set_facts(&self, room_id: &str, facts: &str) -> Result<(), StoreError> {
        self.set_setting(&facts_key(room_id), facts).await
    }

    /// A device setting (JSON text), if set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.transaction(SETTINGS).build()?;
        let value = tx
            .object_store(SETTINGS)?
            .get::<JsValue, _, _>(key.to_owned())
            .primitive()?
            .await?;
        Ok(value.and_then(|v| v.as_string()))
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(SETTINGS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(SETTINGS)?
            .put(JsValue::from_str(value))
            .with_key(key.to_owned())
            .primitive()?;
        completed(tx).await
    }
}

/// The settings key under which a room's facts are kept.
fn facts_key(room_id: &str) -> String {
    format!("facts/{room_id}")
}
