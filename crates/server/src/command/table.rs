//! The command table: every declared command and subcommand, numbered, with its full name
//! (`config|get`) and lookup by (renamed) name. Lookup is case-insensitive and allocation-free.

use super::spec::CommandSpec;

/// A command or subcommand in the table.
pub struct CmdEntry {
    pub spec: &'static CommandSpec,
    /// Index into per-command statistics.
    pub id: usize,
    /// `name` or `parent|sub`.
    pub fullname: String,
    pub parent: Option<usize>,
    subs: foldhash::HashMap<Vec<u8>, usize>,
}

impl CmdEntry {
    pub fn is_container(&self) -> bool {
        !self.subs.is_empty()
    }

    pub fn subcommand_ids(&self) -> impl Iterator<Item = usize> + '_ {
        let mut ids: Vec<usize> = self.subs.values().copied().collect();
        ids.sort_unstable();
        ids.into_iter()
    }
}

pub struct CommandTable {
    entries: Vec<CmdEntry>,
    by_name: foldhash::HashMap<Vec<u8>, usize>,
}

/// Longest command name looked up (longer names are simply unknown).
const NAME_MAX: usize = 64;

impl CommandTable {
    pub fn new(specs: impl IntoIterator<Item = &'static CommandSpec>) -> Self {
        let mut t = CommandTable {
            entries: Vec::new(),
            by_name: Default::default(),
        };
        for spec in specs {
            let id = t.push(spec, spec.name.to_string(), None);
            for sub in spec.subcommands {
                let sid = t.push(sub, format!("{}|{}", spec.name, sub.name), Some(id));
                t.entries[id].subs.insert(sub.name.as_bytes().to_vec(), sid);
            }
            let previous = t.by_name.insert(spec.name.as_bytes().to_vec(), id);
            assert!(previous.is_none(), "command {} declared twice", spec.name);
        }
        t
    }

    fn push(
        &mut self,
        spec: &'static CommandSpec,
        fullname: String,
        parent: Option<usize>,
    ) -> usize {
        debug_assert_eq!(
            spec.name,
            spec.name.to_ascii_lowercase(),
            "command names are lowercase"
        );
        let id = self.entries.len();
        self.entries.push(CmdEntry {
            spec,
            id,
            fullname,
            parent,
            subs: Default::default(),
        });
        id
    }

    /// Looks a command up by name, case-insensitively.
    pub fn lookup(&self, name: &[u8]) -> Option<&CmdEntry> {
        let mut buf = [0u8; NAME_MAX];
        let lower = lowercase_into(name, &mut buf)?;
        self.by_name.get(lower).map(|&id| &self.entries[id])
    }

    /// Looks a subcommand of `parent` up by name.
    pub fn lookup_sub(&self, parent: &CmdEntry, name: &[u8]) -> Option<&CmdEntry> {
        let mut buf = [0u8; NAME_MAX];
        let lower = lowercase_into(name, &mut buf)?;
        parent.subs.get(lower).map(|&id| &self.entries[id])
    }

    /// Looks up `name` or `parent|sub`.
    pub fn lookup_fullname(&self, name: &[u8]) -> Option<&CmdEntry> {
        match name.iter().position(|&c| c == b'|') {
            Some(bar) => self
                .lookup(&name[..bar])
                .and_then(|p| self.lookup_sub(p, &name[bar + 1..])),
            None => self.lookup(name),
        }
    }

    pub fn get(&self, id: usize) -> &CmdEntry {
        &self.entries[id]
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Top-level commands, by their current names.
    pub fn top_level(&self) -> impl Iterator<Item = (&[u8], &CmdEntry)> + '_ {
        self.by_name
            .iter()
            .map(|(name, &id)| (name.as_slice(), &self.entries[id]))
    }

    /// Every command and subcommand.
    pub fn all(&self) -> &[CmdEntry] {
        &self.entries
    }

    /// Applies `rename-command from to` (empty `to` removes the command).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        let id = self
            .by_name
            .remove(from.to_ascii_lowercase().as_bytes())
            .ok_or("No such command in rename-command")?;
        if !to.is_empty() {
            let key = to.to_ascii_lowercase().into_bytes();
            if self.by_name.contains_key(&key) {
                return Err("Target command name already exists".to_string());
            }
            self.by_name.insert(key, id);
        }
        Ok(())
    }
}

fn lowercase_into<'b>(name: &[u8], buf: &'b mut [u8; NAME_MAX]) -> Option<&'b [u8]> {
    if name.len() > NAME_MAX {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..name.len()])
}
