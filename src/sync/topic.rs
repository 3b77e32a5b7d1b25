//! Where a room's devices meet on servers and relays, and how that moves with time: the topic
//! (and the Nostr event kind, within the ephemeral range) of each day is derived from the room
//! secret and the day, so nothing fixed marks a room — or Tequio — to a server following it
//! over time. Devices listen on the day's topic, and on the neighbouring day's for a quarter
//! of an hour either side of midnight (UTC), so clocks a few minutes apart still meet.

use super::nostr::{EPHEMERAL_KINDS, MIN_EPHEMERAL_KIND};
use crate::crypto::RoomSecret;

/// How long one topic lasts.
pub const TOPIC_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// How long before and after a change of topic devices listen on both.
pub const TOPIC_OVERLAP_MS: i64 = 15 * 60 * 1000;

/// Where the room's devices meet during one window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Topic {
    /// 32 hex characters: the y-webrtc topic and the Nostr `t` tag.
    pub name: String,
    /// The Nostr event kind of signals, in the ephemeral range.
    pub kind: u32,
}

fn window_of(now: i64) -> i64 {
    now.div_euclid(TOPIC_WINDOW_MS)
}

/// The topic of window `window`.
pub fn topic(secret: &RoomSecret, window: i64) -> Topic {
    let key = secret.window_key(window);
    let name = crate::crypto::hex(&key[..16]);
    let kind =
        MIN_EPHEMERAL_KIND + u32::from(u16::from_be_bytes([key[16], key[17]])) % EPHEMERAL_KINDS;
    Topic { name, kind }
}

/// The topic to publish on at `now` (ms).
pub fn speaking(secret: &RoomSecret, now: i64) -> Topic {
    topic(secret, window_of(now))
}

/// The topics to listen on at `now` (ms): the window's, and the neighbouring window's near
/// its edges.
pub fn listening(secret: &RoomSecret, now: i64) -> Vec<Topic> {
    let window = window_of(now);
    let into = now.rem_euclid(TOPIC_WINDOW_MS);
    let mut topics = vec![topic(secret, window)];
    if into < TOPIC_OVERLAP_MS {
        topics.push(topic(secret, window - 1));
    } else if into >= TOPIC_WINDOW_MS - TOPIC_OVERLAP_MS {
        topics.push(topic(secret, window + 1));
    }
    topics.sort();
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = TOPIC_WINDOW_MS;

    #[test]
    fn each_day_has_its_own_topic_and_kind_and_nothing_fixed_marks_the_room() {
        let secret = RoomSecret::generate();
        let days: Vec<Topic> = (0..200).map(|d| topic(&secret, 20_000 + d)).collect();
        let names: std::collections::BTreeSet<&str> =
            days.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), days.len());
        let kinds: std::collections::BTreeSet<u32> = days.iter().map(|t| t.kind).collect();
        assert!(kinds.len() > 190, "kinds repeat too often: {}", kinds.len());
        for t in &days {
            assert!((20_000..30_000).contains(&t.kind), "ephemeral: {}", t.kind);
            assert_eq!(t.name.len(), 32);
            assert!(t.name.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(!t.name.contains("tequio") && !t.name.contains(&secret.room_id()));
        }
        // Another room's topic for the same day differs.
        assert_ne!(topic(&RoomSecret::generate(), 20_000), days[0]);
        // Nothing in common with the fixed name tabs use.
        assert!(!secret.signaling_topic().contains(&days[0].name));
    }

    /// Two devices whose clocks differ by up to the overlap meet across midnight: what one
    /// speaks on, the other listens to.
    #[test]
    fn devices_a_few_minutes_apart_meet_across_the_change_of_topic() {
        let secret = RoomSecret::generate();
        let midnight = 20_000 * DAY;
        for skew in [-14 * 60_000, -60_000, 0, 60_000, 14 * 60_000] {
            for now in (midnight - 30 * 60_000..midnight + 30 * 60_000).step_by(60_000) {
                let spoken = speaking(&secret, now + skew);
                assert!(
                    listening(&secret, now).contains(&spoken),
                    "at {} min, {} min apart",
                    (now - midnight) / 60_000,
                    skew / 60_000
                );
            }
        }
        // Away from midnight, one topic only.
        assert_eq!(listening(&secret, midnight + DAY / 2).len(), 1);
    }
}
