use std::fmt;

/// A local username: `^[a-z0-9_]{1,30}$`. Users and working groups share this
/// namespace so that `@name@node` is never ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsernameError {
    #[error("a name must be 1 to 30 characters long")]
    Length,
    #[error("a name may contain only lowercase letters a-z, digits and underscores")]
    Characters,
}

impl Username {
    pub const MAX_LEN: usize = 30;

    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(UsernameError::Length);
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(UsernameError::Characters);
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fediverse handle `name@host` as people type it: `@name@host`,
/// `name@host`, or Lemmy's `!name@host` for a community.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    pub name: String,
    pub host: String,
    /// Written `!name@host`: a community (a working group), which Lemmy may
    /// name like a person on the same node.
    pub community: bool,
}

impl Handle {
    pub fn parse(raw: &str) -> Option<Handle> {
        let raw = raw.trim();
        let community = raw.starts_with('!');
        let trimmed = raw.trim_start_matches('!').trim_start_matches('@');
        let (name, host) = trimmed.split_once('@')?;
        let name_ok = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        (name_ok && host_ok).then(|| Handle {
            name: name.to_owned(),
            host: host.to_ascii_lowercase(),
            community,
        })
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_local_rule() {
        assert!(Username::parse("health_walks_2").is_ok());
        assert_eq!(Username::parse(""), Err(UsernameError::Length));
        assert_eq!(Username::parse(&"a".repeat(31)), Err(UsernameError::Length));
        assert_eq!(Username::parse("Alice"), Err(UsernameError::Characters));
        assert_eq!(Username::parse("al ice"), Err(UsernameError::Characters));
        // Cyrillic 'а' looks like Latin 'a' and must not pass.
        assert_eq!(Username::parse("\u{430}lice"), Err(UsernameError::Characters));
    }

    #[test]
    fn handles_parse_with_or_without_leading_at() {
        let h = Handle::parse("@walkers@Beta.Test:8080").expect("valid handle");
        assert_eq!(h.name, "walkers");
        assert_eq!(h.host, "beta.test:8080");
        assert_eq!(
            Handle::parse("walkers@beta.test")
                .map(|h| h.to_string())
                .as_deref(),
            Some("walkers@beta.test")
        );
        let lemmy = Handle::parse("!carers@lemmy.test").expect("Lemmy's community form");
        assert_eq!(
            (lemmy.name.as_str(), lemmy.host.as_str(), lemmy.community),
            ("carers", "lemmy.test", true)
        );
        assert!(!h.community);
        assert!(Handle::parse("no-host").is_none());
        assert!(Handle::parse("a@b/c").is_none());
    }
}
