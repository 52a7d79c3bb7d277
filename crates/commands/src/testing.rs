//! A node without sockets, for unit tests of the handlers: commands go
//! through the real dispatcher over a real keyspace, and values of types a
//! family cannot create are stored directly.

use std::sync::LazyLock;

use bytes::Bytes;
use ringcache_resp::Reply;
use ringcache_store::{Db, DbConfig, HashValue, ListValue, Value};

use crate::{dispatch, ClientState, Env, Table};

/// The test node's keyspace and limits.
#[derive(Debug)]
pub struct TestEnv {
    pub db: Db,
    pub proto_max_bulk_len: u64,
    pub journal: bool,
    pub databases: u32,
    pub db0_only: bool,
    /// Keys that tests pretend clients wait on (`Env::awaited`).
    pub waiting: std::sync::Mutex<Vec<(u16, Bytes)>>,
}

static TABLE: LazyLock<Table<TestEnv>> = LazyLock::new(|| Table::new(crate::data_commands()));

impl Env for TestEnv {
    type Client = ClientState<TestEnv>;

    fn db(&self) -> &Db {
        &self.db
    }

    fn table(&self) -> &'static Table<Self> {
        &TABLE
    }

    fn proto_max_bulk_len(&self) -> u64 {
        self.proto_max_bulk_len
    }

    fn query_buffer_limit(&self) -> usize {
        1 << 30
    }

    fn journal(&self) -> bool {
        self.journal
    }

    fn databases(&self) -> u32 {
        self.databases
    }

    fn db0_only(&self) -> bool {
        self.db0_only
    }

    fn any_blocked(&self) -> bool {
        !self.waiting.lock().expect("not poisoned").is_empty()
    }

    fn awaited(&self, dbid: u16, key: &[u8]) -> bool {
        self.waiting.lock().expect("not poisoned").iter().any(|(d, k)| *d == dbid && k == key)
    }

    fn awaited_keys(&self, dbid: u16) -> Vec<Bytes> {
        self.waiting.lock().expect("not poisoned").iter().filter(|(d, _)| *d == dbid).map(|(_, k)| k.clone()).collect()
    }
}

#[derive(Debug)]
pub struct Node {
    pub env: TestEnv,
    pub client: ClientState<TestEnv>,
}

impl Node {
    pub fn new() -> Node {
        Node::with_journal(false)
    }

    /// A node whose writes report what they changed, as in a replicated
    /// cluster (versions, tombstones and the store's journal on).
    pub fn with_journal(journal: bool) -> Node {
        let db = Db::new(DbConfig {
            shards: 8,
            journal,
            tombstone_grace_ms: if journal { 60_000 } else { 0 },
            ..DbConfig::default()
        });
        let env = TestEnv {
            db,
            proto_max_bulk_len: 512 * 1024 * 1024,
            journal,
            databases: 16,
            db0_only: false,
            waiting: Default::default(),
        };
        Node { env, client: ClientState::new(true) }
    }

    pub fn run(&mut self, args: &[&str]) -> Reply {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        dispatch(&self.env, &mut self.client, &args, ringcache_store::now_ms())
    }

    /// Stores `value` at `key` with no TTL.
    pub fn put(&self, key: &str, value: Value) {
        let now = ringcache_store::now_ms();
        self.env.db.lock_key(key.as_bytes()).shard(key.as_bytes()).set(key.as_bytes(), value, 0, now);
    }

    pub fn put_hash(&self, key: &str) {
        let mut h = HashValue::new();
        h.insert(b"field", b"value");
        self.put(key, Value::Hash(Box::new(h)));
    }

    pub fn put_list(&self, key: &str) {
        let mut l = ListValue::new();
        l.push_back(b"item");
        self.put(key, Value::List(Box::new(l)));
    }
}

pub fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn err(s: &str) -> Reply {
    Reply::Error(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn wrongtype() -> Reply {
    err("WRONGTYPE Operation against a key holding the wrong kind of value")
}
