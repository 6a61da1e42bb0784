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
}

/// Reads and parses `path`.
pub fn read(path: &Path) -> Result<Log, LogError> {
    let text = std::fs::read_to_string(path).map_err(|source| LogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
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
    };
    let mut options = Options::default();
    let mut cmd_of_options: Option<GupTestCmd> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim().trim_start_matches('#').trim();
        if let Some(k) = kernel_of(line) {
            log.kernel.get_or_insert(k);
        }
        if line.starts_with("not ok") {
            return Err(bad(i + 1, format!("a failed run: '{}'", clip(line))));
        }
        if let Some(args) = command_args(line) {
            let (o, c) = options_of(&args).map_err(|why| bad(i + 1, why))?;
            options = o;
            cmd_of_options = c;
            continue;
        }
        if let Some(t) = timing(line).map_err(|why| bad(i + 1, why))? {
            let (cmd, get_us, put_us) = t;
            if cmd_of_options.is_some_and(|c| c != cmd) {
                return Err(bad(
                    i + 1,
                    format!("{} after a command line asking for another", clip(line)),
                ));
            }
            log.timings.push(Timing {
                cmd,
                options: options.clone(),
                get_us,
                put_us,
            });
        }
    }
    if log.timings.is_empty() {
        return Err(LogError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(log)
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

/// The options and benchmark of gup_test's `args` (its getopt string
/// `m:r:n:F:f:abcj:tTLUuwWSHpz`); the benchmark only where they name one.
fn options_of(args: &[String]) -> Result<(Options, Option<GupTestCmd>), String> {
    let mut o = Options::default();
    let mut cmd = Some(GupTestCmd::GupFast);
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        let Some(flags) = arg.strip_prefix('-') else {
            continue; // page numbers after -c
        };
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
            let number = |v: String| -> Result<u64, String> {
                v.parse::<u64>()
                    .map_err(|_| format!("gup_test option -{f} {v}: not a count"))
            };
            match f {
                'm' => o.mib = number(value()?)?,
                'n' => o.pages_per_call = number(value()?)?,
                'j' => o.threads = number(value()?)? as usize,
                'r' | 'F' | 'f' => {
                    value()?;
                }
                't' => o.thp = Some(true),
                'T' => o.thp = Some(false),
                'H' => o.hugetlb = true,
                'S' => o.shared = true,
                'w' => o.write = true,
                'W' => o.write = false,
                'u' => cmd = Some(GupTestCmd::GupFast),
                'a' => cmd = Some(GupTestCmd::PinFast),
                'L' => cmd = Some(GupTestCmd::PinLongterm),
                'U' | 'b' | 'c' => cmd = None,
                'p' | 'z' => {}
                other => return Err(format!("gup_test has no option -{other}")),
            }
        }
    }
    if o.mib == 0 || o.pages_per_call == 0 || o.threads == 0 {
        return Err("gup_test options -m, -n and -j must be above 0".into());
    }
    Ok((o, cmd))
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
        let n = v[..digits]
            .parse::<u64>()
            .map_err(|_| format!("expected a count after '{key}' in '{}'", clip(line)))?;
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
        let trunc = "# PIN_FAST_BENCHMARK: Time: get:10 put:2 us# , truncated (size: 4096)# \n";
        assert_eq!(
            log(trunc).expect("read").timings[0].cmd,
            GupTestCmd::PinFast
        );
    }

    #[test]
    fn a_command_line_sets_the_options_of_the_lines_after_it() {
        let text = "Linux vm 6.12.19-cloud-amd64 #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\n\
                    # running ./gup_test -L -m 256 -n 512 -t -r 2 -j2\n\
                    # PIN_LONGTERM_BENCHMARK: Time: get:100 put:20 us# \n\
                    # PIN_LONGTERM_BENCHMARK: Time: get:110 put:21 us# \n\
                    $ ./gup_test -u -H -m 64 -W\n\
                    GUP_FAST_BENCHMARK: Time: get:5 put:1 us\n";
        let l = log(text).expect("read");
        assert_eq!(l.kernel.as_deref(), Some("6.12.19-cloud-amd64"));
        let o = &l.timings[0].options;
        assert_eq!(
            (o.mib, o.pages_per_call, o.threads, o.thp),
            (256, 512, 2, Some(true))
        );
        assert_eq!(l.timings[1].options, *o);
        let h = &l.timings[2].options;
        assert!(h.hugetlb && !h.write && h.mib == 64 && h.pages_per_call == 1);
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
