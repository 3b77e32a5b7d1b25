//! Every kind of signed entry by the root key it lives at: to check any entry's signature
//! without knowing which module reads it (see [`RoomDoc::entries`]: at an id bound to its
//! author, a rival claiming that author is told from the real entry by its signature).

use super::board::{PostFields, ResponseFields, StatusFields, VersionFields};
use super::circles::{CircleEntry, PaymentEntry};
use super::contributions::ContributionEntry;
use super::decisions::{ClosureEntry, OutcomeEntry, ProposalEntry, StanceEntry};
use super::members::{LeaveEntry, ProfileEntry, VouchEntry};
use super::pages::{PageEntry, PageVersionEntry};
use super::pot::{ConfirmationEntry, LedgerEntry, PotEntry};
use super::resources::{BookingEntry, ResourceEntry, TransferEntry};
use super::room::RoomDoc;
use super::rotation::RotationEntry;
use super::signed::{verifies, Entry, Fields, MarkFields, Raw};
use super::tasks::{PartyEntry, TaskEntry};
use super::timebank::HoursEntry;

/// Kinds of marks (signed pointers: `<kind>:<id>`, fields `target` and `at`).
const MARKS: [&str; 12] = [
    "approval",
    "paid",
    "validation",
    "countersign",
    "claim",
    "done",
    "signup",
    "pageedit",
    "postedit",
    "unbook",
    "withdraw",
    "giveback",
];

fn holds<E: Entry>(room: &str, id: &str, raw: &Raw) -> bool {
    E::decode(raw).is_some_and(|e| verifies(raw, || e.canonical(room, id)))
}

impl RoomDoc {
    /// Whether the entry at root `key` carries a signature that holds, for any kind of entry
    /// (false for a key no kind lives at).
    pub(crate) fn signature_holds(&self, key: &str, raw: &Raw) -> bool {
        let room = self.room_id();
        let Some((kind, rest)) = key.split_once(':') else {
            return false;
        };
        // The id an entry signs is what follows the last `:` of its key (`stance:<d>:<id>`,
        // `ledger:<pot>:<id>`, `ledger:<pot>:<entry>/<id>`); a profile signs its key.
        let id = rest.rsplit(':').next().unwrap_or(rest);
        match kind {
            "member" => holds::<ProfileEntry>(room, rest, raw),
            "vouch" => holds::<VouchEntry>(room, id, raw),
            "leave" => holds::<LeaveEntry>(room, id, raw),
            "rotation" => holds::<RotationEntry>(room, id, raw),
            "decision" => holds::<ProposalEntry>(room, id, raw),
            "stance" => holds::<StanceEntry>(room, id, raw),
            "outcome" => holds::<OutcomeEntry>(room, id, raw),
            "closure" => holds::<ClosureEntry>(room, id, raw),
            "pot" => holds::<PotEntry>(room, id, raw),
            "ledger" if id.contains('/') => holds::<ConfirmationEntry>(room, id, raw),
            "ledger" => holds::<LedgerEntry>(room, id, raw),
            "resource" => holds::<ResourceEntry>(room, id, raw),
            "booking" => holds::<BookingEntry>(room, id, raw),
            "transfer" => holds::<TransferEntry>(room, id, raw),
            "task" => holds::<TaskEntry>(room, id, raw),
            "party" => holds::<PartyEntry>(room, id, raw),
            "hours" => holds::<HoursEntry>(room, id, raw),
            "circle" => holds::<CircleEntry>(room, id, raw),
            "circlepay" => holds::<PaymentEntry>(room, id, raw),
            "contribution" => holds::<ContributionEntry>(room, id, raw),
            "page" => holds::<PageEntry>(room, id, raw),
            "pagever" => holds::<PageVersionEntry>(room, id, raw),
            "post" => holds::<PostFields>(room, id, raw),
            "postver" => holds::<VersionFields>(room, id, raw),
            "poststatus" => holds::<StatusFields>(room, id, raw),
            "response" => holds::<ResponseFields>(room, id, raw),
            mark if MARKS.contains(&mark) => MarkFields::decode(raw)
                .is_some_and(|m| verifies(raw, || m.canonical_as(room, mark, id))),
            _ => false,
        }
    }
}
