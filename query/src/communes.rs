//! `communes`: the official names of provinces and communes, in
//! Vietnamese: the official list hoso ships (`hoso_model::units`), the
//! operator's `units.files`, then `query.communes_file` when set (the
//! columns of the reference list: province_code, province_name,
//! commune_code, commune_name, unit_type). Events carry codes only; this
//! table lets SQL and the dashboard show names. Like `procedures` it is
//! reference data: it belongs to no province, and every caller sees all
//! of it.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use hoso_model::units::Units;

/// The table's name.
pub const TABLE: &str = "communes";

/// The columns, in the file's order.
pub use hoso_model::units::COLUMNS;

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(
        COLUMNS
            .map(|c| Field::new(c, DataType::Utf8, false))
            .to_vec(),
    ))
}

/// The table: `units`, then the file at `path` (none for an empty path).
/// A file that is missing, has other columns, a malformed code or a
/// commune twice is an error naming the setting and the line.
pub fn load(units: &Units, path: &str) -> Result<RecordBatch, String> {
    let extra;
    let units = if path.trim().is_empty() {
        units
    } else {
        let at = format!("query.communes_file {path:?}");
        let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
        let mut all = units.clone();
        let file = Units::from_texts(&[&text]).map_err(|(_, e)| format!("{at} {e}"))?;
        all.extend(&file);
        extra = all;
        &extra
    };
    let list = units.communes();
    let text = |f: &dyn Fn(&hoso_model::units::Commune) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(list.iter().map(f)))
    };
    let arrays: Vec<ArrayRef> = vec![
        text(&|c| format!("{:02}", c.province)),
        text(&|c| {
            units
                .province_name(c.province)
                .unwrap_or_default()
                .to_string()
        }),
        text(&|c| format!("{:05}", c.code)),
        text(&|c| c.name.clone()),
        text(&|c| c.unit_type.clone()),
    ];
    RecordBatch::try_new(schema(), arrays).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `text` in the temporary directory, removed on drop.
    struct File(std::path::PathBuf);

    impl File {
        fn path(&self) -> &str {
            self.0.to_str().unwrap()
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
    fn the_table_always_holds_the_official_list_and_adds_the_file() {
        let official = Units::official();
        let b = load(&official, "").unwrap();
        assert_eq!(b.num_rows(), 3321);
        let f = file(
            "province_code,province_name,commune_code,commune_name,unit_type\n\
             01,Hà Nội,99001,Trung tâm thử nghiệm,Xã\n",
        );
        let b = load(&official, f.path()).unwrap();
        assert_eq!(b.num_rows(), 3322);
        let names = b.column(3).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(names.value(3321), "Trung tâm thử nghiệm");
        let provinces = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(provinces.value(0), "Hà Nội");
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
            let e = load(&Units::official(), f.path()).unwrap_err();
            assert!(e.contains(fragment) && e.contains("communes_file"), "{e}");
        }
        assert!(load(&Units::official(), "/nonexistent/communes.csv").is_err());
    }
}
