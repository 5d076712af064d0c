//! The words of a pledge: what it is attached to, and the path its status
//! takes (offered → in progress → done, or released at any point before).

/// What a pledge carries an action for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PledgeTarget {
    Event,
    Question,
    GardenItem,
}

impl PledgeTarget {
    pub const ALL: [PledgeTarget; 3] = [Self::Event, Self::Question, Self::GardenItem];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw.trim())
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Question => "question",
            Self::GardenItem => "garden_item",
        }
    }
    /// How a page names it ("the event …").
    pub fn noun(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Question => "agenda question",
            Self::GardenItem => "garden item",
        }
    }
}

/// Where a pledge stands. Only the person who pledged moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum PledgeStatus {
    #[sea_orm(string_value = "offered")]
    Offered,
    #[sea_orm(string_value = "in_progress")]
    InProgress,
    #[sea_orm(string_value = "done")]
    Done,
    /// Handed back: the person can no longer carry it.
    #[sea_orm(string_value = "released")]
    Released,
}

impl PledgeStatus {
    pub const ALL: [PledgeStatus; 4] = [Self::Offered, Self::InProgress, Self::Done, Self::Released];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw.trim())
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offered => "offered",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::Released => "released",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Offered => "offered",
            Self::InProgress => "in progress",
            Self::Done => "done",
            Self::Released => "released",
        }
    }
    /// Done and released are where a pledge ends.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Released)
    }
    /// Whether a pledge may move from `self` to `next`: forward only, and
    /// never out of an end.
    pub fn may_become(self, next: PledgeStatus) -> bool {
        match (self, next) {
            (from, to) if from == to => false,
            (from, _) if from.is_final() => false,
            (Self::InProgress, Self::Offered) => false,
            _ => true,
        }
    }
    /// Where it may go from here, in order.
    pub fn next(self) -> Vec<PledgeStatus> {
        Self::ALL.into_iter().filter(|s| self.may_become(*s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pledge_moves_forward_and_ends_done_or_released() {
        use PledgeStatus::*;
        assert_eq!(Offered.next(), vec![InProgress, Done, Released]);
        assert_eq!(InProgress.next(), vec![Done, Released]);
        assert!(Done.next().is_empty());
        assert!(Released.next().is_empty());
        assert!(!InProgress.may_become(Offered));
        assert!(!Offered.may_become(Offered));
    }

    #[test]
    fn words_read_back_as_written() {
        for status in PledgeStatus::ALL {
            assert_eq!(PledgeStatus::parse(status.as_str()), Some(status));
        }
        for target in PledgeTarget::ALL {
            assert_eq!(PledgeTarget::parse(target.as_str()), Some(target));
        }
        assert_eq!(PledgeStatus::parse("finished"), None);
        assert_eq!(PledgeTarget::parse("post"), None);
    }
}
