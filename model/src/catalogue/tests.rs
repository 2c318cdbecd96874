//! The catalogue file format and the due dates it gives, worked out by hand
//! on the 2026 calendar (30/4 and 1/5 2026 are a Thursday and a Friday).

use super::*;
use crate::time::parse_rfc3339_ms;

fn t(s: &str) -> i64 {
    parse_rfc3339_ms(s).unwrap()
}

const HEADER: &str = "code,name_vi,name_en,deadline,fee_vnd,online,level,source";

#[test]
fn the_builtin_catalogue_has_the_common_procedures() {
    let c = Catalogue::builtin();
    let birth = c.get("1.001193").expect("birth registration");
    assert_eq!(birth.deadline, Deadline::SameDay);
    assert!(c.get("1.000894").is_some(), "marriage registration");
    assert!(c.len() >= 6);
    for p in c.procedures() {
        assert!(!p.source.is_empty(), "{} cites its source", p.code);
        assert!(!p.name_vi.is_empty() && !p.name_en.is_empty(), "{}", p.code);
    }
}

#[test]
fn same_day_procedures_follow_the_15_00_rule() {
    let cal = Calendar::vietnam();
    let due = |at: &str| Deadline::SameDay.due_at(&cal, t(at), None);
    assert_eq!(
        due("2026-05-04T14:59:00+07:00"),
        t("2026-05-04T17:00:00+07:00")
    );
    assert_eq!(
        due("2026-05-04T15:00:00+07:00"),
        t("2026-05-05T17:00:00+07:00")
    );
    // After 15:00 on the Wednesday before the holidays: Monday.
    assert_eq!(
        due("2026-04-29T16:00:00+07:00"),
        t("2026-05-04T17:00:00+07:00")
    );
    // Received on a Saturday (online): the next working day.
    assert_eq!(
        due("2026-05-02T09:00:00+07:00"),
        t("2026-05-04T17:00:00+07:00")
    );
    // The cutoff is the calendar's to change.
    let late = Calendar::vietnam().with_same_day_cutoff(16 * 60);
    assert_eq!(
        Deadline::SameDay.due_at(&late, t("2026-05-04T15:30:00+07:00"), None),
        t("2026-05-04T17:00:00+07:00")
    );
}

#[test]
fn working_day_deadlines_count_working_time() {
    let cal = Calendar::vietnam();
    let due = |n, at: &str| Deadline::WorkingDays(n).due_at(&cal, t(at), None);
    assert_eq!(
        due(3, "2026-07-06T09:00:00+07:00"),
        t("2026-07-09T09:00:00+07:00")
    );
    // Two days from Wednesday 29/4 skip the holidays and the weekend.
    assert_eq!(
        due(2, "2026-04-29T09:00:00+07:00"),
        t("2026-05-05T09:00:00+07:00")
    );
    let rules = DueRules::vietnam();
    let code = Catalogue::builtin()
        .procedures()
        .iter()
        .find(|p| p.deadline == Deadline::WorkingDays(7))
        .map(|p| p.code.clone());
    if let Some(code) = code {
        assert_eq!(
            rules.due_at(&code, t("2026-07-06T09:00:00+07:00")),
            Some(t("2026-07-15T09:00:00+07:00"))
        );
    }
    assert_eq!(
        rules.due_at("9.999999", t("2026-07-06T09:00:00+07:00")),
        None
    );
}

#[test]
fn operator_files_extend_and_override_the_builtin_rows() {
    let extra = format!(
        "# ours\n{HEADER}\n\
         1.001193,Đăng ký khai sinh,Birth registration,2,0,full,commune,local rule\n\
         9.000001,\"Thủ tục, địa phương\",Local procedure,5,50000,none,province,\"Quyết định 1/2026, Điều 2\"\n"
    );
    let c = Catalogue::builtin_with(&[&extra]).unwrap();
    assert_eq!(
        c.get("1.001193").unwrap().deadline,
        Deadline::WorkingDays(2)
    );
    assert_eq!(c.len(), Catalogue::builtin().len() + 1);
    let local = c.get("9.000001").unwrap();
    assert_eq!(local.name_vi, "Thủ tục, địa phương");
    assert_eq!(local.source, "Quyết định 1/2026, Điều 2");
    assert_eq!(
        (local.fee_vnd, local.online, local.level),
        (50_000, Online::None, Level::Province)
    );
}

#[test]
fn a_bad_file_names_its_line_and_the_problem() {
    let cases = [
        ("code,name\n", 1, "the header must be"),
        (
            &*format!("{HEADER}\n1.1,a,b,soon,0,full,commune,x\n"),
            2,
            "deadline \"soon\"",
        ),
        (
            &*format!("{HEADER}\n1.1,a,b,0,0,full,commune,x\n"),
            2,
            "positive number",
        ),
        (
            &*format!("{HEADER}\n\n1.1,a,b,3,free,full,commune,x\n"),
            3,
            "fee_vnd \"free\"",
        ),
        (
            &*format!("{HEADER}\n1.1,a,b,3,0,web,commune,x\n"),
            2,
            "online \"web\"",
        ),
        (
            &*format!("{HEADER}\n1.1,a,b,3,0,full,district,x\n"),
            2,
            "level \"district\"",
        ),
        (
            &*format!("{HEADER}\n1.1,a,b,3,0,full\n"),
            2,
            "6 columns, expected 8",
        ),
        (
            &*format!("{HEADER}\n1.1,\"a,b,3,0,full,commune,x\n"),
            2,
            "not closed",
        ),
    ];
    for (text, line, msg) in cases {
        let (file, err) = Catalogue::builtin_with(&[text]).unwrap_err();
        assert_eq!(file, 0);
        assert_eq!(err.line, line, "{text}");
        assert!(err.message.contains(msg), "{text}: {}", err.message);
    }
}

#[test]
fn calendar_day_deadlines_end_at_the_close_of_their_last_day() {
    let cal = Calendar::vietnam();
    let due = |n, at: &str| Deadline::CalendarDays(n).due_at(&cal, t(at), None);
    // Received Monday 6/7/2026: 10 days end on Thursday 16/7, whatever
    // weekends lie between (10 working days would be Monday 20/7).
    assert_eq!(
        due(10, "2026-07-06T09:00:00+07:00"),
        t("2026-07-16T17:00:00+07:00")
    );
    // A last day that is a Saturday moves to the next working day.
    assert_eq!(
        due(5, "2026-07-06T09:00:00+07:00"),
        t("2026-07-13T17:00:00+07:00")
    );
    // The judicial record certificate is one: its built-in row says so.
    let c = Catalogue::builtin();
    let record = c.get("3.000333").expect("judicial record certificate");
    assert_eq!(record.deadline, Deadline::CalendarDays(10));
    assert_eq!(record.deadline.unit(), "calendar_days");
    assert_eq!(record.deadline.working_days(), None);
    assert_eq!(
        DueRules::vietnam().due_at("3.000333", t("2026-07-06T09:00:00+07:00")),
        Some(t("2026-07-16T17:00:00+07:00"))
    );
}

#[test]
fn long_public_codes_resolve_to_their_base_code() {
    assert_eq!(base_code("1.001193.000.00.00.H35"), "1.001193");
    assert_eq!(base_code("2.000815.000.00.00.H12"), "2.000815");
    assert_eq!(base_code("1.001193"), "1.001193");
    assert_eq!(base_code("LOCAL.7"), "LOCAL.7");
    assert_eq!(base_code("1.0011.93.x"), "1.0011.93.x");
    let rules = DueRules::vietnam();
    let at = t("2026-07-06T09:00:00+07:00");
    assert_eq!(
        rules.due_at("1.001193.000.00.00.H35", at),
        rules.due_at("1.001193", at)
    );
    assert!(rules.due_at("1.001193", at).is_some());
    // A row for the long form itself wins over its base code's.
    let extra = format!(
        "{HEADER}\n1.001193.000.00.00.H35,Khai sinh (Hà Nội),Birth (Hanoi),4,0,full,commune,local\n"
    );
    let c = Catalogue::builtin_with(&[&extra]).unwrap();
    assert_eq!(
        c.get("1.001193.000.00.00.H35").unwrap().deadline,
        Deadline::WorkingDays(4)
    );
    assert_eq!(
        c.get("1.001193.000.00.00.H01").unwrap().deadline,
        Deadline::SameDay
    );
}

#[test]
fn a_procedure_may_carry_its_own_same_day_cutoff_and_unit() {
    let extra = format!(
        "{HEADER},deadline_unit,same_day_cutoff\n\
         9.000002,Cấp bản sao,Copy,same_day,0,full,commune,local rule,working_days,16:30\n\
         9.000003,Giấy phép,Permit,15,0,none,commune,law,calendar_days,\n"
    );
    let c = Catalogue::builtin_with(&[&extra]).unwrap();
    let copy = c.get("9.000002").unwrap();
    assert_eq!(copy.same_day_cutoff_min, Some(16 * 60 + 30));
    assert_eq!(
        c.get("9.000003").unwrap().deadline,
        Deadline::CalendarDays(15)
    );
    let rules = DueRules::new(Arc::new(c), Arc::new(Calendar::vietnam()));
    // 16:00 is before this procedure's cutoff, after the calendar's.
    assert_eq!(
        rules.due_at("9.000002", t("2026-05-04T16:00:00+07:00")),
        Some(t("2026-05-04T17:00:00+07:00"))
    );
    assert_eq!(
        rules.due_at("2.000815", t("2026-05-04T16:00:00+07:00")),
        Some(t("2026-05-05T17:00:00+07:00"))
    );
    // Bad values name their column.
    for (row, msg) in [
        (
            "9.1,a,b,3,0,full,commune,x,weeks,",
            "deadline_unit \"weeks\"",
        ),
        (
            "9.1,a,b,same_day,0,full,commune,x,working_days,3pm",
            "same_day_cutoff \"3pm\"",
        ),
        (
            "9.1,a,b,3,0,full,commune,x,working_days",
            "9 columns, expected 10",
        ),
    ] {
        let text = format!("{HEADER},deadline_unit,same_day_cutoff\n{row}\n");
        let (_, err) = Catalogue::builtin_with(&[&text]).unwrap_err();
        assert!(err.message.contains(msg), "{row}: {}", err.message);
    }
}
