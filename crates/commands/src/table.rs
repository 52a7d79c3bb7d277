//! The command table: every command a node has, by name.

use std::collections::HashMap;
use std::fmt;

use ringcache_resp::Reply;

use crate::env::Env;
use crate::spec::CommandSpec;

/// FNV-1a over a command name: names are a few ASCII bytes, where SipHash's
/// set-up cost dominates, and the table is fixed (no flooding to fear).
#[derive(Default)]
struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type NameMap = HashMap<&'static [u8], u32, std::hash::BuildHasherDefault<NameHasher>>;

/// Every command of a node. Built once at start (the server keeps it in a
/// static, so the specs it hands out live for the whole run).
pub struct Table<E: Env> {
    specs: Vec<CommandSpec<E>>,
    by_name: NameMap,
}

impl<E: Env> fmt::Debug for Table<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table").field("commands", &self.specs.len()).finish()
    }
}

impl<E: Env> Table<E> {
    /// A table of `specs`.
    ///
    /// # Panics
    /// If a name is not lowercase or is registered twice: both are bugs in
    /// a family's table, caught by the first test that builds one.
    pub fn new(specs: impl IntoIterator<Item = CommandSpec<E>>) -> Table<E> {
        let specs: Vec<CommandSpec<E>> = specs.into_iter().collect();
        let mut by_name = NameMap::default();
        for (i, spec) in specs.iter().enumerate() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase(), "command names are lowercase");
            let dup = by_name.insert(spec.name.as_bytes(), i as u32);
            assert!(dup.is_none(), "command {} registered twice", spec.name);
        }
        Table { specs, by_name }
    }

    /// Looks up a command by name, case-insensitively.
    pub fn lookup(&'static self, name: &[u8]) -> Option<&'static CommandSpec<E>> {
        self.index_of(name).map(|i| &self.specs[i as usize])
    }

    fn index_of(&self, name: &[u8]) -> Option<u32> {
        // Command names are short; lowercase on the stack, not the heap.
        let mut buf = [0u8; 32];
        let lower = buf.get_mut(..name.len())?;
        for (d, s) in lower.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        self.by_name.get(&*lower).copied()
    }

    /// Looks a command up through a connection's one-entry cache.
    pub fn lookup_cached(&'static self, cache: &mut LookupCache<E>, name: &[u8]) -> Option<&'static CommandSpec<E>> {
        cache.get(name).or_else(|| self.lookup(name).inspect(|spec| cache.put(name, spec)))
    }

    /// Every command, in registration order.
    pub fn all(&'static self) -> impl Iterator<Item = &'static CommandSpec<E>> {
        self.specs.iter()
    }

    /// Where `spec` is in [`Table::all`]'s order: a dense index for
    /// per-command counters. `spec` must be one of this table's.
    #[inline]
    pub fn position(&self, spec: &CommandSpec<E>) -> usize {
        let at = (spec as *const CommandSpec<E> as usize - self.specs.as_ptr() as usize)
            / std::mem::size_of::<CommandSpec<E>>();
        debug_assert!(std::ptr::eq(&self.specs[at], spec), "a spec of this table");
        at
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}

/// The last command name a connection looked up, as it spelled it.
/// Pipelines mostly repeat one command, and comparing a few bytes is much
/// cheaper than lowercasing and hashing them.
pub struct LookupCache<E: Env> {
    name: [u8; 16],
    len: u8,
    spec: Option<&'static CommandSpec<E>>,
}

impl<E: Env> Default for LookupCache<E> {
    fn default() -> Self {
        LookupCache { name: [0; 16], len: 0, spec: None }
    }
}

impl<E: Env> fmt::Debug for LookupCache<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LookupCache").field("spec", &self.spec.map(|s| s.name)).finish()
    }
}

impl<E: Env> LookupCache<E> {
    fn get(&self, name: &[u8]) -> Option<&'static CommandSpec<E>> {
        (name.len() == usize::from(self.len) && name == &self.name[..name.len()]).then_some(self.spec).flatten()
    }

    fn put(&mut self, name: &[u8], spec: &'static CommandSpec<E>) {
        if name.len() <= self.name.len() {
            self.name[..name.len()].copy_from_slice(name);
            self.len = name.len() as u8;
            self.spec = Some(spec);
        }
    }
}

/// How much of the client's input Redis quotes in an unknown-command error:
/// the name up to this many bytes, and arguments while the quoted text is
/// shorter than this.
const QUOTE_LEN_MAX: usize = 128;

/// Redis's reply to an unknown command (`commandCheckExistence`): the name,
/// then each argument in quotes while the quoted text is under
/// [`QUOTE_LEN_MAX`] bytes, the last one cut to what is left. Bytes are
/// echoed as they are (Redis formats them with `%.*s`, which also stops at
/// a NUL); CR and LF become spaces.
pub fn unknown_command(args: &[&[u8]]) -> Reply {
    let mut quoted = Vec::new();
    for a in &args[1..] {
        let Some(room) = QUOTE_LEN_MAX.checked_sub(quoted.len()).filter(|r| *r > 0) else {
            break;
        };
        quoted.push(b'\'');
        quoted.extend_from_slice(c_str(a, room));
        quoted.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(c_str(args[0], QUOTE_LEN_MAX));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&quoted);
    Reply::error_bytes(msg)
}

/// What C's `%.*s` prints of `b`: up to `max` bytes, stopping at a NUL.
fn c_str(b: &[u8], max: usize) -> &[u8] {
    let b = &b[..b.len().min(max)];
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Text safe to quote in an error line (for error texts built as strings).
pub fn printable(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(max)]);
    s.replace(['\r', '\n'], " ")
}
