//! Access control lists: the users (`default` and those made by ACL SETUSER), the rule
//! language, the permission check the dispatch gate makes, and the ACL LOG.
//!
//! Users are immutable snapshots behind `Arc`s: changing a user publishes a new snapshot and
//! bumps [`Acl::epoch`]; each connection holds its user's snapshot and refreshes it when it
//! sees a new epoch. A user with every permission has `all_permissions` set, so the gate's
//! check costs one branch for it.
//!
//! - [`user`]: users, selectors, the permission check.
//! - [`rules`]: the rule parser (ACL SETUSER, `user` directives, aclfile).
//! - [`describe`]: users as rules again (ACL LIST, GETUSER, SAVE).
//! - [`log`]: the ACL LOG of refused commands and failed authentications.
//! - [`gate`]: the check the dispatch gate and scripts make, with ACL LOG entries.
//! - [`file`]: the aclfile and `user` directives.

pub mod describe;
pub mod file;
pub mod gate;
pub mod log;
pub mod rules;
pub mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

pub use user::{Denied, Refusal, User};

use crate::command::table::CommandTable;

/// The users and the ACL LOG.
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    /// Bumped on every change to any user.
    epoch: AtomicU64,
    pub log: log::AclLog,
}

impl Acl {
    /// Only the `default` user, with every permission and no password.
    pub fn new(command_count: usize) -> Self {
        let mut users = BTreeMap::new();
        users.insert(
            "default".to_string(),
            Arc::new(User::new_default(command_count)),
        );
        Acl {
            users: RwLock::new(users),
            epoch: AtomicU64::new(1),
            log: log::AclLog::default(),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get("default").expect("the default user always exists")
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Publishes a new or changed user.
    pub fn put(&self, user: User) {
        self.users.write().insert(user.name.clone(), Arc::new(user));
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Removes a user; the caller kills its connections. The default user stays.
    pub fn remove(&self, name: &str) -> bool {
        if name == "default" {
            return false;
        }
        let removed = self.users.write().remove(name).is_some();
        if removed {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Replaces every user at once (ACL LOAD); a missing default user gets the start-up one.
    pub fn replace_all(&self, users: Vec<User>, command_count: usize) {
        let mut map: BTreeMap<String, Arc<User>> = users
            .into_iter()
            .map(|u| (u.name.clone(), Arc::new(u)))
            .collect();
        map.entry("default".to_string())
            .or_insert_with(|| Arc::new(User::new_default(command_count)));
        *self.users.write() = map;
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// True when a new connection must authenticate: the default user needs a password or
    /// is disabled.
    pub fn auth_required(&self) -> bool {
        let d = self.default_user();
        !d.nopass || !d.enabled
    }

    /// `requirepass`: sets the default user's only password (empty: no password).
    pub fn set_requirepass(&self, table: &CommandTable, password: &str) {
        let base = self.default_user();
        let rule = format!(">{password}");
        let rules: [&[u8]; 2] = if password.is_empty() {
            [b"resetpass", b"nopass"]
        } else {
            [b"resetpass", rule.as_bytes()]
        };
        if let Ok(user) = rules::set_user(table, Some(&base), "default", &rules) {
            self.put(user);
        }
    }

    /// Checks a user name and password; `None` if the user is unknown, disabled, or the
    /// password is wrong.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let name = std::str::from_utf8(name).ok()?;
        let user = self.get(name)?;
        (user.enabled && user.password_ok(password)).then_some(user)
    }
}
