//! sendmail's option names (`OptionTab` in readcf.c, every entry of 8.17 including those
//! behind compile-time switches, in the table's order: ambiguity messages name the first
//! two matches) and their old one-character forms.

/// (long name, one-character name).
pub const OPTIONS: &[(&str, Option<u8>)] = &[
    ("RemoteMode", Some(b'>')),
    ("SevenBitInput", Some(b'7')),
    ("EightBitMode", Some(b'8')),
    ("AliasFile", Some(b'A')),
    ("AliasWait", Some(b'a')),
    ("BlankSub", Some(b'B')),
    ("MinFreeBlocks", Some(b'b')),
    ("CheckpointInterval", Some(b'C')),
    ("HoldExpensive", Some(b'c')),
    ("DeliveryMode", Some(b'd')),
    ("ErrorHeader", Some(b'E')),
    ("ErrorMode", Some(b'e')),
    ("TempFileMode", Some(b'F')),
    ("SaveFromLine", Some(b'f')),
    ("MatchGECOS", Some(b'G')),
    ("HelpFile", Some(b'H')),
    ("MaxHopCount", Some(b'h')),
    ("ResolverOptions", Some(b'I')),
    ("IgnoreDots", Some(b'i')),
    ("ForwardPath", Some(b'J')),
    ("SendMimeErrors", Some(b'j')),
    ("ConnectionCacheSize", Some(b'k')),
    ("ConnectionCacheTimeout", Some(b'K')),
    ("UseErrorsTo", Some(b'l')),
    ("LogLevel", Some(b'L')),
    ("MeToo", Some(b'm')),
    ("CheckAliases", Some(b'n')),
    ("OldStyleHeaders", Some(b'o')),
    ("DaemonPortOptions", Some(b'O')),
    ("PrivacyOptions", Some(b'p')),
    ("PostmasterCopy", Some(b'P')),
    ("QueueFactor", Some(b'q')),
    ("QueueDirectory", Some(b'Q')),
    ("DontPruneRoutes", Some(b'R')),
    ("Timeout", Some(b'r')),
    ("StatusFile", Some(b'S')),
    ("SuperSafe", Some(b's')),
    ("QueueTimeout", Some(b'T')),
    ("TimeZoneSpec", Some(b't')),
    ("UserDatabaseSpec", Some(b'U')),
    ("DefaultUser", Some(b'u')),
    ("FallbackMXhost", Some(b'V')),
    ("Verbose", Some(b'v')),
    ("TryNullMXList", Some(b'w')),
    ("QueueLA", Some(b'x')),
    ("RefuseLA", Some(b'X')),
    ("RecipientFactor", Some(b'y')),
    ("ForkEachJob", Some(b'Y')),
    ("ClassFactor", Some(b'z')),
    ("RetryFactor", Some(b'Z')),
    ("QueueSortOrder", None),
    ("HostsFile", None),
    ("MinQueueAge", None),
    ("DefaultCharSet", None),
    ("ServiceSwitchFile", None),
    ("DialDelay", None),
    ("NoRecipientAction", None),
    ("SafeFileEnvironment", None),
    ("MaxMessageSize", None),
    ("ColonOkInAddr", None),
    ("MaxQueueRunSize", None),
    ("MaxDaemonChildren", None),
    ("DontExpandCnames", None),
    ("MustQuoteChars", None),
    ("SmtpGreetingMessage", None),
    ("UnixFromLine", None),
    ("OperatorChars", None),
    ("DontInitGroups", None),
    ("SingleLineFromHeader", None),
    ("AllowBogusHELO", None),
    ("ConnectionRateThrottle", None),
    ("UnsafeGroupWrites", None),
    ("DoubleBounceAddress", None),
    ("HostStatusDirectory", None),
    ("SingleThreadDelivery", None),
    ("RunAsUser", None),
    ("RrtImpliesDsn", None),
    ("PidFile", None),
    ("DontBlameSendmail", None),
    ("DontProbeInterfaces", None),
    ("MaxRecipientsPerMessage", None),
    ("DeadLetterDrop", None),
    ("DontLockFilesForRead", None),
    ("MaxAliasRecursion", None),
    ("ConnectOnlyTo", None),
    ("TrustedUser", None),
    ("MaxMimeHeaderLength", None),
    ("ControlSocketName", None),
    ("MaxHeadersLength", None),
    ("MaxForwardEntries", None),
    ("ProcessTitlePrefix", None),
    ("DefaultAuthInfo", None),
    ("AuthMechanisms", None),
    ("ClientPortOptions", None),
    ("DataFileBufferSize", None),
    ("XscriptFileBufferSize", None),
    ("LDAPDefaultSpec", None),
    ("ServerCertFile", None),
    ("ServerKeyFile", None),
    ("ClientCertFile", None),
    ("ClientKeyFile", None),
    ("CACertFile", None),
    ("CACertPath", None),
    ("DHParameters", None),
    ("InputMailFilters", None),
    ("Milter", None),
    ("AuthOptions", None),
    ("QueueFileMode", None),
    ("CertFingerprintAlgorithm", None),
    ("CipherList", None),
    ("RandFile", None),
    ("TLSSrvOptions", None),
    ("BadRcptThrottle", None),
    ("DeliverByMin", None),
    ("MaxQueueChildren", None),
    ("MaxRunnersPerQueue", None),
    ("DirectSubmissionModifiers", None),
    ("NiceQueueRun", None),
    ("SharedMemoryKey", None),
    ("AuthMaxBits", None),
    ("MailboxDatabase", None),
    ("UseMSP", None),
    ("DelayLA", None),
    ("FastSplit", None),
    ("SoftBounce", None),
    ("SharedMemoryKeyFile", None),
    ("RejectLogInterval", None),
    ("RequiresDirfsync", None),
    ("ConnectionRateWindowSize", None),
    ("CRLFile", None),
    ("FallbackSmartHost", None),
    ("AuthRealm", None),
    ("CRLPath", None),
    ("HeloName", None),
    ("RefuseLowMem", None),
    ("QueueLowMem", None),
    ("MemoryResource", None),
    ("MaxNOOPCommands", None),
    ("MessageAccept", None),
    ("CheckQueueRunners", None),
    ("EightBitAddrOK", None),
    ("AddrTypeModes", None),
    ("BadRcptShutdown", None),
    ("BadRcptShutdownGood", None),
    ("ServerSSLOptions", None),
    ("ClientSSLOptions", None),
    ("MaxQueueAge", None),
    ("BadRcptThrottleDelay", None),
    ("InetQoS", None),
    ("FIPSMode", None),
    ("RejectNUL", None),
    ("BounceQueue", None),
    ("AddBcc", None),
    ("UseCompressedIPv6Addresses", None),
    ("SSLEngine", None),
];

/// How an option name written on an O line resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionMatch {
    Exact(&'static str),
    /// An unambiguous prefix: sendmail prints "Option X used as abbreviation for Y".
    Abbreviation(&'static str),
    Ambiguous(&'static str, &'static str),
    Unknown,
}

/// Resolve a long option name (case-insensitive, unambiguous prefixes accepted).
pub fn resolve(name: &[u8]) -> OptionMatch {
    let mut found: Option<&'static str> = None;
    for (long, _) in OPTIONS {
        if long.as_bytes().eq_ignore_ascii_case(name) {
            return OptionMatch::Exact(long);
        }
    }
    for (long, _) in OPTIONS {
        let l = long.as_bytes();
        if l.len() > name.len() && l[..name.len()].eq_ignore_ascii_case(name) {
            if let Some(first) = found {
                if first != *long {
                    return OptionMatch::Ambiguous(first, long);
                }
            } else {
                found = Some(long);
            }
        }
    }
    match found {
        Some(l) => OptionMatch::Abbreviation(l),
        None => OptionMatch::Unknown,
    }
}

/// The long name of a one-character option.
pub fn by_char(c: u8) -> Option<&'static str> {
    OPTIONS
        .iter()
        .find(|(_, ch)| *ch == Some(c))
        .map(|(l, _)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(resolve(b"blanksub"), OptionMatch::Exact("BlankSub"));
        assert_eq!(
            resolve(b"OperatorC"),
            OptionMatch::Abbreviation("OperatorChars")
        );
        assert!(matches!(resolve(b"Max"), OptionMatch::Ambiguous(..)));
        assert_eq!(resolve(b"NoSuchOption"), OptionMatch::Unknown);
        assert_eq!(by_char(b'B'), Some("BlankSub"));
    }
}
