//! Reading text corpora line by line: plain text or gzip (`.gz`, concatenated members too),
//! UTF-8 checked per line, errors naming the file and the line. The one corpus reader of the
//! workspace: vocabulary training, pretraining documents and the benchmarks read through it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{Result, TokenizerError};

/// Calls `f(line_number, line)` for every line of `path` in order (1-based numbers; the line
/// without its `\n` / `\r\n`); stops at the first error of `f`.
pub fn for_each_line<E: From<TokenizerError>>(
    path: &Path,
    mut f: impl FnMut(usize, &str) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let file = std::fs::File::open(path).map_err(|e| TokenizerError::io(path, e))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| TokenizerError::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        let text = std::str::from_utf8(&buf).map_err(|_| TokenizerError::InvalidUtf8 {
            path: path.to_path_buf(),
            line: line_no,
        })?;
        f(line_no, text.trim_end_matches(['\n', '\r']))?;
    }
}

/// The non-blank lines of `path` (plain text or `.gz`), with errors naming the file and line.
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for_each_line(path, |_, line| {
        if !line.trim().is_empty() {
            lines.push(line.to_string());
        }
        Ok::<(), TokenizerError>(())
    })?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Plain and gzip files read alike; blank lines are skipped; invalid UTF-8 is an error
    /// naming the line.
    #[test]
    fn reads_plain_and_gzip_and_names_bad_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "first line\r\n\n  \nsecond line\nthird";
        let plain = dir.path().join("c.txt");
        std::fs::write(&plain, text).expect("write");
        let gz = dir.path().join("c.txt.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).expect("create"),
            flate2::Compression::default(),
        );
        enc.write_all(text.as_bytes()).expect("gzip");
        enc.finish().expect("finish");
        for path in [&plain, &gz] {
            assert_eq!(
                read_lines(path).expect("read"),
                ["first line", "second line", "third"]
            );
        }
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, b"ok\n\xff\xfe\n").expect("write");
        let err = read_lines(&bad).expect_err("invalid UTF-8");
        assert!(err.to_string().contains(":2"), "{err}");
    }
}
