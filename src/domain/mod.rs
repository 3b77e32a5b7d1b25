//! The commons model: pure Rust over one automerge document per room. No browser APIs, no async,
//! no UI. Commands validate their input and change the document; views are derived by functions.

mod activity;
#[cfg(test)]
mod adversarial;
mod board;
mod charter;
mod circles;
mod contributions;
mod decisions;
mod exports;
#[cfg(test)]
mod golden;
pub mod ics;
mod kinds;
mod members;
mod pages;
mod pot;
mod resources;
mod room;
mod rotation;
mod search;
mod signed;
mod tasks;
#[cfg(test)]
mod testing;
mod timebank;

pub use activity::{ActivityItem, FeedValue, Need};
pub use board::{
    Match, NewPost, Post, PostDetails, PostEdit, PostKind, PostStatus, Urgency, CATEGORIES,
};
pub use charter::{starter_charter, Amendment, Charter, Licence, Template, LICENCES, TEMPLATES};
pub use circles::{CircleView, NewCircle, Round};
pub use contributions::{
    format_quantity, is_time, parse_quantity, ContributionTotals, ContributionView, NewContribution,
};
pub use decisions::{
    instant_runoff, ClosedEarly, DecisionView, Method, NewProposal, Outcome, ShownStance, Stance,
    Statement,
};
pub use exports::{iso_time, Backup, MAX_BACKUP_BYTES};
pub use members::{admission_threshold, pin_matches, Member, Profile, Standing};
pub use pages::PageView;
pub use pot::{
    format_amount, parse_amount, Dividend, EntryKind, EntryState, LedgerLine, NewEntry, PotView,
    Split,
};
pub use resources::{Booking, Cancellation, Loan, NewResource, ResourceView, Transfer};
pub use room::{DocMut, DomainError, RoomDoc, SCHEMA_VERSION};
pub use rotation::KeyChain;
pub use search::{fold, SearchHit, SearchIndex, SearchKind, SearchResults, MAX_RESULTS};
pub use signed::{TamperKind, Tampering};
pub use tasks::{TaskView, WorkPartyView};
pub use timebank::{HourTransfer, CREDIT_LIMIT_MINUTES};
