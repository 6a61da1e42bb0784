//! One table model rendered two ways: plain text that fits in 80 columns
//! (column groups that do not fit move to a continuation block, repeating
//! the row labels) and Markdown. `report.txt` and `report.md` build their
//! tables once, here, so they cannot disagree.

/// The widest line of text output.
pub const WIDTH: usize = 80;

/// Columns under one heading (a thread count, a run).
#[derive(Clone, Debug, Default)]
pub struct Group {
    /// The heading over the columns.
    pub label: String,
    /// Column headings.
    pub columns: Vec<String>,
    /// Which columns are text, aligned left (missing: right, for numbers).
    pub align_left: Vec<bool>,
}

impl Group {
    /// Numeric columns (aligned right) under `label`.
    pub fn numbers(label: &str, columns: &[&str]) -> Group {
        Group {
            label: label.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            align_left: vec![],
        }
    }
}

/// A table with labelled rows and grouped columns.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Heading of the row-label column.
    pub row_head: String,
    /// Column groups.
    pub groups: Vec<Group>,
    /// Row label and one cell per column of every group, in order.
    pub rows: Vec<(String, Vec<String>)>,
}

const GAP: usize = 2;

impl Table {
    fn ncols(&self) -> usize {
        self.groups.iter().map(|g| g.columns.len()).sum()
    }

    /// Width of each column, wide enough for its cells and its heading;
    /// the last column of a group widens for the group's heading.
    fn widths(&self) -> Vec<usize> {
        let mut w = Vec::with_capacity(self.ncols());
        for g in &self.groups {
            let start = w.len();
            for (j, h) in g.columns.iter().enumerate() {
                let cells = self
                    .rows
                    .iter()
                    .map(|(_, c)| c.get(start + j).map_or(0, |s| s.len()));
                w.push(cells.fold(h.len(), usize::max));
            }
            let span: usize = w[start..].iter().sum::<usize>() + (g.columns.len().max(1) - 1);
            if let Some(last) = w.last_mut().filter(|_| g.label.len() > span) {
                *last += g.label.len() - span;
            }
        }
        w
    }

    /// Plain text, no line longer than [`WIDTH`] (unless the row labels
    /// and one column alone are wider). Column groups that do not fit go
    /// to a continuation block that repeats the row labels; a group wider
    /// than a whole block is split, its heading repeated.
    pub fn text(&self) -> String {
        let widths = self.widths();
        let label_w = self
            .rows
            .iter()
            .map(|(l, _)| l.len())
            .fold(self.row_head.len(), usize::max);
        // (group, column index) of every column, in order.
        let cols: Vec<(usize, usize)> = self
            .groups
            .iter()
            .enumerate()
            .flat_map(|(gi, g)| (0..g.columns.len()).map(move |j| (gi, j)))
            .collect();
        // Pack columns into blocks; a group starts a new block rather than
        // split, when it would fit in one.
        let mut blocks: Vec<Vec<usize>> = vec![vec![]];
        let mut used = label_w;
        let mut k = 0;
        for (gi, g) in self.groups.iter().enumerate() {
            let n = g.columns.len();
            let group_w = GAP + widths[k..k + n].iter().sum::<usize>() + n.saturating_sub(1);
            let empty = blocks.last().is_none_or(|b| b.is_empty());
            if !empty && used + group_w > WIDTH && label_w + group_w <= WIDTH {
                blocks.push(vec![]);
                used = label_w;
            }
            for (c, &w) in widths.iter().enumerate().skip(k).take(n) {
                let block = blocks.last().map_or(&[][..], |b| b.as_slice());
                let starts = block.last().is_none_or(|&p| cols[p].0 != gi);
                let mut add = w + if starts { GAP } else { 1 };
                if !block.is_empty() && used + add > WIDTH {
                    blocks.push(vec![]);
                    used = label_w;
                    add = w + GAP;
                }
                used += add;
                if let Some(b) = blocks.last_mut() {
                    b.push(c);
                }
            }
            k += n;
        }
        let mut out = String::new();
        for (bi, block) in blocks.iter().filter(|b| !b.is_empty()).enumerate() {
            if bi > 0 {
                out.push('\n');
            }
            let mut heads = " ".repeat(label_w);
            let mut names = pad(&self.row_head, label_w, true);
            let mut lines: Vec<String> = self
                .rows
                .iter()
                .map(|(l, _)| pad(l, label_w, true))
                .collect();
            let mut any_label = false;
            // Runs of columns of one group within the block.
            let mut i = 0;
            while i < block.len() {
                let gi = cols[block[i]].0;
                let mut end = i;
                while end < block.len() && cols[block[end]].0 == gi {
                    end += 1;
                }
                let run = &block[i..end];
                let g = &self.groups[gi];
                let span = run.iter().map(|&c| widths[c]).sum::<usize>() + run.len() - 1;
                let label: String = g.label.chars().take(span).collect();
                any_label |= !label.is_empty();
                heads.push_str(&" ".repeat(GAP));
                heads.push_str(&pad(&label, span, false));
                for (n, &c) in run.iter().enumerate() {
                    let sep = if n == 0 { " ".repeat(GAP) } else { " ".into() };
                    let w = widths[c];
                    let left = g.align_left.get(cols[c].1).copied().unwrap_or(false);
                    let fmt = |s: &str| format!("{sep}{}", pad(s, w, left));
                    names.push_str(&fmt(&g.columns[cols[c].1]));
                    for (line, (_, cells)) in lines.iter_mut().zip(&self.rows) {
                        line.push_str(&fmt(cells.get(c).map_or("", |s| s.as_str())));
                    }
                }
                i = end;
            }
            if any_label {
                push_line(&mut out, &heads);
            }
            push_line(&mut out, &names);
            for l in &lines {
                push_line(&mut out, l);
            }
        }
        out
    }

    /// A Markdown (GitHub) table: one column per column of every group,
    /// headed by the group's label and the column's.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let mut head = vec![md(&self.row_head)];
        for g in &self.groups {
            for c in &g.columns {
                head.push(md(format!("{} {}", g.label, c).trim()));
            }
        }
        out.push_str(&format!("| {} |\n", head.join(" | ")));
        let align: Vec<&str> = std::iter::once(":---")
            .chain(std::iter::repeat_n("---:", self.ncols()))
            .collect();
        out.push_str(&format!("|{}|\n", align.join("|")));
        for (label, cells) in &self.rows {
            let mut row = vec![md(label)];
            row.extend((0..self.ncols()).map(|k| md(cells.get(k).map_or("", |s| s.trim()))));
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

/// Escapes what Markdown would read as emphasis or a cell border.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '_' | '|' | '\\' | '`' | '[' | ']' | '<' | '>') {
            out.push('\\');
        }
        // Escape codes and line breaks from a results file stay out of the
        // Markdown (one value, one line).
        out.push(match c {
            '\t' => ' ',
            c if c.is_control() => '?',
            c => c,
        });
    }
    out
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Wraps `text` at whitespace to lines of at most `width` columns, the
/// first after `first`, the rest after `indent`; a word longer than a line
/// is cut.
pub fn wrap(first: &str, indent: &str, text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut fresh = true;
    for word in text.split_whitespace() {
        if !fresh && line.len() + 1 + word.len() > width {
            push_line(&mut out, &line);
            line = indent.to_string();
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        let mut rest = word;
        while line.len() + rest.len() > width && line.len() < width {
            let room = width - line.len();
            let cut = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
            line.push_str(&rest[..cut]);
            push_line(&mut out, &line);
            line = indent.to_string();
            rest = &rest[cut..];
        }
        line.push_str(rest);
        fresh = false;
    }
    push_line(&mut out, &line);
    out
}

/// `s` with every character that is not printable ASCII replaced by `?`
/// (tabs by a space), newlines kept: what a mailing list passes unchanged.
pub fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | ' '..='~' => c,
            '\t' => ' ',
            _ => '?',
        })
        .collect()
}

/// A value from a results file on one line: [`ascii`], with newlines too
/// replaced by `?`, so a host name cannot carry escape codes or lines into
/// a report, a comparison or the terminal.
pub fn clean(s: &str) -> String {
    ascii(s).replace('\n', "?")
}

/// A number with about four significant digits, no exponent.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "-".into()
    } else if x == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// `s` padded with spaces to `w` characters, on the right (`left`
/// aligned) or the left. Not `format!`'s width, which panics past 65535 (a
/// subject's name in a results file can be any length).
fn pad(s: &str, w: usize, left: bool) -> String {
    let fill = " ".repeat(w.saturating_sub(s.chars().count()));
    if left {
        format!("{s}{fill}")
    } else {
        format!("{fill}{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_values_lose_escape_codes_and_line_breaks() {
        assert_eq!(md("h\x1b[31mx\ny\tz|"), "h?\\[31mx?y z\\|");
        assert_eq!(clean("a\x1b[0m\nb"), "a?[0m?b");
    }

    fn wide(groups: usize) -> Table {
        Table {
            row_head: "scheme".into(),
            groups: (0..groups)
                .map(|g| Group {
                    label: format!("{} threads", g + 1),
                    columns: vec!["ns/page".into(), "x floor".into(), "Mpages/s".into()],
                    align_left: vec![],
                })
                .collect(),
            rows: vec![
                (
                    "side-tree-sharded".into(),
                    vec!["104.88*!".into(); 3 * groups],
                ),
                ("plain".into(), vec!["1.00".into(); 3 * groups]),
            ],
        }
    }

    #[test]
    fn a_label_or_value_past_any_format_width_renders() {
        let mut t = wide(1);
        t.rows[0].0 = "s".repeat(100_000);
        t.rows[1].1[0] = "9".repeat(70_000);
        let text = t.text();
        assert!(text.contains(&"s".repeat(100_000)));
        assert!(text.contains(&"9".repeat(70_000)));
    }

    #[test]
    fn wide_tables_continue_in_blocks_within_80_columns() {
        let t = wide(5).text();
        assert!(t.lines().all(|l| l.len() <= WIDTH), "{t}");
        assert!(t.contains("5 threads"), "{t}");
        // Every block repeats the row labels.
        assert!(t.matches("side-tree-sharded").count() >= 2, "{t}");
        assert!(t.lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn a_group_wider_than_a_block_is_split_with_its_heading() {
        let t = Table {
            row_head: "scheme".into(),
            groups: vec![Group {
                label: "[A]".into(),
                columns: (0..12).map(|i| format!("column{i}")).collect(),
                align_left: vec![],
            }],
            rows: vec![("side-tree-sharded".into(), vec!["1.00".into(); 12])],
        };
        let text = t.text();
        assert!(text.lines().all(|l| l.len() <= WIDTH), "{text}");
        assert!(text.contains("column11"), "{text}");
        assert!(text.matches("[A]").count() >= 2, "{text}");
    }

    #[test]
    fn markdown_escapes_marks_and_has_one_column_per_column() {
        let m = wide(2).markdown();
        let head = m.lines().next().expect("head");
        assert_eq!(head.matches(" | ").count(), 6, "{m}");
        assert!(m.contains("104.88\\*!"), "{m}");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        let w = wrap("cmd: ", "     ", "pinbench run --quick -o /tmp/r.json", 20);
        assert_eq!(w, "cmd: pinbench run\n     --quick -o\n     /tmp/r.json\n");
        let long = wrap("", "", &"x".repeat(25), 10);
        assert!(long.lines().all(|l| l.len() <= 10), "{long}");
        assert_eq!(long.replace('\n', ""), "x".repeat(25));
        assert_eq!(num(1234.5), "1234");
        assert_eq!(num(12.345), "12.35");
        assert_eq!(num(0.0561), "0.056");
        assert_eq!(ascii("a\tb\u{e9}\n"), "a b?\n");
    }
}
