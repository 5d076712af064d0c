//! The one processor, in GoToSocial's shape: a value holding what every use
//! case needs (the database, this node, the publisher of outgoing activities,
//! the resolver of remote objects), with a sub-processor per aggregate. The
//! JSON API, the pages and the inbox call the same methods, which take the
//! viewer and ask the policy module.

use crate::{NodeContext, ServiceResult, publish::Publisher};
use healthcommons_db::{
    Db,
    entities::{actor, garden_item},
};
use std::sync::Arc;
use url::Url;

/// Remote fetches the processing layer needs, implemented by the federation
/// crate (as [`Publisher`] is), so a use case that must learn a remote object
/// lives here and not in a handler.
#[async_trait::async_trait]
pub trait Resolver: Send + Sync {
    /// An actor named as `@name@host`, an `acct:` or a URL, fetched and
    /// stored when it is not known here yet.
    async fn actor(&self, query: &str) -> ServiceResult<actor::Model>;
    /// Make the post or garden item at `url` known here (a reply needs its
    /// parent), fetching it from its node when need be.
    async fn reply_target(&self, url: &Url) -> ServiceResult<()>;
    /// A garden item by its id, fetched from its node when not known here.
    async fn garden_item(&self, id: &str) -> ServiceResult<garden_item::Model>;
    /// The item a fork came from, fetched anew from its node. Not found when
    /// the origin is gone.
    async fn refresh_origin(&self, fork: &garden_item::Model) -> ServiceResult<garden_item::Model>;
}

#[derive(Clone)]
pub struct Processor {
    db: Db,
    readers: Db,
    node: NodeContext,
    publisher: Arc<dyn Publisher>,
    resolver: Arc<dyn Resolver>,
}

impl Processor {
    /// `readers` serve reads that never write (on SQLite, read-only
    /// connections beside the one writer); pass `db` again where there are none.
    pub fn new(
        db: Db,
        readers: Db,
        node: NodeContext,
        publisher: Arc<dyn Publisher>,
        resolver: Arc<dyn Resolver>,
    ) -> Self {
        Processor {
            db,
            readers,
            node,
            publisher,
            resolver,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
    /// For reads only: a hot read goes beside the writer instead of queueing on it.
    pub fn readers(&self) -> &Db {
        &self.readers
    }
    pub fn node(&self) -> &NodeContext {
        &self.node
    }
    pub fn publisher(&self) -> &dyn Publisher {
        self.publisher.as_ref()
    }
    pub fn resolver(&self) -> &dyn Resolver {
        self.resolver.as_ref()
    }

    pub fn posts(&self) -> crate::posts::Posts<'_> {
        crate::posts::Posts(self)
    }
    pub fn garden(&self) -> crate::garden::Garden<'_> {
        crate::garden::Garden(self)
    }
    pub fn groups(&self) -> crate::groups::Groups<'_> {
        crate::groups::Groups(self)
    }
    pub fn follows(&self) -> crate::follows::Follows<'_> {
        crate::follows::Follows(self)
    }
    pub fn events(&self) -> crate::events::Events<'_> {
        crate::events::Events(self)
    }
    pub fn agenda(&self) -> crate::agenda::Agenda<'_> {
        crate::agenda::Agenda(self)
    }
    pub fn pledges(&self) -> crate::pledges::Pledges<'_> {
        crate::pledges::Pledges(self)
    }
    pub fn reports(&self) -> crate::reports::Reports<'_> {
        crate::reports::Reports(self)
    }
    pub fn garden_archive(&self) -> crate::garden_archive::GardenArchive<'_> {
        crate::garden_archive::GardenArchive(self)
    }
    pub fn map(&self) -> crate::map::Map<'_> {
        crate::map::Map(self)
    }
    pub fn directory(&self) -> crate::directory::Directory<'_> {
        crate::directory::Directory(self)
    }
    pub fn node_admin(&self) -> crate::node::NodeAdmin<'_> {
        crate::node::NodeAdmin(self)
    }
}
