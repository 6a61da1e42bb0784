//! Reads the output of the kernel's own `gup_test`
//! (`tools/testing/selftests/mm/gup_test.c`): one line per repeat of a
//! benchmark, `PIN_LONGTERM_BENCHMARK: Time: get:130538 put:31676 us`,
//! written with `printf` before v6.1 and with `ksft_print_msg` since (a
//! `# ` in front, and a `# ` after it where the newline was printed on
//! its own), perhaps `, truncated (size: N)` after it; a label in front
//! (`gup_bench: PIN_...`) is allowed. The command's options are read from
//! a line naming `gup_test` with them (`# running ./gup_test -L -m 256`,
//! as run_vmtests.sh prints, or a shell prompt's `$ ./gup_test -L`), and
//! apply to the benchmark lines after it; the kernel from `uname -a` or
//! `/proc/version` output (`Linux version 6.12.19 ...`). A TAP `not ok`
//! line is a failed run: it is refused, not averaged in.

use crate::kernel::gup_test::GupTestCmd;
use std::path::{Path, PathBuf};

/// gup_test's defaults (`main()`, v6.12): 128 MiB, 1 page per call, one
/// thread, THP as the system has it, writable, private.
const DEFAULT_MIB: u64 = 128;

/// The largest buffer believed: 1 TiB.
const MAX_MIB: u64 = 1 << 20;

/// The base page of gup_test's `-n -1` arithmetic.
const PAGE_BYTES: u64 = 4096;

/// The largest time believed, µs: a day.
const MAX_US: u64 = 86_400_000_000;

/// A log that cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// It could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not what gup_test prints.
    #[error("{path}:{line}: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// No benchmark line at all.
    #[error("{path}: no '*_BENCHMARK: Time: get:N put:N us' line: not a gup_test benchmark log")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The options of a gup_test run that decide what was measured.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Options {
    /// `-m`: MiB of the buffer.
    pub mib: u64,
    /// `-n`: pages per gup call.
    pub pages_per_call: u64,
    /// `-j`: threads.
    pub threads: usize,
    /// `-t` (THP asked for), `-T` (refused), neither.
    pub thp: Option<bool>,
    /// `-H`: hugetlb.
    pub hugetlb: bool,
    /// `-S`: MAP_SHARED.
    pub shared: bool,
    /// `-W` turns FOLL_WRITE off.
    pub write: bool,
}

/// What a command line says besides the options a cell is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expect {
    /// The benchmark it runs, if a benchmark.
    cmd: Option<GupTestCmd>,
    /// Lines it prints: `-r` repeats on each of `-j` threads.
    lines: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mib: DEFAULT_MIB,
            pages_per_call: 1,
            threads: 1,
            thp: None,
            hugetlb: false,
            shared: false,
            write: true,
        }
    }
}

/// One benchmark line.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// Which benchmark.
    pub cmd: GupTestCmd,
    /// The options it ran with.
    pub options: Options,
    /// µs of the gup half.
    pub get_us: u64,
    /// µs of the put half.
    pub put_us: u64,
}

/// One log: its benchmark lines and what it says of its kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Log {
    /// Where it was read from.
    pub path: PathBuf,
    /// The kernel release the log names, if it names one.
    pub kernel: Option<String>,
    /// Its benchmark lines, in order.
    pub timings: Vec<Timing>,
    /// Some benchmark line came before any command line: its options are
    /// gup_test's defaults, assumed.
    pub defaulted: bool,
}

/// Reads and parses `path`.
pub fn read(path: &Path) -> Result<Log, LogError> {
    let bytes = std::fs::read(path).map_err(|source| LogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // A serial console's stray bytes spoil no line but their own.
    let text = String::from_utf8_lossy(&bytes);
    parse(path, text.trim_start_matches('\u{feff}'))
}

/// Parses `text`, the contents of `path`.
pub fn parse(path: &Path, text: &str) -> Result<Log, LogError> {
    let bad = |line: usize, why: String| LogError::Malformed {
        path: path.to_path_buf(),
        line,
        why,
    };
    let mut log = Log {
        path: path.to_path_buf(),
        kernel: None,
        timings: vec![],
        defaulted: false,
    };
    let mut options = Options::default();
    // The command line in force: its line, what it expects, lines seen.
    let mut section: Option<(usize, Expect, u64)> = None;
    let mut kernel_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim().trim_start_matches(['#', ' ', '\t']).trim();
        if let Some(k) = kernel_of(line) {
            match &log.kernel {
                Some(first) if *first != k => {
                    return Err(bad(
                        i + 1,
                        format!("kernel {k} after {first} on line {kernel_line}: one kernel a log"),
                    ))
                }
                Some(_) => {}
                None => (log.kernel, kernel_line) = (Some(k), i + 1),
            }
        }
        if line.starts_with("not ok") {
            return Err(bad(i + 1, format!("a failed run: '{}'", clip(line))));
        }
        if let Some(args) = command_args(line) {
            close(section).map_err(|(l, why)| bad(l, why))?;
            let (o, expect) = options_of(&args).map_err(|why| bad(i + 1, why))?;
            options = o;
            section = Some((i + 1, expect, 0));
            continue;
        }
        let Some((cmd, get_us, put_us)) = timing(line).map_err(|why| bad(i + 1, why))? else {
            continue;
        };
        match section.as_mut() {
            Some((_, expect, seen)) => {
                if expect.cmd.is_some_and(|c| c != cmd) {
                    return Err(bad(
                        i + 1,
                        format!("{} after a command line asking for another", clip(line)),
                    ));
                }
                *seen += 1;
            }
            None => log.defaulted = true,
        }
        log.timings.push(Timing {
            cmd,
            options: options.clone(),
            get_us,
            put_us,
        });
    }
    close(section).map_err(|(l, why)| bad(l, why))?;
    if log.timings.is_empty() {
        return Err(LogError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(log)
}

/// Checks that the command line of `section` printed what it asks for
/// (`-r` lines on each of `-j` threads), or nothing (a skipped run).
fn close(section: Option<(usize, Expect, u64)>) -> Result<(), (usize, String)> {
    match section {
        Some((line, expect, seen)) if seen > 0 && seen != expect.lines => Err((
            line,
            format!(
                "this gup_test run asks for {} benchmark lines (-r times -j) and printed {seen}",
                expect.lines
            ),
        )),
        _ => Ok(()),
    }
}

/// `line` cut to 60 characters for a message.
fn clip(line: &str) -> String {
    line.chars().take(60).collect()
}

/// The kernel release in `uname -a` (`Linux HOST 6.12.19 #1 ...`) or
/// `/proc/version` (`Linux version 6.12.19 (...)`) output.
fn kernel_of(line: &str) -> Option<String> {
    let mut w = line.split_whitespace();
    if w.next()? != "Linux" {
        return None;
    }
    w.next()?; // `version`, or the host's name
    let release = w.next()?;
    release
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        .then(|| release.to_string())
}

/// The words after `gup_test` on a line that runs it with options.
fn command_args(line: &str) -> Option<Vec<String>> {
    let mut words = line.split_whitespace();
    words.find(|w| w.ends_with("gup_test") && !w.contains(':'))?;
    let args: Vec<String> = words.map(str::to_string).collect();
    args.first()
        .is_some_and(|a| a.starts_with('-'))
        .then_some(args)
}

/// The options of gup_test's `args` (its getopt string
/// `m:r:n:F:f:abcj:tTLUuwWSHpz`) and what it will print. `-n` below 0
/// takes every page in one call, as upstream's `-n -1` since v6.15; `-F`,
/// `-f` and `-z` make other experiments than the benchmark's (own gup
/// flags, a file, faults taken in gup) and are refused.
fn options_of(args: &[String]) -> Result<(Options, Expect), String> {
    let mut o = Options::default();
    let mut expect = Expect {
        cmd: Some(GupTestCmd::GupFast),
        lines: 1,
    };
    let (mut repeats, mut all_pages) = (1u64, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            continue; // page numbers after -c, a comment
        };
        if flags.parse::<i64>().is_ok() {
            continue;
        }
        let mut chars = flags.chars();
        while let Some(f) = chars.next() {
            let mut value = || -> Result<String, String> {
                let rest: String = chars.by_ref().collect();
                if !rest.is_empty() {
                    return Ok(rest);
                }
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("gup_test option -{f} without its value"))
            };
            let number = |v: &str| -> Result<i64, String> {
                v.parse::<i64>()
                    .map_err(|_| format!("gup_test option -{f} {v}: not a count"))
            };
            let positive = |v: String| -> Result<u64, String> {
                match number(&v)? {
                    n if n > 0 => Ok(n as u64),
                    _ => Err(format!("gup_test option -{f} {v}: must be above 0")),
                }
            };
            match f {
                'm' => o.mib = positive(value()?)?,
                'n' => match number(&value()?)? {
                    n if n < 0 => all_pages = true,
                    0 => return Err("gup_test option -n 0: must not be 0".into()),
                    n => (o.pages_per_call, all_pages) = (n as u64, false),
                },
                'j' => o.threads = positive(value()?)? as usize,
                'r' => repeats = positive(value()?)?,
                'F' | 'f' | 'z' => {
                    return Err(format!(
                        "gup_test option -{f} makes another experiment (own gup flags, a \
                         file, or faults taken in gup): not imported"
                    ))
                }
                't' => o.thp = Some(true),
                'T' => o.thp = Some(false),
                'H' => o.hugetlb = true,
                'S' => o.shared = true,
                'w' => o.write = true,
                'W' => o.write = false,
                'u' => expect.cmd = Some(GupTestCmd::GupFast),
                'a' => expect.cmd = Some(GupTestCmd::PinFast),
                'L' => expect.cmd = Some(GupTestCmd::PinLongterm),
                'U' | 'b' | 'c' => expect.cmd = None,
                'p' => {}
                other => return Err(format!("gup_test has no option -{other}")),
            }
        }
    }
    if o.mib > MAX_MIB {
        return Err(format!("gup_test option -m {}: over {MAX_MIB} MiB", o.mib));
    }
    if all_pages {
        o.pages_per_call = (o.mib << 20) / PAGE_BYTES;
    }
    expect.lines = repeats.saturating_mul(o.threads as u64);
    Ok((o, expect))
}

/// The benchmark, get and put µs of a timing line; `None` for any other
/// line; an error for a line that starts as one and is not.
fn timing(line: &str) -> Result<Option<(GupTestCmd, u64, u64)>, String> {
    let Some(at) = line.find("_BENCHMARK: Time:") else {
        return Ok(None);
    };
    let name_start = line[..at]
        .rfind(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .map_or(0, |i| i + 1);
    let cmd = match &line[name_start..at] {
        "GUP_FAST" => GupTestCmd::GupFast,
        "PIN_FAST" => GupTestCmd::PinFast,
        "PIN_LONGTERM" => GupTestCmd::PinLongterm,
        other => return Err(format!("unknown benchmark {other}_BENCHMARK")),
    };
    let rest = line[at + "_BENCHMARK: Time:".len()..].trim_start();
    let field = |s: &str, key: &str| -> Result<(u64, usize), String> {
        let v = s
            .strip_prefix(key)
            .ok_or_else(|| format!("expected '{key}N' in '{}'", clip(line)))?;
        let digits = v.len() - v.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!(
                "expected a count after '{key}' in '{}'",
                clip(line)
            ));
        }
        let n = v[..digits].parse::<u64>().unwrap_or(u64::MAX);
        if n > MAX_US {
            return Err(format!("{key}{} us: more than a day", &v[..digits]));
        }
        Ok((n, key.len() + digits))
    };
    let (get, used) = field(rest, "get:")?;
    let (put, used2) = field(rest[used..].trim_start(), "put:")?;
    let tail = rest[used..].trim_start()[used2..].trim_start();
    if !tail.starts_with("us") {
        return Err(format!(
            "expected 'us' after the put time in '{}'",
            clip(line)
        ));
    }
    if tail.contains("truncated") {
        return Err(format!(
            "gup_test truncated this run ('{}'): its size is not the one asked for",
            clip(tail.trim_start_matches(['u', 's', '#', ' ', ',']))
        ));
    }
    Ok(Some((cmd, get, put)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> Result<Log, LogError> {
        parse(Path::new("a.log"), text)
    }

    #[test]
    fn printf_and_ksft_lines_both_read() {
        let old = "PIN_LONGTERM_BENCHMARK: Time: get:130538 put:31676 us\n";
        let new = "TAP version 13\n1..1\n\
                   # PIN_LONGTERM_BENCHMARK: Time: get:130538 put:31676 us# \n\
                   ok 1 ioctl status 0\n\
                   # Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0\n";
        let labelled = "gup_bench: PIN_LONGTERM_BENCHMARK: Time: get:130538 put:31676 us";
        for text in [old, new, labelled] {
            let l = log(text).expect("read");
            assert_eq!(l.timings.len(), 1, "{text}");
            let t = &l.timings[0];
            assert_eq!(
                (t.cmd, t.get_us, t.put_us),
                (GupTestCmd::PinLongterm, 130538, 31676)
            );
            assert_eq!(t.options, Options::default());
        }
        assert!(
            log(old).expect("read").defaulted,
            "no command line: defaults"
        );
    }

    #[test]
    fn a_command_line_sets_the_options_of_the_lines_after_it() {
        let text = "Linux vm 6.12.19-cloud-amd64 #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\n\
                    # running ./gup_test -L -m 256 -n 512 -t -r 2 -j2\n\
                    # PIN_LONGTERM_BENCHMARK: Time: get:100 put:20 us# \n\
                    # PIN_LONGTERM_BENCHMARK: Time: get:110 put:21 us# \n\
                    # PIN_LONGTERM_BENCHMARK: Time: get:105 put:20 us# \n\
                    # PIN_LONGTERM_BENCHMARK: Time: get:108 put:22 us# \n\
                    $ ./gup_test -u -H -m 64 -W\n\
                    GUP_FAST_BENCHMARK: Time: get:5 put:1 us\n";
        let l = log(text).expect("read");
        assert_eq!(l.kernel.as_deref(), Some("6.12.19-cloud-amd64"));
        let o = &l.timings[0].options;
        assert_eq!(
            (o.mib, o.pages_per_call, o.threads, o.thp),
            (256, 512, 2, Some(true))
        );
        assert_eq!(l.timings[3].options, *o);
        let h = &l.timings[4].options;
        assert!(h.hugetlb && !h.write && h.mib == 64 && h.pages_per_call == 1);
        assert!(!l.defaulted);
        // -n -1: every page in one call, whichever comes first of -n and -m.
        for args in ["-u -n -1 -m 8", "-u -m 8 -n -1"] {
            let l = log(&format!(
                "./gup_test {args}\nGUP_FAST_BENCHMARK: Time: get:5 put:1 us"
            ))
            .expect("read");
            assert_eq!(l.timings[0].options.pages_per_call, 2048, "{args}");
        }
        let proc_version = "Linux version 6.1.0-47-cloud-amd64 (debian-kernel@lists.debian.org)";
        let l = log(&format!(
            "{proc_version}\nGUP_FAST_BENCHMARK: Time: get:5 put:1 us"
        ))
        .expect("read");
        assert_eq!(l.kernel.as_deref(), Some("6.1.0-47-cloud-amd64"));
    }

    #[test]
    fn garbage_failures_and_empty_logs_are_named_with_their_line() {
        let cases = [
            (
                "hello\nPIN_FAST_BENCHMARK: Time: get:x put:1 us\n",
                "a.log:2:",
            ),
            (
                "FOO_BENCHMARK: Time: get:1 put:1 us",
                "unknown benchmark FOO",
            ),
            ("PIN_FAST_BENCHMARK: Time: get:1 put:1 ms", "expected 'us'"),
            (
                "# PIN_FAST_BENCHMARK: Time: get:1 put:1 us\nnot ok 1 ioctl status -1",
                "a.log:2: a failed run",
            ),
            ("./gup_test -L -m\n", "-m without its value"),
            ("./gup_test -L -q\n", "no option -q"),
            ("./gup_test -L -m 0\n", "above 0"),
            ("./gup_test -L -F 0x10\n", "-F makes another experiment"),
            ("./gup_test -L -z\n", "-z makes another experiment"),
            (
                "# PIN_FAST_BENCHMARK: Time: get:10 put:2 us# , truncated (size: 4096)# ",
                "truncated",
            ),
            (
                "GUP_FAST_BENCHMARK: Time: get:99999999999999999999 put:1 us",
                "more than a day",
            ),
            (
                "./gup_test -L -r 3\nPIN_LONGTERM_BENCHMARK: Time: get:1 put:1 us",
                "a.log:1: this gup_test run asks for 3",
            ),
            (
                "Linux h 6.6.0 #1\nLinux h 6.12.0 #1\nGUP_FAST_BENCHMARK: Time: get:1 put:1 us",
                "a.log:2: kernel 6.12.0 after 6.6.0",
            ),
            (
                "./gup_test -a\nPIN_LONGTERM_BENCHMARK: Time: get:1 put:1 us",
                "another",
            ),
            ("", "no '*_BENCHMARK"),
            ("\u{0}\u{1}binary", "no '*_BENCHMARK"),
        ];
        for (text, want) in cases {
            let e = log(text).expect_err(text).to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
