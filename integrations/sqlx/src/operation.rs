//! The kind of a SQL statement, read from its first keyword.

use fiko_metrics::LabelValue;

/// The kind of a SQL statement: the `operation` label.
///
/// Read from the statement's first keyword, skipping whitespace, comments and opening
/// parentheses; for a `WITH` statement, the keyword of the main statement after the common
/// table expressions. Only the start of the text is scanned (all of it for `WITH`), with
/// no allocation.
///
/// ```
/// use fiko_metrics_sqlx::Operation;
///
/// assert_eq!(Operation::of("select 1"), Operation::Select);
/// assert_eq!(Operation::of("  -- list\n/* users */ SELECT * FROM users"), Operation::Select);
/// assert_eq!(Operation::of("WITH gone AS (DELETE FROM t RETURNING id) INSERT INTO log SELECT id FROM gone"), Operation::Insert);
/// assert_eq!(Operation::of("REPLACE INTO kv VALUES (1, 'a')"), Operation::Insert);
/// assert_eq!(Operation::of("CREATE TABLE t (id INT)"), Operation::Other);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum Operation {
    /// `SELECT`, `VALUES`, `TABLE`.
    Select,
    /// `INSERT`, SQLite's `REPLACE`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// Everything else: DDL, `MERGE`, `COPY`, `BEGIN`, `SET`, `CALL`, ...
    Other,
}

impl Operation {
    /// The operation of the statement `sql` (of its first statement, if there are several).
    pub fn of(sql: &str) -> Self {
        let mut scanner = Scanner {
            text: sql.as_bytes(),
            at: 0,
        };
        let Some(first) = scanner.next_word() else {
            return Self::Other;
        };
        if first.eq_ignore_ascii_case(b"with") {
            return scanner.main_statement();
        }
        Self::from_keyword(first).unwrap_or(Self::Other)
    }

    fn from_keyword(word: &[u8]) -> Option<Self> {
        let is = |keyword: &str| word.eq_ignore_ascii_case(keyword.as_bytes());
        if is("select") || is("values") || is("table") {
            Some(Self::Select)
        } else if is("insert") || is("replace") {
            Some(Self::Insert)
        } else if is("update") {
            Some(Self::Update)
        } else if is("delete") {
            Some(Self::Delete)
        } else if is("merge") {
            Some(Self::Other)
        } else {
            None
        }
    }
}

/// A tokenizer that knows just enough SQL to skip comments, literals and parentheses.
struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self, offset: usize) -> Option<u8> {
        self.text.get(self.at + offset).copied()
    }

    /// Skips whitespace, `--` and (nested) `/* */` comments and opening parentheses, then
    /// returns the word there, if a word starts there.
    fn next_word(&mut self) -> Option<&'a [u8]> {
        loop {
            match self.peek(0)? {
                b'(' => self.at += 1,
                c if c.is_ascii_whitespace() => self.at += 1,
                b'-' if self.peek(1) == Some(b'-') => self.skip_line_comment(),
                b'/' if self.peek(1) == Some(b'*') => self.skip_block_comment(),
                c if c.is_ascii_alphabetic() || c == b'_' => return Some(self.word()),
                _ => return None,
            }
        }
    }

    fn word(&mut self) -> &'a [u8] {
        let start = self.at;
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$')
        {
            self.at += 1;
        }
        // `start <= self.at <= self.text.len()`: `at` only moves past bytes `peek` saw.
        self.text.get(start..self.at).unwrap_or_default()
    }

    fn skip_line_comment(&mut self) {
        while let Some(c) = self.peek(0) {
            self.at += 1;
            if c == b'\n' {
                return;
            }
        }
    }

    fn skip_block_comment(&mut self) {
        self.at += 2;
        let mut depth = 1usize;
        while depth > 0 {
            match (self.peek(0), self.peek(1)) {
                (None, _) => return,
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    self.at += 2;
                }
                (Some(b'/'), Some(b'*')) => {
                    depth += 1;
                    self.at += 2;
                }
                _ => self.at += 1,
            }
        }
    }

    /// Skips a quoted literal or identifier that starts at the current position.
    fn skip_quoted(&mut self, quote: u8) {
        self.at += 1;
        while let Some(c) = self.peek(0) {
            self.at += 1;
            if c == quote {
                // A doubled quote is an escaped quote.
                if self.peek(0) == Some(quote) {
                    self.at += 1;
                } else {
                    return;
                }
            }
        }
    }

    /// Skips a PostgreSQL dollar-quoted string (`$$...$$`, `$tag$...$tag$`) if one starts
    /// here; returns whether it did.
    fn skip_dollar_quoted(&mut self) -> bool {
        let Some(rest) = self.text.get(self.at..) else {
            return false;
        };
        let Some((&b'$', after_open)) = rest.split_first() else {
            return false;
        };
        let Some(close) = after_open.iter().position(|&c| c == b'$') else {
            return false;
        };
        // The tag's name is the `close` bytes between the two `$`.
        if !after_open
            .iter()
            .take(close)
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            return false;
        }
        let Some((tag, body)) = rest.split_at_checked(close + 2) else {
            return false;
        };
        match body.windows(tag.len()).position(|window| window == tag) {
            Some(end) => self.at += tag.len() + end + tag.len(),
            None => self.at = self.text.len(),
        }
        true
    }

    /// After `WITH`: the first statement keyword outside parentheses, i.e. after the
    /// common table expressions.
    fn main_statement(&mut self) -> Operation {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            match c {
                b'(' => {
                    depth += 1;
                    self.at += 1;
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    self.at += 1;
                }
                b'\'' | b'"' | b'`' => self.skip_quoted(c),
                b'-' if self.peek(1) == Some(b'-') => self.skip_line_comment(),
                b'/' if self.peek(1) == Some(b'*') => self.skip_block_comment(),
                b'$' => {
                    if !self.skip_dollar_quoted() {
                        self.at += 1;
                    }
                }
                b';' if depth == 0 => return Operation::Other,
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let word = self.word();
                    if depth == 0
                        && let Some(operation) = Operation::from_keyword(word)
                    {
                        return operation;
                    }
                }
                _ => self.at += 1,
            }
        }
        Operation::Other
    }
}

#[cfg(test)]
mod tests {
    use super::Operation::{self, *};

    #[test]
    fn first_keyword_in_any_case() {
        for (sql, expected) in [
            ("SELECT 1", Select),
            ("select * from t", Select),
            ("Insert into t values (1)", Insert),
            ("UPDATE t SET a = 1", Update),
            ("delete from t", Delete),
            ("VALUES (1), (2)", Select),
            ("TABLE users", Select),
            ("INSERT OR REPLACE INTO t VALUES (1)", Insert),
            ("replace into t values (1)", Insert),
            (
                "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
                Other,
            ),
            ("CREATE TABLE t (id int)", Other),
            ("BEGIN", Other),
            ("COPY t FROM STDIN", Other),
            ("EXPLAIN SELECT 1", Other),
            ("selector", Other),
            ("", Other),
            ("   ", Other),
            ("42", Other),
        ] {
            assert_eq!(Operation::of(sql), expected, "{sql:?}");
        }
    }

    #[test]
    fn skips_comments_whitespace_and_parentheses() {
        assert_eq!(Operation::of("\n\t -- a\n-- b\nDELETE FROM t"), Delete);
        assert_eq!(
            Operation::of("/* a /* nested */ still */ update t set a=1"),
            Update
        );
        assert_eq!(Operation::of("((SELECT 1) UNION (SELECT 2))"), Select);
        assert_eq!(Operation::of("-- only a comment"), Other);
        assert_eq!(Operation::of("/* unterminated"), Other);
    }

    #[test]
    fn with_reads_the_main_statement() {
        assert_eq!(
            Operation::of("WITH a AS (SELECT 1) SELECT * FROM a"),
            Select
        );
        assert_eq!(
            Operation::of(
                "with recursive c(x) as (select 1 union all select x + 1 from c where x < 5), \
                 d as materialized (select 2) update t set a = (select max(x) from c)"
            ),
            Update
        );
        assert_eq!(
            Operation::of(
                "WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved"
            ),
            Insert
        );
        assert_eq!(
            Operation::of(
                "WITH x AS (SELECT ')insert(' AS \"delete\", $q$ ) update $q$) DELETE FROM t"
            ),
            Delete
        );
        assert_eq!(Operation::of("WITH x AS (SELECT 1); SELECT 2"), Other);
        assert_eq!(Operation::of("WITH unterminated AS (SELECT"), Other);
    }

    #[test]
    fn every_prefix_is_other_until_the_main_keyword_is_complete() {
        let sql = "WITH \"ä\" AS (SELECT 'é)' FROM t /* ) */), b AS (VALUES (1)) DELETE FROM t";
        let keyword_end = sql.find("DELETE").map(|at| at + "DELETE".len());
        for end in 0..=sql.len() {
            let Some(prefix) = sql.get(..end) else {
                continue; // not a char boundary
            };
            let expected = if Some(end) >= keyword_end {
                Delete
            } else {
                Other
            };
            assert_eq!(Operation::of(prefix), expected, "{prefix:?}");
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        for sql in [
            "$", "$$", "$a", "WITH $", "WITH $a$", "WITH '", "WITH \"x", "WITH /*", "WITH --",
            "((((", ")))",
        ] {
            assert_eq!(Operation::of(sql), Other, "{sql:?}");
        }
        assert_eq!(Operation::of("WITH a AS (SELECT $1) SELECT $2"), Select);
    }

    #[test]
    fn every_prefix_of_dollar_quoted_text_is_scanned_without_panicking() {
        let sql = "WITH a AS (SELECT $t$ ) DELETE $t$, $$x$$, $1, $a b$) UPDATE t SET a = 1";
        for end in 0..=sql.len() {
            let prefix = &sql[..end];
            let expected = if prefix.ends_with("UPDATE") || prefix.contains("UPDATE ") {
                Update
            } else {
                Other
            };
            assert_eq!(Operation::of(prefix), expected, "{prefix:?}");
        }
    }
}
