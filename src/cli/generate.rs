//! `cfmap generate`: man pages and shell completions made from the clap definitions
//! (hidden: for packagers and for regenerating the checked-in copies).
//!
//! `cfmap generate man DIR` writes `DIR/cfmap.1`, one `DIR/cfmap-COMMAND.1` per visible
//! subcommand, and the bash, zsh and fish completions under `DIR/completions/`;
//! `tests/man_drift.rs` checks that `man/` is what `cargo run -- generate man man/`
//! writes. `cfmap generate completions SHELL` prints one shell's completions.
//!
//! The sections of a page come from clap_mangen (NAME, SYNOPSIS, DESCRIPTION, OPTIONS,
//! COMMANDS, VERSION), then the command's `after_long_help`, split into sections: a line
//! that starts in column 0 and is an upper-case heading ending in `:` (`EXIT STATUS:`)
//! opens a section `.SH EXIT STATUS`; a paragraph (lines between blank lines) whose lines
//! are all indented by exactly two spaces is filled text; any other paragraph (tables,
//! lists, examples) is kept as it is laid out, without the section's two-space indent.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Subcommand, ValueEnum};
use clap_complete::Shell;

use super::exit;

/// Generate man pages or shell completions from the command-line definitions.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, Subcommand)]
pub enum What {
    /// Write cfmap.1, cfmap-COMMAND.1 and completions/ (bash, zsh, fish) into DIR.
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the completion script for SHELL on standard output.
    Completions {
        #[arg(value_enum, value_name = "SHELL")]
        shell: CompletionShell,
    },
}

/// The shells completions are generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl CompletionShell {
    pub const ALL: [CompletionShell; 3] = [
        CompletionShell::Bash,
        CompletionShell::Zsh,
        CompletionShell::Fish,
    ];

    fn shell(self) -> Shell {
        match self {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }

    /// The file name the shell looks for: `cfmap.bash`, `_cfmap`, `cfmap.fish`.
    pub fn file_name(self) -> &'static str {
        match self {
            CompletionShell::Bash => "cfmap.bash",
            CompletionShell::Zsh => "_cfmap",
            CompletionShell::Fish => "cfmap.fish",
        }
    }
}

/// The whole command line, as man pages and completions describe it.
fn command() -> clap::Command {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The completion script for `shell`. Hidden subcommands (this one) are left out:
/// clap_complete would offer them.
pub fn completions(shell: CompletionShell) -> Vec<u8> {
    let full = command();
    let mut cmd = clap::Command::new("cfmap")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .disable_help_subcommand(true)
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    let mut out = Vec::new();
    clap_complete::generate(shell.shell(), &mut cmd, "cfmap", &mut out);
    out
}

/// Every generated file as (file name relative to the man directory, contents): the man
/// pages, then `completions/…`.
pub fn files() -> Vec<(PathBuf, Vec<u8>)> {
    let cmd = command();
    let mut files = vec![(PathBuf::from("cfmap.1"), page(&cmd, "cfmap"))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("cfmap-{}", sub.get_name());
        files.push((PathBuf::from(format!("{name}.1")), page(sub, &name)));
    }
    for sh in CompletionShell::ALL {
        files.push((
            Path::new("completions").join(sh.file_name()),
            completions(sh),
        ));
    }
    files
}

/// One man page. Subcommands are renamed `cfmap-NAME` (title and NAME section) and
/// shown as `cfmap NAME` in the synopsis.
fn page(cmd: &clap::Command, name: &str) -> Vec<u8> {
    let display = if name == "cfmap" {
        "cfmap".to_string()
    } else {
        format!("cfmap {}", cmd.get_name())
    };
    let mut cmd = cmd
        .clone()
        .display_name(name.to_string())
        .bin_name(display)
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true);
    cmd.build();
    let extra = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|h| h.to_string());
    let man = clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .manual("User Commands")
        .source(format!("cfmap {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = man.render_options_section(&mut out);
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        let _ = man.render_subcommands_section(&mut out);
    }
    if let Some(extra) = extra {
        out.extend_from_slice(help_to_roff(&extra).as_bytes());
    }
    let _ = man.render_version_section(&mut out);
    dedup_preamble(&out)
}

/// clap_mangen starts every section it renders with the same two-line `Aq` string
/// definition; keep the first.
fn dedup_preamble(page: &[u8]) -> Vec<u8> {
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let text = String::from_utf8_lossy(page);
    let mut out = String::with_capacity(text.len());
    let mut seen = false;
    let mut rest: &str = &text;
    while let Some(i) = rest.find(PREAMBLE) {
        out.push_str(&rest[..i]);
        if !seen {
            out.push_str(PREAMBLE);
            seen = true;
        }
        rest = &rest[i + PREAMBLE.len()..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// Escape text for roff: backslashes, hyphens, and a `.` or `'` at the start of a line.
fn roff_escape(line: &str) -> String {
    let mut s = String::with_capacity(line.len() + 8);
    if line.starts_with('.') || line.starts_with('\'') {
        s.push_str("\\&");
    }
    for c in line.chars() {
        match c {
            '\\' => s.push_str("\\e"),
            '-' => s.push_str("\\-"),
            _ => s.push(c),
        }
    }
    s
}

fn is_heading(line: &str) -> bool {
    line.strip_suffix(':').is_some_and(|h| {
        !h.is_empty()
            && h.starts_with(|c: char| c.is_ascii_uppercase())
            && h.chars().all(|c| c.is_ascii_uppercase() || c == ' ')
    })
}

/// `after_long_help` text as roff sections (module docs).
pub fn help_to_roff(text: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let mut section_open = false;
    let flush = |para: &mut Vec<&str>, out: &mut String, section_open: &mut bool| {
        if para.is_empty() {
            return;
        }
        if !*section_open {
            out.push_str(".SH NOTES\n");
            *section_open = true;
        }
        // Sentences: every line at the section's indent, no column layout.
        let filled = para
            .iter()
            .all(|l| l.starts_with("  ") && !l[2..].starts_with(' ') && !l[2..].contains("  "));
        out.push_str(".PP\n");
        if filled {
            for l in para.iter() {
                out.push_str(&roff_escape(l.trim()));
                out.push('\n');
            }
        } else {
            out.push_str(".nf\n");
            for l in para.iter() {
                let l = l.strip_prefix("  ").unwrap_or(l);
                out.push_str(&roff_escape(l));
                out.push('\n');
            }
            out.push_str(".fi\n");
        }
        para.clear();
    };
    for line in text.lines() {
        let line = line.trim_end();
        if is_heading(line) {
            flush(&mut para, &mut out, &mut section_open);
            out.push_str(".SH ");
            out.push_str(&roff_escape(&line[..line.len() - 1]));
            out.push('\n');
            section_open = true;
        } else if line.is_empty() {
            flush(&mut para, &mut out, &mut section_open);
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut out, &mut section_open);
    out
}

/// Write every generated file under `dir` (created if missing).
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    for (rel, contents) in files() {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
    }
    Ok(())
}

pub fn run(a: GenerateArgs) -> i32 {
    match a.what {
        What::Man { dir } => match write_all(&dir) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("cfmap: {}: {}", dir.display(), super::io_reason(&e));
                73
            }
        },
        What::Completions { shell } => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(&completions(shell))
                .and_then(|_| stdout.flush())
            {
                Ok(()) => exit::OK,
                Err(_) => exit::IOERR,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_sections() {
        assert_eq!(help_to_roff("  a\n"), ".SH NOTES\n.PP\na\n");
        let r = help_to_roff(
            "EXIT STATUS:\n  Filled text\n  goes on.\n\n  0   ok\n  1   not\n\nMore:\n  x\n",
        );
        assert_eq!(
            r,
            ".SH EXIT STATUS\n.PP\nFilled text\ngoes on.\n.PP\n.nf\n0   ok\n1   not\n.fi\n\
             .PP\n.nf\nMore:\nx\n.fi\n"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(roff_escape(".x -f \\n"), "\\&.x \\-f \\en");
    }

    #[test]
    fn pages_for_each_visible_command() {
        let names: Vec<_> = files()
            .into_iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        for n in [
            "cfmap.1",
            "cfmap-lint.1",
            "cfmap-compile.1",
            "cfmap-makemap.1",
            "cfmap-dump.1",
            "cfmap-query.1",
            "completions/cfmap.bash",
            "completions/_cfmap",
            "completions/cfmap.fish",
        ] {
            assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("generate")), "{names:?}");
        for sh in CompletionShell::ALL {
            let c = String::from_utf8(completions(sh)).unwrap();
            assert!(c.contains("query") && !c.contains("generate"), "{sh:?}");
        }
    }
}
