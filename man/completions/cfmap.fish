# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cfmap_global_optspecs
    string join \n h/help V/version
end

function __fish_cfmap_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cfmap_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cfmap_using_subcommand
    set -l cmd (__fish_cfmap_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cfmap -n "__fish_cfmap_needs_command" -s h -l help -d 'Print help'
complete -c cfmap -n "__fish_cfmap_needs_command" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "lint" -d 'Check .cf files for mistakes sendmail would reject or silently misread'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "compile" -d 'Compile a .cf file and print its rulesets, rules and maps'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "makemap" -d 'Build a map from `key value` lines on standard input, like sendmail\'s makemap'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "dump" -d 'Print every record of a map as `KEY<TAB>VALUE` lines, like `makemap -u`'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "query" -d 'Look keys up in a map and print their values, like `postmap -q`'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "test" -d 'Run rulesets on addresses exactly as `sendmail -bt` does'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "check" -d 'Check expected ruleset results, for CI'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "verify" -d 'Verify recipients against the mailbox server over SMTP, with a cache of positive answers shared with Perl filters'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "cache" -d 'Look after the positive verification cache (an SDBM_File pair NAME.dir + NAME.pag)'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "serve" -d 'Answer sendmail socket map (and Postfix socketmap) lookups from map files and from recipient verification'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "convert" -d 'Convert a map to another format, pair for pair: hash, btree, dbm, cdb or a makemap source (text)'
complete -c cfmap -n "__fish_cfmap_needs_command" -f -a "migrate" -d 'Move a sendmail configuration off Berkeley DB: convert every hash, btree and dbm map to cdb and patch the K lines, with a proof that nothing answers differently'
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -l format -d 'Output format (see OUTPUT FORMATS below)' -r -f -a "human\t'Reports with source snippets'
short\t'`file:line:col: severity[rule]: message`'
json\t'One JSON array'
github\t'GitHub Actions workflow commands'"
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -l deny -d 'Also fail (exit 1) on findings of this severity' -r -f -a "warnings\t'Warnings fail too'
info\t'Warnings and info findings fail too'"
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -l base-dir -d 'Directory relative map paths are resolved from, as sendmail\'s current directory (default: the current directory)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -l explain -d 'Print a rule\'s documentation and exit' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -l hostname -d 'Host name for `$j`, `$w`, `$m` (default: this machine\'s)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -l color -d 'Colour in human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -l check-files -d 'Look at map and class files on disk (missing-map-file, stale-map)'
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -l list-rules -d 'List the rules with their severities and exit'
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand lint" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand compile" -s C -d 'The configuration file (required)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand compile" -l emit -d 'Output form' -r -f -a "ir\t'Stable text'
json\t'JSON'"
complete -c cfmap -n "__fish_cfmap_using_subcommand compile" -l hostname -d 'Host name for `$j`, `$w`, `$m` (default: this machine\'s)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand compile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand compile" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s C -d 'Read FILE instead of /etc/mail/sendmail.cf for `O TrustedUser` (as root)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s c -d 'libdb cache size (accepted for compatibility; ignored)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s D -d 'Comment character (default `#`); lines starting with it are skipped' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s t -d 'Key/value delimiter (default: any white space)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s N -d 'Append a NUL byte to every key and every value'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s d -d 'Allow duplicate keys: every record is kept, in input order'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s e -d 'Store lines without a value, with an empty value'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s f -d 'Do not fold keys to lower case'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s l -d 'List the supported map types and exit'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s o -d 'Append to the existing map instead of replacing it'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s r -d 'A repeated key replaces the earlier value (default: error, first value kept)'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s s -d 'Skip the safety checks (symbolic and hard links)'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s u -d 'Dump the map (`KEY<TAB>VALUE` lines) instead of building it'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s v -d 'Print every record as it is stored'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand makemap" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand dump" -s t -d 'Print this byte between key and value instead of a TAB (as `makemap -u -t C`)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand dump" -s N -d 'Accepted for makemap compatibility; no effect (the trailing NUL is never printed)'
complete -c cfmap -n "__fish_cfmap_using_subcommand dump" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand dump" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand query" -s f -d 'Do not fold keys to lower case (the map was built with `makemap -f`)'
complete -c cfmap -n "__fish_cfmap_using_subcommand query" -s N -d 'Look keys up with a trailing NUL byte (the map was built with `makemap -N`)'
complete -c cfmap -n "__fish_cfmap_using_subcommand query" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand query" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand test" -s C -d 'The configuration file (required)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand test" -s d -d 'Define macro NAME (one character or a long name, braces optional) as VALUE after the configuration is read; `-d j=mx.example.com` sets the host name' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand test" -l root -d 'Read absolute map and class file paths below DIR (/etc/mail/x is DIR/etc/mail/x)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand test" -l map -d 'Let map NAME answer from FILE, a text file of `key value` lines, instead of its network service (ldap, dns, socket, program…)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand test" -l passwd -d 'The passwd file `user` maps read (default /etc/passwd, below --root if given)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand test" -s e -d 'Run LINE as if it had been typed (repeatable); standard input is not read' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand test" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand check" -s C -d 'The configuration file (required)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand check" -s d -d 'Define macro NAME (one character or a long name, braces optional) as VALUE after the configuration is read; `-d j=mx.example.com` sets the host name' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand check" -l root -d 'Read absolute map and class file paths below DIR (/etc/mail/x is DIR/etc/mail/x)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand check" -l map -d 'Let map NAME answer from FILE, a text file of `key value` lines, instead of its network service (ldap, dns, socket, program…)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand check" -l passwd -d 'The passwd file `user` maps read (default /etc/passwd, below --root if given)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand check" -l format -d 'Report format' -r -f -a "text\t'One line per case (`ok` / `FAIL`), the trace of each failure, and a summary'
junit\t'JUnit XML: one testsuite per test file, one testcase per case'"
complete -c cfmap -n "__fish_cfmap_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand check" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l cache -d 'The positive cache: NAME.dir and NAME.pag (Perl SDBM_File), as in `tie %h, \'SDBM_File\', NAME`. Without it nothing is cached' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l max-age -d 'Cache entries older than this are ignored (units s, m, h, d, w; default seconds)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l server -d 'The server to ask for every recipient' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l mailertable -d 'Ask the host the recipient domain\'s mailertable entry names (`esmtp:[host]`); TYPE is btree, hash, dbm or cdb, PATH the map as on a K line' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l port -d 'Port for mailertable hosts and a --server without one' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l helo -d 'The name to give in EHLO/HELO (default: this machine\'s host name)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l sender -d 'The MAIL FROM address (default: the null sender <>)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l timeout -d 'Bound on one whole dialogue, connection included (units as --max-age). Under cfmap serve, keep it below the socket map\'s timeout (the K line\'s -d, 30 s by default in sendmail) so that sendmail gets a TEMP answer rather than a timeout' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -l format -d 'Output format' -r -f -a "text\t'One line per recipient: RCPT, action, code, DSN, text, source, TAB-separated'
json\t'One JSON array of objects'"
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand verify" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and not __fish_seen_subcommand_from list prune add remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and not __fish_seen_subcommand_from list prune add remove" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and not __fish_seen_subcommand_from list prune add remove" -f -a "list" -d 'List every entry: address, unix time, date (UTC), fresh or expired'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and not __fish_seen_subcommand_from list prune add remove" -f -a "prune" -d 'Delete the entries older than --max-age; print how many went and stayed'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and not __fish_seen_subcommand_from list prune add remove" -f -a "add" -d 'Record addresses as valid now (or at --time)'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and not __fish_seen_subcommand_from list prune add remove" -f -a "remove" -d 'Delete addresses'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from list" -l max-age -d 'Entries older than this are shown as expired' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from prune" -l max-age -r
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from add" -l time -d 'The unix time to record (default: now)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c cfmap -n "__fish_cfmap_using_subcommand cache; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l listen -d 'Where to listen: unix:PATH, inet:PORT@ADDR (default ADDR 127.0.0.1) or inet6:PORT@ADDR; ADDR must be numeric and loopback unless --allow-remote' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l map -d 'A map file to answer for: NAME=TYPE:PATH (PATH as on a K line; suffixes added)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l verify -d 'The map name answered by recipient verification' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l cache -d 'The positive cache: NAME.dir and NAME.pag (Perl SDBM_File), as in `tie %h, \'SDBM_File\', NAME`. Without it nothing is cached' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l max-age -d 'Cache entries older than this are ignored (units s, m, h, d, w; default seconds)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l server -d 'The server to ask for every recipient' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l mailertable -d 'Ask the host the recipient domain\'s mailertable entry names (`esmtp:[host]`); TYPE is btree, hash, dbm or cdb, PATH the map as on a K line' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l port -d 'Port for mailertable hosts and a --server without one' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l helo -d 'The name to give in EHLO/HELO (default: this machine\'s host name)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l sender -d 'The MAIL FROM address (default: the null sender <>)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l timeout -d 'Bound on one whole dialogue, connection included (units as --max-age). Under cfmap serve, keep it below the socket map\'s timeout (the K line\'s -d, 30 s by default in sendmail) so that sendmail gets a TEMP answer rather than a timeout' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l max-request -d 'Largest request accepted, in bytes; a longer one gets PERM and the connection is closed' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l idle-timeout -d 'Close a client that sends nothing for this long (units s, m, h, d, w)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l request-timeout -d 'Close a client whose request is not complete this long after its first byte' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l max-clients -d 'Most clients served at once; more are closed at once' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -l allow-remote -d 'Allow an inet address that is not loopback'
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand serve" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s t -d 'Text source: key/value delimiter (makemap -t)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s D -d 'Text source: comment character (makemap -D)' -r
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s N -l add-nul -d 'Add a trailing NUL to every key and value that has none (for a K line with -N)'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s O -l strip-nul -d 'Remove one trailing NUL from every key and value that has one (for a K line with -O)'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -l fold -d 'Lower-case (ASCII) every key, as makemap does without -f'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s d -l keep-duplicates -d 'Keep every record of a repeated key (hash and btree as with makemap -d, cdb, text) instead of only the one the old map answered'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s f -d 'Text source: do not fold keys to lower case (makemap -f)'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s e -d 'Text source: store lines without a value with an empty value (makemap -e)'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s s -d 'Skip makemap\'s safety checks on the destination: a file with other hard links is replaced under the name given, a symbolic link is followed and its target replaced (not for dbm)'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s v -l verbose -d 'Say what was converted'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand convert" -s V -l version -d 'Print version'
complete -c cfmap -n "__fish_cfmap_using_subcommand migrate" -s C -d 'The configuration (sendmail.cf)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand migrate" -l to -d 'The new map type' -r -f -a "cdb\t''"
complete -c cfmap -n "__fish_cfmap_using_subcommand migrate" -l mc -d 'The m4 source the .cf was built from: its FEATURE/define arguments are patched too' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand migrate" -l root -d 'Read and write absolute map paths below DIR (/etc/mail/x is DIR/etc/mail/x)' -r -F
complete -c cfmap -n "__fish_cfmap_using_subcommand migrate" -l dry-run -d 'Change nothing: print the unified diff of the .cf (and .mc), and the proof'
complete -c cfmap -n "__fish_cfmap_using_subcommand migrate" -l partial -d 'Migrate the maps that can be, when others cannot (missing file, network class)'
complete -c cfmap -n "__fish_cfmap_using_subcommand migrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cfmap -n "__fish_cfmap_using_subcommand migrate" -s V -l version -d 'Print version'
