//! `communes`: the official names of provinces and communes, read once at
//! start from `query.communes_file` (a CSV with the columns of the
//! reference list: province_code, province_name, commune_code,
//! commune_name, unit_type). Events carry codes only; this table lets SQL
//! and the dashboard show names. Without a file it is empty, and codes
//! work everywhere as before. Like `procedures` it is reference data: it
//! belongs to no province, and every caller sees all of it.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// The table's name.
pub const TABLE: &str = "communes";

/// The columns, in the file's order.
pub const COLUMNS: [&str; 5] = [
    "province_code",
    "province_name",
    "commune_code",
    "commune_name",
    "unit_type",
];

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(
        COLUMNS
            .map(|c| Field::new(c, DataType::Utf8, false))
            .to_vec(),
    ))
}

/// The communes of `path`, or none for an empty path. A file that is
/// missing, has other columns, a malformed code or a commune twice is an
/// error naming the line.
pub fn load(path: &str) -> Result<RecordBatch, String> {
    if path.trim().is_empty() {
        return Ok(RecordBatch::new_empty(schema()));
    }
    let at = format!("query.communes_file {path:?}");
    let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| {
            l.trim_start_matches('\u{feff}')
                .split(',')
                .map(str::trim)
                .collect()
        })
        .unwrap_or_default();
    if header != COLUMNS {
        return Err(format!(
            "{at}: the header must be {} (found {})",
            COLUMNS.join(","),
            header.join(",")
        ));
    }
    let mut columns: [Vec<String>; 5] = Default::default();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let line_no = i + 1;
        let [province, province_name, commune, commune_name, unit] = fields[..] else {
            return Err(format!(
                "{at} line {line_no}: {} fields, 5 expected (names may not hold commas)",
                fields.len()
            ));
        };
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(province, 2) || !digits(commune, 5) {
            return Err(format!(
                "{at} line {line_no}: codes are 2 digits (province) and 5 (commune): {province:?}, {commune:?}"
            ));
        }
        if !seen.insert(commune.to_string()) {
            return Err(format!("{at} line {line_no}: commune {commune} twice"));
        }
        for (c, v) in columns
            .iter_mut()
            .zip([province, province_name, commune, commune_name, unit])
        {
            c.push(v.to_string());
        }
    }
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
        .collect();
    RecordBatch::try_new(schema(), arrays).map_err(|e| format!("{at}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `text` in the temporary directory, removed on drop.
    struct File(std::path::PathBuf);

    impl File {
        fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for File {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn file(text: &str) -> File {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("hoso-communes-{}-{n}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        File(path)
    }

    #[test]
    fn reads_the_reference_columns() {
        let f = file(
            "province_code,province_name,commune_code,commune_name,unit_type\n\
             01,Hà Nội,00004,Ba Đình,Phường\n91,An Giang,30292,Long Xuyên,Phường\n",
        );
        let b = load(f.path().to_str().unwrap()).unwrap();
        assert_eq!(b.num_rows(), 2);
        let names = b.column(3).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(names.value(1), "Long Xuyên");
        assert_eq!(load("").unwrap().num_rows(), 0);
    }

    #[test]
    fn bad_files_are_named_with_their_line() {
        let header = "province_code,province_name,commune_code,commune_name,unit_type\n";
        for (text, fragment) in [
            ("code,name\n", "the header must be"),
            (
                &*format!("{header}1,Hà Nội,00004,Ba Đình,Phường\n"),
                "line 2",
            ),
            (&*format!("{header}01,Hà Nội,00004,Ba Đình\n"), "4 fields"),
            (
                &*format!("{header}01,A,00004,B,Xã\n01,A,00004,C,Xã\n"),
                "line 3: commune 00004 twice",
            ),
        ] {
            let f = file(text);
            let e = load(f.path().to_str().unwrap()).unwrap_err();
            assert!(e.contains(fragment) && e.contains("communes_file"), "{e}");
        }
        assert!(load("/nonexistent/communes.csv").is_err());
    }
}
