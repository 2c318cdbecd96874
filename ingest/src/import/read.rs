//! Reading a file: gzip or not, the bytes counted for progress, split into
//! numbered lines of bounded length.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

/// The first two bytes of every gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The UTF-8 byte order mark some tools (spreadsheets) write first.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Longest line kept: librdkafka's default `message.max.bytes`. A longer
/// line could never be published as one Kafka message.
pub const MAX_LINE_BYTES: usize = 1_000_000;

const BUFFER_BYTES: usize = 256 * 1024;

/// Reports bytes as they are read from a file, for a progress bar.
pub type OnBytes<'a> = dyn Fn(u64) + Send + Sync + 'a;

/// Whether a file is gzip-compressed: named `*.gz`, or starting with the
/// gzip magic bytes whatever its name.
pub fn is_gzip(path: &Path, head: &[u8]) -> bool {
    let named = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    named || head.starts_with(&GZIP_MAGIC)
}

/// Counts the bytes read from the file itself (compressed bytes for a gzip
/// file, so that progress is measured against the file's size).
struct Counting<'a, R> {
    inner: R,
    on_bytes: &'a OnBytes<'a>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_bytes)(n as u64);
        Ok(n)
    }
}

/// Opens `path` for reading: decompressed when it is gzip, without a
/// leading UTF-8 byte order mark.
pub fn open<'a>(
    path: &Path,
    on_bytes: &'a OnBytes<'a>,
) -> io::Result<Box<dyn BufRead + Send + 'a>> {
    let file = File::open(path)?;
    reader(path, file, on_bytes)
}

/// As [`open`], over any byte source named `path`.
pub fn reader<'a, R: Read + Send + 'a>(
    path: &Path,
    source: R,
    on_bytes: &'a OnBytes<'a>,
) -> io::Result<Box<dyn BufRead + Send + 'a>> {
    let mut raw = BufReader::with_capacity(
        BUFFER_BYTES,
        Counting {
            inner: source,
            on_bytes,
        },
    );
    let mut reader: Box<dyn BufRead + Send + 'a> = if is_gzip(path, raw.fill_buf()?) {
        Box::new(BufReader::with_capacity(
            BUFFER_BYTES,
            MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    if reader.fill_buf()?.starts_with(UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    Ok(reader)
}

/// One line of a file, without its `\n`.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line's bytes (a `\r` before the `\n` is kept).
    Text(&'a [u8]),
    /// Longer than the limit: skipped, its length counted.
    TooLong { bytes: usize },
}

/// Splits a reader into lines numbered from 1, each at most `max_bytes`
/// long; a longer line is read past, never held whole in memory.
pub struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    number: u64,
    max_bytes: usize,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R, max_bytes: usize) -> Self {
        Lines {
            reader,
            buf: Vec::new(),
            number: 0,
            max_bytes,
        }
    }

    /// The next line and its number (1-based), or `None` at the end. A last
    /// line without a final `\n` is a line; an empty file has none.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.buf.clear();
        let mut bytes = 0usize;
        let mut seen_any = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !seen_any {
                    return Ok(None);
                }
                break;
            }
            seen_any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if bytes + take <= self.max_bytes {
                self.buf.extend_from_slice(&chunk[..take]);
            }
            bytes += take;
            self.reader.consume(take + usize::from(done));
            if done {
                break;
            }
        }
        self.number += 1;
        let line = if bytes > self.max_bytes {
            Line::TooLong { bytes }
        } else {
            Line::Text(&self.buf)
        };
        Ok(Some((self.number, line)))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn read_all(path: &str, bytes: Vec<u8>) -> (Vec<u8>, u64) {
        let counted = std::sync::atomic::AtomicU64::new(0);
        let on_bytes = |n: u64| {
            counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let mut out = Vec::new();
        reader(Path::new(path), Cursor::new(bytes), &on_bytes)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        (out, counted.into_inner())
    }

    fn lines(data: &[u8], max: usize) -> Vec<(u64, String)> {
        let mut l = Lines::new(Cursor::new(data), max);
        let mut out = Vec::new();
        while let Some((n, line)) = l.next_line().unwrap() {
            out.push((
                n,
                match line {
                    Line::Text(t) => String::from_utf8(t.to_vec()).unwrap(),
                    Line::TooLong { bytes } => format!("<{bytes} bytes>"),
                },
            ));
        }
        out
    }

    #[test]
    fn gzip_is_told_by_name_or_by_magic_bytes() {
        assert!(is_gzip(Path::new("a.ndjson.gz"), b"{"));
        assert!(is_gzip(Path::new("A.CSV.GZ"), b""));
        assert!(is_gzip(Path::new("events.ndjson"), &[0x1f, 0x8b, 8, 0]));
        assert!(!is_gzip(Path::new("events.ndjson"), b"{\"event_id\""));
        assert!(!is_gzip(Path::new("gz"), b""));
        assert!(!is_gzip(Path::new("x.gzip"), &[0x1f]));
    }

    #[test]
    fn gzip_files_are_decompressed_and_progress_counts_file_bytes() {
        let text = b"line one\nline two\n".repeat(100);
        let packed = gzip(&text);
        // Named .gz, or not named .gz but gzip inside: both decompress.
        for name in ["x.ndjson.gz", "x.ndjson"] {
            let (out, counted) = read_all(name, packed.clone());
            assert_eq!(out, text, "{name}");
            assert_eq!(counted, packed.len() as u64, "{name}");
        }
        // Concatenated gzip members (`cat a.gz b.gz`) are one stream.
        let mut two = gzip(b"a\n");
        two.extend(gzip(b"b\n"));
        assert_eq!(read_all("ab.gz", two).0, b"a\nb\n");
        let (out, counted) = read_all("plain.csv", text.clone());
        assert_eq!((out, counted), (text.clone(), text.len() as u64));
    }

    #[test]
    fn a_broken_gzip_file_is_an_error() {
        let mut packed = gzip(&b"some line\n".repeat(1000));
        packed.truncate(packed.len() / 2);
        let on_bytes = |_: u64| {};
        let mut out = Vec::new();
        let err = reader(Path::new("t.gz"), Cursor::new(packed), &on_bytes)
            .and_then(|mut r| r.read_to_end(&mut out));
        assert!(err.is_err());
        let not_gzip = reader(Path::new("t.gz"), Cursor::new(b"plain".to_vec()), &on_bytes)
            .and_then(|mut r| r.read_to_end(&mut out));
        assert!(not_gzip.is_err(), "named .gz but not gzip");
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let (out, _) = read_all("bom.csv", b"\xEF\xBB\xBFevent_id\n".to_vec());
        assert_eq!(out, b"event_id\n");
        let (out, _) = read_all("bom.csv.gz", gzip(b"\xEF\xBB\xBFa"));
        assert_eq!(out, b"a");
    }

    #[test]
    fn lines_are_numbered_from_one_blank_ones_included() {
        assert_eq!(
            lines(b"a\n\nb\r\n  \nc", 100),
            vec![
                (1, "a".into()),
                (2, "".into()),
                (3, "b\r".into()),
                (4, "  ".into()),
                (5, "c".into()),
            ]
        );
        assert_eq!(lines(b"", 100), vec![]);
        assert_eq!(lines(b"\n", 100), vec![(1, "".into())]);
        assert_eq!(lines(b"a\n", 100), vec![(1, "a".into())]);
    }

    #[test]
    fn long_lines_are_skipped_not_held() {
        let data = format!("ok\n{}\nnext\n{}", "x".repeat(50), "y".repeat(11));
        assert_eq!(
            lines(data.as_bytes(), 10),
            vec![
                (1, "ok".into()),
                (2, "<50 bytes>".into()),
                (3, "next".into()),
                (4, "<11 bytes>".into()),
            ]
        );
        // A line across many reader buffers.
        let long = format!("{}\nend\n", "z".repeat(3 * BUFFER_BYTES));
        let mut l = Lines::new(
            BufReader::with_capacity(4096, Cursor::new(long.as_bytes())),
            MAX_LINE_BYTES,
        );
        let (n, first) = l.next_line().unwrap().unwrap();
        assert_eq!(
            (n, first),
            (1, Line::Text("z".repeat(3 * BUFFER_BYTES).as_bytes()))
        );
        let (n, second) = l.next_line().unwrap().unwrap();
        assert_eq!((n, second), (2, Line::Text(b"end")));
        assert!(l.next_line().unwrap().is_none());
    }
}
