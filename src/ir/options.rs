//! sendmail's option names (`OptionTab` in readcf.c, every entry of 8.17 including those
//! behind compile-time switches) and their old one-character forms.

/// (long name, one-character name).
pub const OPTIONS: &[(&str, Option<u8>)] = &[
    ("AddBcc", None),
    ("AddrTypeModes", None),
    ("AliasFile", Some(b'A')),
    ("AliasWait", Some(b'a')),
    ("AllowBogusHELO", None),
    ("AuthMaxBits", None),
    ("AuthMechanisms", None),
    ("AuthOptions", None),
    ("AuthRealm", None),
    ("BadRcptShutdown", None),
    ("BadRcptShutdownGood", None),
    ("BadRcptThrottle", None),
    ("BadRcptThrottleDelay", None),
    ("BlankSub", Some(b'B')),
    ("BounceQueue", None),
    ("CACertFile", None),
    ("CACertPath", None),
    ("CRLFile", None),
    ("CRLPath", None),
    ("CertFingerprintAlgorithm", None),
    ("CheckAliases", Some(b'n')),
    ("CheckQueueRunners", None),
    ("CheckpointInterval", Some(b'C')),
    ("CipherList", None),
    ("ClassFactor", Some(b'z')),
    ("ClientCertFile", None),
    ("ClientKeyFile", None),
    ("ClientPortOptions", None),
    ("ClientSSLOptions", None),
    ("ColonOkInAddr", None),
    ("ConnectOnlyTo", None),
    ("ConnectionCacheSize", Some(b'k')),
    ("ConnectionCacheTimeout", Some(b'K')),
    ("ConnectionRateThrottle", None),
    ("ConnectionRateWindowSize", None),
    ("ControlSocketName", None),
    ("DHParameters", None),
    ("DaemonPortOptions", Some(b'O')),
    ("DataFileBufferSize", None),
    ("DeadLetterDrop", None),
    ("DefaultAuthInfo", None),
    ("DefaultCharSet", None),
    ("DefaultUser", Some(b'u')),
    ("DelayLA", None),
    ("DeliverByMin", None),
    ("DeliveryMode", Some(b'd')),
    ("DialDelay", None),
    ("DirectSubmissionModifiers", None),
    ("DontBlameSendmail", None),
    ("DontExpandCnames", None),
    ("DontInitGroups", None),
    ("DontLockFilesForRead", None),
    ("DontProbeInterfaces", None),
    ("DontPruneRoutes", Some(b'R')),
    ("DoubleBounceAddress", None),
    ("EightBitAddrOK", None),
    ("EightBitMode", Some(b'8')),
    ("ErrorHeader", Some(b'E')),
    ("ErrorMode", Some(b'e')),
    ("FIPSMode", None),
    ("FallbackMXhost", Some(b'V')),
    ("FallbackSmartHost", None),
    ("FastSplit", None),
    ("ForkEachJob", Some(b'Y')),
    ("ForwardPath", Some(b'J')),
    ("HeloName", None),
    ("HelpFile", Some(b'H')),
    ("HoldExpensive", Some(b'c')),
    ("HostStatusDirectory", None),
    ("HostsFile", None),
    ("IgnoreDots", Some(b'i')),
    ("InetQoS", None),
    ("InputMailFilters", None),
    ("LDAPDefaultSpec", None),
    ("LogLevel", Some(b'L')),
    ("MailboxDatabase", None),
    ("MatchGECOS", Some(b'G')),
    ("MaxAliasRecursion", None),
    ("MaxDaemonChildren", None),
    ("MaxForwardEntries", None),
    ("MaxHeadersLength", None),
    ("MaxHopCount", Some(b'h')),
    ("MaxMessageSize", None),
    ("MaxMimeHeaderLength", None),
    ("MaxNOOPCommands", None),
    ("MaxQueueAge", None),
    ("MaxQueueChildren", None),
    ("MaxQueueRunSize", None),
    ("MaxRecipientsPerMessage", None),
    ("MaxRunnersPerQueue", None),
    ("MeToo", Some(b'm')),
    ("MemoryResource", None),
    ("MessageAccept", None),
    ("Milter", None),
    ("MinFreeBlocks", Some(b'b')),
    ("MinQueueAge", None),
    ("MustQuoteChars", None),
    ("NiceQueueRun", None),
    ("NoRecipientAction", None),
    ("OldStyleHeaders", Some(b'o')),
    ("OperatorChars", None),
    ("PidFile", None),
    ("PostmasterCopy", Some(b'P')),
    ("PrivacyOptions", Some(b'p')),
    ("ProcessTitlePrefix", None),
    ("QueueDirectory", Some(b'Q')),
    ("QueueFactor", Some(b'q')),
    ("QueueFileMode", None),
    ("QueueLA", Some(b'x')),
    ("QueueLowMem", None),
    ("QueueSortOrder", None),
    ("QueueTimeout", Some(b'T')),
    ("RandFile", None),
    ("RecipientFactor", Some(b'y')),
    ("RefuseLA", Some(b'X')),
    ("RefuseLowMem", None),
    ("RejectLogInterval", None),
    ("RejectNUL", None),
    ("RemoteMode", Some(b'>')),
    ("RequiresDirfsync", None),
    ("ResolverOptions", Some(b'I')),
    ("RetryFactor", Some(b'Z')),
    ("RrtImpliesDsn", None),
    ("RunAsUser", None),
    ("SSLEngine", None),
    ("SafeFileEnvironment", None),
    ("SaveFromLine", Some(b'f')),
    ("SendMimeErrors", Some(b'j')),
    ("ServerCertFile", None),
    ("ServerKeyFile", None),
    ("ServerSSLOptions", None),
    ("ServiceSwitchFile", None),
    ("SevenBitInput", Some(b'7')),
    ("SharedMemoryKey", None),
    ("SharedMemoryKeyFile", None),
    ("SingleLineFromHeader", None),
    ("SingleThreadDelivery", None),
    ("SmtpGreetingMessage", None),
    ("SoftBounce", None),
    ("StatusFile", Some(b'S')),
    ("SuperSafe", Some(b's')),
    ("TLSSrvOptions", None),
    ("TempFileMode", Some(b'F')),
    ("TimeZoneSpec", Some(b't')),
    ("Timeout", Some(b'r')),
    ("TrustedUser", None),
    ("TryNullMXList", Some(b'w')),
    ("UnixFromLine", None),
    ("UnsafeGroupWrites", None),
    ("UseCompressedIPv6Addresses", None),
    ("UseErrorsTo", Some(b'l')),
    ("UseMSP", None),
    ("UserDatabaseSpec", Some(b'U')),
    ("Verbose", Some(b'v')),
    ("XscriptFileBufferSize", None),
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
