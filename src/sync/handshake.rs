//! Who offers a connection to whom, and what an announcement or an offer makes a device do:
//! the rules the browser mesh follows, as pure functions (tested here; the mesh only does
//! what they say).
//!
//! The lower device id offers and the higher one answers, so two devices that hear of each
//! other at once make one connection, not two. An offer against that rule is not answered (the
//! higher id announces itself to the lower instead, which then offers). An attempt that got
//! nowhere (its offer lost on the way) gives way to a new one when the peer is heard from
//! again. An ICE restart is answered on the connection it restarts.

/// What the device knows of its link to the peer a signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    /// Its data channel is open.
    pub open: bool,
    /// It was made by hand (a pairing code): signals do not replace it.
    pub manual: bool,
    /// This device offered, no answer came, and the offer is older than the stall limit.
    pub stalled: bool,
}

/// What to do on hearing a peer announce itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAnnounce {
    /// Nothing: linked already, or not a peer to be connected to.
    Nothing,
    /// Offer a connection (this device has the lower id).
    Offer,
    /// Announce to the peer so that it offers (this device has the higher id).
    AskForOffer,
}

/// What to do with an offer from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOffer {
    /// An ICE restart of the link there is: answer it on that link.
    AnswerRestart,
    /// Answer it on a new link, in place of any link to that peer.
    Answer,
    /// Against the rule (this device has the lower id): announce to the peer instead.
    AskForOffer,
    /// Not a peer to be connected to now.
    Ignore,
}

/// A peer announced itself. `link` is this device's link to it (if any); `chosen`: whether
/// it is among the peers this device should be connected to. Returns whether to drop a stalled
/// attempt first, and what to do then.
pub fn on_announce(me: &str, from: &str, link: Option<Link>, chosen: bool) -> (bool, OnAnnounce) {
    let drop_stalled = link.is_some_and(|l| l.stalled && !l.manual);
    let linked = link.is_some() && !drop_stalled;
    let action = if linked || !chosen {
        OnAnnounce::Nothing
    } else if me < from {
        OnAnnounce::Offer
    } else {
        OnAnnounce::AskForOffer
    };
    (drop_stalled, action)
}

/// A peer offered a connection (`restart`: an ICE restart). `link`: this device's link to it;
/// `accepts`: whether a new peer may be connected now (see `Router::accepts`).
pub fn on_offer(me: &str, from: &str, restart: bool, link: Option<Link>, accepts: bool) -> OnOffer {
    if restart && link.is_some() {
        return OnOffer::AnswerRestart;
    }
    if me < from {
        return OnOffer::AskForOffer;
    }
    if link.is_some_and(|l| l.open) || accepts {
        OnOffer::Answer
    } else {
        OnOffer::Ignore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lower_id_offers_and_the_higher_asks_for_an_offer() {
        assert_eq!(
            on_announce("a", "b", None, true),
            (false, OnAnnounce::Offer)
        );
        assert_eq!(
            on_announce("b", "a", None, true),
            (false, OnAnnounce::AskForOffer)
        );
        // Not chosen, or linked already: nothing.
        assert_eq!(
            on_announce("a", "b", None, false),
            (false, OnAnnounce::Nothing)
        );
        let open = Link {
            open: true,
            ..Link::default()
        };
        assert_eq!(
            on_announce("a", "b", Some(open), true),
            (false, OnAnnounce::Nothing)
        );
    }

    #[test]
    fn a_stalled_attempt_gives_way_unless_it_was_made_by_hand() {
        let stalled = Link {
            stalled: true,
            ..Link::default()
        };
        assert_eq!(
            on_announce("a", "b", Some(stalled), true),
            (true, OnAnnounce::Offer)
        );
        let by_hand = Link {
            manual: true,
            ..stalled
        };
        assert_eq!(
            on_announce("a", "b", Some(by_hand), true),
            (false, OnAnnounce::Nothing)
        );
    }

    /// Two devices that offer each other at once: only the lower id's offer is answered, so
    /// one connection is made, not two.
    #[test]
    fn crossing_offers_make_one_connection() {
        let (a, b) = ("a", "b");
        let attempt = Some(Link::default());
        assert_eq!(on_offer(a, b, false, attempt, true), OnOffer::AskForOffer);
        assert_eq!(on_offer(b, a, false, attempt, true), OnOffer::Answer);
    }

    #[test]
    fn offers_are_answered_while_the_peer_may_be_connected_and_restarts_on_their_link() {
        assert_eq!(on_offer("b", "a", false, None, false), OnOffer::Ignore);
        let open = Link {
            open: true,
            ..Link::default()
        };
        // A peer already connected is answered even past the limit (it replaces its link).
        assert_eq!(
            on_offer("b", "a", false, Some(open), false),
            OnOffer::Answer
        );
        // An ICE restart is answered on the link, whichever id is lower.
        assert_eq!(
            on_offer("a", "b", true, Some(open), false),
            OnOffer::AnswerRestart
        );
        // A restart for a link this device does not have is a new offer.
        assert_eq!(on_offer("b", "a", true, None, true), OnOffer::Answer);
    }
}
