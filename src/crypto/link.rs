//! The room link: `<app url>#/join/<base64url secret>.<founder fingerprint>`. The fingerprint
//! (the first 16 characters of the founder's public key) pins the room's founder: a device
//! joining by it accepts no other. Links without one (shared before it existed) still work.
//! Once the room has moved on to a new key (a member was removed or left), the link carries
//! the new secret and, after a second `.`, the room's id (32 hex digits), which the new secret
//! no longer derives. Parsing never panics; every way a pasted link can be wrong has its own
//! message.

use super::RoomSecret;

/// Why a join link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinLinkError {
    #[error("this is not a room link: it has no \"#/join/\" part")]
    NoJoinPart,
    #[error("the room link ends before its secret: it was probably cut off")]
    Empty,
    #[error("the room secret in this link contains characters a link never has")]
    NotBase64,
    #[error("the room secret in this link has {0} bytes instead of 32: it was probably cut off or changed")]
    WrongLength(usize),
    #[error(
        "the founder's mark at the end of this link is damaged: it was probably cut off or changed"
    )]
    BadFounder,
    #[error("the room id at the end of this link is damaged: it was probably cut off or changed")]
    BadRoom,
}

/// What a join link holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinLink {
    pub secret: RoomSecret,
    /// The founder's key fingerprint, if the link has one.
    pub founder: Option<String>,
    /// The room's id, if the secret is not the room's first (see the module's doc).
    pub room: Option<String>,
}

impl JoinLink {
    /// The room's id: the link's, or the one its secret derives.
    pub fn room_id(&self) -> String {
        self.room.clone().unwrap_or_else(|| self.secret.room_id())
    }
}

/// Characters of the founder's key a link carries.
pub const FOUNDER_MARK: usize = 16;

/// The fragment to share: `#/join/<secret>.<first 16 characters of the founder's key>`, and
/// `.<room id>` when `room_id` is not the one `secret` derives.
pub fn join_fragment(secret: &RoomSecret, founder: Option<&str>, room_id: &str) -> String {
    let mark = match founder {
        Some(key) if key.len() >= FOUNDER_MARK => &key[..FOUNDER_MARK],
        _ => "",
    };
    let room = if room_id == secret.room_id() {
        ""
    } else {
        room_id
    };
    match (mark, room) {
        ("", "") => format!("#/join/{}", secret.to_base64url()),
        (mark, "") => format!("#/join/{}.{mark}", secret.to_base64url()),
        (mark, room) => format!("#/join/{}.{mark}.{room}", secret.to_base64url()),
    }
}

/// Extracts the room secret from a full link, a bare fragment (`#/join/…`, `/join/…`) or the
/// secret alone.
pub fn parse_join_link(input: &str) -> Result<JoinLink, JoinLinkError> {
    let input = input.trim();
    let secret = match input.find("/join/") {
        Some(at) => &input[at + "/join/".len()..],
        None if input.contains('#') || input.contains('/') => {
            return Err(JoinLinkError::NoJoinPart)
        }
        None => input,
    };
    // Tolerate a trailing slash or query that some chat apps append.
    let secret = secret.split(['/', '?', '&']).next().unwrap_or("");
    let (secret, founder) = match secret.split_once('.') {
        Some((secret, mark)) => (secret, Some(mark)),
        None => (secret, None),
    };
    let (founder, room) = match founder.map(|f| f.split_once('.')) {
        Some(Some((mark, room))) => (Some(mark), Some(room)),
        _ => (founder, None),
    };
    if secret.is_empty() {
        return Err(JoinLinkError::Empty);
    }
    let secret = RoomSecret::from_base64url(secret)?;
    let room = match room {
        None => None,
        Some(room) if room.len() == 32 && room.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(room.to_ascii_lowercase())
        }
        Some(_) => return Err(JoinLinkError::BadRoom),
    };
    let founder = match founder {
        None | Some("") if room.is_some() => None,
        None => None,
        Some(mark)
            if mark.len() == FOUNDER_MARK
                && mark
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some(mark.to_owned())
        }
        Some(_) => return Err(JoinLinkError::BadFounder),
    };
    Ok(JoinLink {
        secret,
        founder,
        room,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_full_links_fragments_and_bare_secrets() {
        let s = RoomSecret::generate();
        let b64 = s.to_base64url();
        for text in [
            format!("https://example.test/#/join/{b64}"),
            format!("http://127.0.0.1:8080/tequio/#/join/{b64}"),
            format!("#/join/{b64}"),
            format!("  /join/{b64}/ "),
            b64.clone(),
        ] {
            assert_eq!(
                parse_join_link(&text).map(|l| l.secret),
                Ok(s.clone()),
                "{text}"
            );
        }
    }

    #[test]
    fn a_link_pins_its_founder_and_a_damaged_mark_is_refused() {
        let s = RoomSecret::generate();
        let founder = crate::crypto::Identity::generate().public();
        let fragment = join_fragment(&s, Some(&founder), &s.room_id());
        let link = parse_join_link(&format!("https://example.test/{fragment}")).unwrap();
        assert_eq!(link.secret, s);
        assert_eq!(link.founder.as_deref(), Some(&founder[..FOUNDER_MARK]));
        assert!(founder.starts_with(link.founder.as_deref().unwrap()));
        assert_eq!(
            parse_join_link(&join_fragment(&s, None, &s.room_id()))
                .unwrap()
                .founder,
            None
        );
        for bad in [&fragment[..fragment.len() - 3], &format!("{fragment}!x")] {
            assert_eq!(
                parse_join_link(bad),
                Err(JoinLinkError::BadFounder),
                "{bad}"
            );
        }
    }

    /// After a new key, the link carries the room's id (which the new secret does not
    /// derive); links before it are unchanged.
    #[test]
    fn a_link_with_a_later_key_carries_the_room_id() {
        let (first, later) = (RoomSecret::generate(), RoomSecret::generate());
        let founder = crate::crypto::Identity::generate().public();
        let room = first.room_id();
        assert!(!join_fragment(&first, Some(&founder), &room).contains(&room));
        for founder in [Some(founder.as_str()), None] {
            let fragment = join_fragment(&later, founder, &room);
            let link = parse_join_link(&format!("https://example.test/{fragment}")).unwrap();
            assert_eq!(link.secret, later);
            assert_eq!(link.room_id(), room);
            assert_eq!(link.founder.is_some(), founder.is_some());
            assert_eq!(
                parse_join_link(&fragment[..fragment.len() - 1]),
                Err(JoinLinkError::BadRoom)
            );
        }
        assert_eq!(
            parse_join_link(&join_fragment(&first, None, &room))
                .unwrap()
                .room_id(),
            room
        );
    }

    #[test]
    fn refuses_malformed_and_truncated_links_with_a_reason() {
        let b64 = RoomSecret::generate().to_base64url();
        let cases = [
            ("https://example.test/#/rooms", JoinLinkError::NoJoinPart),
            ("https://example.test/#/join/", JoinLinkError::Empty),
            ("", JoinLinkError::Empty),
            ("#/join/not*base64!", JoinLinkError::NotBase64),
        ];
        for (text, want) in cases {
            assert_eq!(parse_join_link(text), Err(want), "{text}");
        }
        let truncated = format!("#/join/{}", &b64[..30]);
        assert!(matches!(
            parse_join_link(&truncated),
            Err(JoinLinkError::WrongLength(22)) | Err(JoinLinkError::NotBase64)
        ));
        let long = format!("#/join/{b64}AAAA");
        assert_eq!(parse_join_link(&long), Err(JoinLinkError::WrongLength(35)));
    }
}
