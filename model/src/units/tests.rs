//! The official list and the checks ingest makes with it.

use super::*;

#[test]
fn the_official_list_has_34_provinces_and_3321_communes() {
    let u = Units::official();
    assert_eq!(u.province_count(), 34);
    assert_eq!(u.communes().len(), 3321);
    assert_eq!(u.province_name(1), Some("Hà Nội"));
    let ba_dinh = u.commune(4).unwrap();
    assert_eq!((ba_dinh.province, ba_dinh.name.as_str()), (1, "Ba Đình"));
    assert_eq!(ba_dinh.unit_type, "Phường");
}

#[test]
fn the_shipped_list_is_the_reference_list() {
    // The copy in model/data is the shared reference, row for row.
    let Ok(reference) = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/communes.csv"
    )) else {
        return; // outside the workspace the reference is not at hand
    };
    let theirs = Units::from_texts(&[&reference]).unwrap();
    assert_eq!(theirs, *Units::official());
}

#[test]
fn codes_are_checked_and_each_error_names_its_field() {
    let u = Units::official();
    assert_eq!(u.check(1, 4), Ok(()));
    let e = u.check(3, 4).unwrap_err();
    assert_eq!(e.field, "province_code");
    assert!(e.message.contains("not a province code"), "{e}");
    // A code of a province merged away on 1 July 2025.
    let e = u.check(2, 4).unwrap_err();
    assert_eq!(e.field, "province_code");
    assert!(e.message.contains("before the 1 July 2025 merger"), "{e}");
    let e = u.check(1, 99_999).unwrap_err();
    assert_eq!(e.field, "commune_code");
    assert!(e.message.contains("not a commune code"), "{e}");
    // Ba Đình is in Hà Nội, not in Hồ Chí Minh City.
    let e = u.check(79, 4).unwrap_err();
    assert_eq!(e.field, "commune_code");
    assert!(
        e.to_string().starts_with(
            "commune_code: 00004 (Ba Đình) is a commune of province 01 (Hà Nội), not of 79"
        ),
        "{e}"
    );
}

#[test]
fn operator_files_add_units_and_bad_files_name_their_line() {
    let extra = "# ours\nprovince_code,province_name,commune_code,commune_name,unit_type\n\
                 01,Hà Nội,99001,Trung tâm thử nghiệm,Xã\n";
    let u = Units::official_with(&[extra]).unwrap();
    assert_eq!(u.check(1, 99_001), Ok(()));
    assert_eq!(u.communes().len(), 3322);
    let header = "province_code,province_name,commune_code,commune_name,unit_type\n";
    for (text, line, fragment) in [
        ("code,name\n", 1, "the header must be"),
        (
            &*format!("{header}1,Hà Nội,00004,Ba Đình,Phường\n"),
            2,
            "codes are 2 digits",
        ),
        (
            &*format!("{header}01,Hà Nội,00004,Ba Đình\n"),
            2,
            "4 fields",
        ),
        (
            &*format!("{header}01,A,00004,B,Xã\n01,A,00004,C,Xã\n"),
            3,
            "commune 00004 twice",
        ),
    ] {
        let (file, e) = Units::official_with(&[text]).unwrap_err();
        assert_eq!((file, e.line), (0, line), "{text}");
        assert!(e.message.contains(fragment), "{e}");
    }
}
