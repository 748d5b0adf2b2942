//! The one interface the rewrite engine sees maps through.
//!
//! sendmail splits a lookup in two: the wrapper in parseaddr.c (`map_lookup`: build the key
//! from tokens, strip quotes unless `-q`, turn a tempfail into the ruleset status or the
//! `-T` text) belongs to the engine; everything after it — opening the map on first use,
//! case folding, the adaptive NUL tries, `%n` substitution, `-a`, `-m`, the class's own
//! semantics — belongs to the map (`map.c`), and lives behind [`Maps`].
//!
//! Maps never print and never touch engine state directly: they talk back through
//! [`MapEnv`] (messages in the order sendmail prints them, macro values, the `macro`
//! class's side effect).

/// What a class lookup answered: sendmail's `(char *result, int *statp)` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The result (already `%`-substituted, `-a` appended, `-m` applied); `None` when there
    /// is none. An empty value is a value (the `macro` class, a regex match without `-a`).
    pub value: Option<Vec<u8>>,
    /// A sysexits status ([`crate::sysexits`]): OK, NOTFOUND, TEMPFAIL, CONFIG…
    pub status: i32,
}

impl Answer {
    pub fn found(value: Vec<u8>) -> Answer {
        Answer {
            value: Some(value),
            status: crate::sysexits::OK,
        }
    }

    pub fn not_found() -> Answer {
        Answer {
            value: None,
            status: crate::sysexits::NOTFOUND,
        }
    }

    pub fn status(status: i32) -> Answer {
        Answer {
            value: None,
            status,
        }
    }
}

/// How a map's first open went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenState {
    /// Open (or a class with nothing to open).
    Open,
    /// Could not be opened and is not optional: sendmail printed why (once) and every
    /// lookup through the rule wrapper is a temporary failure from now on.
    Bogus,
    /// Optional (`-o`) and could not be opened: every lookup is "not found", silently.
    Invalid,
}

/// What the engine offers a map while it looks something up.
pub trait MapEnv {
    /// A message line, as sendmail prints it in `-bt` (no trailing newline).
    fn message(&mut self, text: &[u8]);
    /// The current value of a macro by name: one byte (`b"m"`) or a long name without
    /// braces (`b"client_addr"`).
    fn macro_value(&self, name: &[u8]) -> Option<Vec<u8>>;
    /// Define (`Some`) or undefine (`None`) a macro, as the `macro` class does.
    fn set_macro(&mut self, name: &[u8], value: Option<&[u8]>);
    /// The BlankSub option in force now (classes without a `-S` snapshot use it).
    fn blank_sub(&self) -> u8;
}

/// The maps of one configuration, by the index of their declaration in `Ir::maps`.
pub trait Maps {
    /// The index of map `name` (case-insensitive), if declared.
    fn find(&self, name: &[u8]) -> Option<usize>;
    /// Open map `index` if that has not been tried yet, printing sendmail's open error
    /// through `env` the first time it fails; later calls return the remembered state.
    fn open(&mut self, index: usize, env: &mut dyn MapEnv) -> OpenState;
    /// The class lookup proper (sendmail's `map_class->map_lookup`), called after a
    /// successful open. `key` is the key string as the wrapper built it; `args[0]` is the
    /// key again (`%0`) and `args[1..]` the `$@` arguments (`%1`…).
    fn lookup(
        &mut self,
        index: usize,
        key: &[u8],
        args: &[Vec<u8>],
        env: &mut dyn MapEnv,
    ) -> Answer;
    /// `/canon host`: getcanonname's answer, `None` when not found.
    fn canon(&mut self, host: &[u8], env: &mut dyn MapEnv) -> Option<Vec<u8>>;
    /// Whether host lookups ask DNS (sendmail's UseNameServer: `dns` among the service
    /// switch's `hosts` services). Offline, DNS never answers.
    fn use_name_server(&mut self) -> bool {
        true
    }
    /// The declaration of map `index` (its `-T`, `-t`, `-q` flags and space substitute
    /// for the rule wrapper). Indices past `Ir::maps` are maps sendmail declares itself
    /// after reading the file (`aliases`, `aliases.files`…), which the IR does not list.
    fn decl(&self, _index: usize) -> Option<&crate::ir::MapDecl> {
        None
    }
    /// A new test line begins. sendmail fstat()s a map file before every lookup to see
    /// whether it was rebuilt; cfmap's file maps look at most once per line and once
    /// per tick of the coarse monotonic clock (1–10 ms), so a rebuild is answered from
    /// the first line that starts a tick after it.
    fn next_command(&mut self) {}
    /// `Some(generation)` when map `index` is open and answers each key and arguments
    /// the same way until the generation changes (a file map already looked at in this
    /// line and clock tick; the host map, whose cache keeps every name it answered; a
    /// dequote map, which answers from the key alone):
    /// the engine may then reuse an earlier answer the map called reusable
    /// ([`Maps::reusable_find`]). `None`: ask the map.
    fn stable_generation(&mut self, _index: usize) -> Option<u64> {
        None
    }
    /// When the last answer of map `index` may be reused under
    /// [`Maps::stable_generation`], what the map found for it (`Some(None)`: nothing).
    /// A libdb value with a `%` reads on into the return buffer earlier lookups left:
    /// such an answer may not come again.
    fn reusable_find(&self, _index: usize) -> Option<Option<&[u8]>> {
        None
    }
    /// Whether a lookup of `key` in map `index` (open) now prints nothing and, asked
    /// again, answers the same and leaves the map as one lookup would (a file map
    /// already looked at in this line and tick; dequote; the host map when no name
    /// server is asked and the answer cannot be a temporary failure): a tape's replay
    /// may ask it ahead of the run that would.
    fn silent_lookup(&mut self, _index: usize, _key: &[u8]) -> bool {
        false
    }
    /// An answer is reused: leave the map as that lookup would (libdb's return buffer
    /// holds the value found).
    fn replay(&mut self, _index: usize, _found: Option<&[u8]>) {}
}

/// No maps at all: every name is unknown. For engine tests and configs without K lines.
pub struct NoMaps;

impl Maps for NoMaps {
    fn find(&self, _name: &[u8]) -> Option<usize> {
        None
    }

    fn open(&mut self, _index: usize, _env: &mut dyn MapEnv) -> OpenState {
        OpenState::Invalid
    }

    fn lookup(
        &mut self,
        _index: usize,
        _key: &[u8],
        _args: &[Vec<u8>],
        _env: &mut dyn MapEnv,
    ) -> Answer {
        Answer::not_found()
    }

    fn canon(&mut self, _host: &[u8], _env: &mut dyn MapEnv) -> Option<Vec<u8>> {
        None
    }
}
