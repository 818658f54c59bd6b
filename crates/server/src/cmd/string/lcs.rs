//! The longest common subsequence of two strings, for the LCS command.
//!
//! The classic dynamic programme: a table of `(a.len()+1) * (b.len()+1)` lengths, then a walk
//! back from its far corner that yields the common subsequence and the matching ranges, last
//! ones first, in the order Redis reports them. The table's size is checked against
//! proto-max-bulk-len before it is allocated, since it is quadratic in what the client sent.

/// Why no table could be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableError {
    TooLong,
    OverLimit,
    AllocFailed,
}

impl TableError {
    /// The error reply.
    pub fn text(self) -> &'static str {
        match self {
            TableError::TooLong => "ERR String too long for LCS",
            TableError::OverLimit => {
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
            }
            TableError::AllocFailed => {
                "ERR Insufficient memory, failed allocating transient memory for LCS"
            }
        }
    }
}

/// One matching range: `a.0..=a.1` in the first string equals `b.0..=b.1` in the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub a: (u32, u32),
    pub b: (u32, u32),
}

impl Match {
    pub fn len(&self) -> u32 {
        self.a.1 - self.a.0 + 1
    }
}

/// The LCS length of every pair of prefixes: cell `(i, j)` is the length for `a[..i]`, `b[..j]`.
pub struct Table {
    cells: Vec<u32>,
    rows: usize,
    cols: usize,
}

impl Table {
    /// Fills the table for `a` and `b`, refusing when it would take more than `limit_bytes`.
    pub fn build(a: &[u8], b: &[u8], limit_bytes: u64) -> Result<Table, TableError> {
        if a.len() as u64 >= u64::from(u32::MAX - 1) || b.len() as u64 >= u64::from(u32::MAX - 1) {
            return Err(TableError::TooLong);
        }
        let (rows, cols) = (a.len() + 1, b.len() + 1);
        let count = (rows as u64) * (cols as u64);
        let size_bytes = count.checked_mul(4).ok_or(TableError::AllocFailed)?;
        if size_bytes > limit_bytes {
            return Err(TableError::OverLimit);
        }
        let count = usize::try_from(count).map_err(|_| TableError::AllocFailed)?;
        let mut cells = Vec::new();
        cells
            .try_reserve_exact(count)
            .map_err(|_| TableError::AllocFailed)?;
        cells.resize(count, 0);
        for i in 1..rows {
            let (done, rest) = cells.split_at_mut(i * cols);
            let above = &done[(i - 1) * cols..];
            let row = &mut rest[..cols];
            for j in 1..cols {
                row[j] = if a[i - 1] == b[j - 1] {
                    above[j - 1] + 1
                } else {
                    above[j].max(row[j - 1])
                };
            }
        }
        Ok(Table { cells, rows, cols })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.cols + j]
    }

    /// The length of the longest common subsequence.
    pub fn lcs_len(&self) -> u32 {
        self.at(self.rows - 1, self.cols - 1)
    }

    /// Walks back from the far corner: returns the common subsequence and the matching ranges
    /// (from the end of the strings towards their start) at least `min_len` long (0: all).
    pub fn walk(&self, a: &[u8], b: &[u8], min_len: u64) -> (Vec<u8>, Vec<Match>) {
        let mut common = vec![0u8; self.lcs_len() as usize];
        let mut left = common.len();
        let mut matches = Vec::new();
        let mut open: Option<Match> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let close = if a[i - 1] == b[j - 1] {
                left -= 1;
                common[left] = a[i - 1];
                let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
                let range = open.get_or_insert(Match {
                    a: (ai, ai),
                    b: (bj, bj),
                });
                // Consecutive matches extend the open range backwards.
                range.a.0 = ai;
                range.b.0 = bj;
                i -= 1;
                j -= 1;
                // A range touching the start of either string cannot grow further.
                i == 0 || j == 0
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                open.is_some()
            };
            if close {
                if let Some(range) = open.take() {
                    if u64::from(range.len()) >= min_len {
                        matches.push(range);
                    }
                }
            }
        }
        (common, matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(a: &str, b: &str) -> (String, Vec<Match>) {
        let t = Table::build(a.as_bytes(), b.as_bytes(), u64::MAX).unwrap();
        let (common, matches) = t.walk(a.as_bytes(), b.as_bytes(), 0);
        assert_eq!(common.len(), t.lcs_len() as usize);
        (String::from_utf8(common).unwrap(), matches)
    }

    #[test]
    fn common_subsequence_and_ranges() {
        let (common, matches) = walk("ohmytext", "mynewtext");
        assert_eq!(common, "mytext");
        assert_eq!(
            matches,
            vec![
                Match {
                    a: (4, 7),
                    b: (5, 8)
                },
                Match {
                    a: (2, 3),
                    b: (0, 1)
                },
            ]
        );
        assert_eq!(walk("", "abc").0, "");
        assert_eq!(walk("abc", "xyz").1, vec![]);
        assert_eq!(walk("abc", "abc").1[0].len(), 3);
    }

    #[test]
    fn min_len_filters_short_ranges() {
        let t = Table::build(b"ohmytext", b"mynewtext", 1 << 20).unwrap();
        let (_, long) = t.walk(b"ohmytext", b"mynewtext", 4);
        assert_eq!(long.len(), 1);
        assert_eq!(long[0].len(), 4);
    }

    #[test]
    fn table_size_is_checked_before_allocating() {
        let a = vec![b'a'; 1000];
        // 1001 * 1001 cells of 4 bytes.
        assert_eq!(
            Table::build(&a, &a, 4_000_000).err(),
            Some(TableError::OverLimit)
        );
        assert!(Table::build(&a, &a, 4_008_004).is_ok());
    }
}
