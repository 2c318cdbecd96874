//! Working-day arithmetic, with the figures worked out by hand from the
//! calendar (the days are in data/vn_days_off.csv).

use super::*;
use crate::time::parse_rfc3339_ms;

fn day(s: &str) -> i32 {
    parse_date(s).unwrap()
}

fn t(s: &str) -> i64 {
    parse_rfc3339_ms(s).unwrap()
}

#[test]
fn the_week_and_the_listed_days() {
    let c = Calendar::vietnam();
    assert_eq!(weekday(day("2025-07-07")), 0, "a Monday");
    assert!(c.is_working_day(day("2025-07-07")));
    assert!(!c.is_working_day(day("2025-07-05")), "Saturday");
    assert!(!c.is_working_day(day("2025-07-06")), "Sunday");
    // 30/4 and 1/5 2025, and the swapped Friday 2/5; Saturday 26/4 worked.
    for d in ["2025-04-30", "2025-05-01", "2025-05-02"] {
        assert!(!c.is_working_day(day(d)), "{d}");
    }
    assert!(c.is_working_day(day("2025-04-26")));
    assert_eq!(
        c.kind(day("2025-04-26")),
        Some(DayKind::MakeUpWorkingSaturday)
    );
    // Tết Bính Ngọ 2026: 16-20 February.
    assert!(!c.is_working_day(day("2026-02-17")));
    assert_eq!(c.kind(day("2026-02-17")), Some(DayKind::Tet));
    // Hùng Kings 2026 falls on a Sunday: Monday 27/4 off instead.
    assert!(!c.is_working_day(day("2026-04-27")));
    assert_eq!(c.kind(day("2026-04-27")), Some(DayKind::SubstituteDayOff));
    // 30/4 and 1/5 2026 (Thursday, Friday), then the weekend.
    for d in ["2026-04-30", "2026-05-01", "2026-05-02", "2026-05-03"] {
        assert!(!c.is_working_day(day(d)), "{d}");
    }
    assert_eq!(
        c.working_days_between(day("2026-04-29"), day("2026-05-04")),
        1
    );
    // National Day: 2/9 and the day the government adds (1/9 in 2025 and
    // 2026, 3/9 reported for 2027).
    for d in [
        "2025-09-01",
        "2025-09-02",
        "2026-09-01",
        "2026-09-02",
        "2027-09-02",
    ] {
        assert!(!c.is_working_day(day(d)), "{d}");
    }
    assert!(c.is_working_day(day("2026-09-03")));
}

#[test]
fn working_days_in_a_year_match_the_official_counts() {
    let c = Calendar::vietnam();
    // 2025: 261 weekdays - 12 weekday days off + 1 Saturday worked = 250.
    // 2024: 262 weekdays - 12 weekday days off (1/1, 8-14/2 but 10-11/2 are
    // a weekend: 5, 18/4, 29/4, 30/4, 1/5, 2/9, 3/9) + Saturday 4/5 = 251.
    for (year, want) in [(2024, 251), (2025, 250)] {
        let n = c.working_days_between(
            day(&format!("{}-12-31", year - 1)),
            day(&format!("{year}-12-31")),
        );
        assert_eq!(n, want, "{year}");
    }
}

#[test]
fn working_days_between_counts_start_exclusive_end_inclusive() {
    let c = Calendar::vietnam();
    // Tuesday 29/4/2025 to Monday 5/5: 30/4, 1/5, 2/5 off, then a weekend.
    assert_eq!(
        c.working_days_between(day("2025-04-29"), day("2025-05-05")),
        1
    );
    assert_eq!(
        c.working_days_between(day("2025-05-05"), day("2025-04-29")),
        -1
    );
    assert_eq!(
        c.working_days_between(day("2025-07-07"), day("2025-07-07")),
        0
    );
    // Monday to the next Monday: five.
    assert_eq!(
        c.working_days_between(day("2025-07-07"), day("2025-07-14")),
        5
    );
    // Across the table's edge: 1999 has only the weekly rule, and
    // 2000-01-01, a Saturday, gives Monday 3/1 off in lieu (projected).
    assert_eq!(
        c.working_days_between(day("1999-12-27"), day("2000-01-03")),
        4
    );
    assert_eq!(
        c.working_days_between(day("2101-01-03"), day("2101-01-10")),
        5
    );
    assert_eq!(
        c.working_days_between(day("1990-01-01"), day("1990-01-08")),
        5
    );
}

#[test]
fn adding_working_days_skips_holidays_and_keeps_the_time() {
    let c = Calendar::vietnam();
    let at = t("2025-04-29T10:00:00+07:00");
    assert_eq!(c.add_working_days(at, 1), t("2025-05-05T10:00:00+07:00"));
    assert_eq!(c.add_working_days(at, 0), at);
    assert_eq!(
        c.add_working_days(t("2025-05-05T10:00:00+07:00"), -1),
        at,
        "and backwards"
    );
    // Friday before Tết 2026: Tết week and two weekends later.
    assert_eq!(
        c.add_working_days(t("2026-02-13T09:00:00+07:00"), 1),
        t("2026-02-23T09:00:00+07:00")
    );
    // A late evening in UTC is the next local day: counted from that day.
    assert_eq!(
        c.add_working_days(t("2025-07-04T20:00:00Z"), 1),
        t("2025-07-06T20:00:00Z"),
        "03:00 on Saturday 5/7 local: Monday 7/7 03:00 local is the first working day after"
    );
}

#[test]
fn working_hours_count_only_the_windows_of_working_days() {
    let c = Calendar::vietnam();
    // Friday 16:00 to Monday 08:30: 1 h on Friday, 1 h on Monday.
    let h = c.working_hours_between(
        t("2025-07-04T16:00:00+07:00"),
        t("2025-07-07T08:30:00+07:00"),
    );
    assert_eq!(h, 2.0);
    // Over lunch: 11:00-11:30 and 13:00-13:30.
    let h = c.working_hours_between(
        t("2025-07-07T11:00:00+07:00"),
        t("2025-07-07T13:30:00+07:00"),
    );
    assert_eq!(h, 1.0);
    // Monday 07:30 to the next Monday 07:30: five days of eight hours.
    let h = c.working_hours_between(
        t("2025-07-07T07:30:00+07:00"),
        t("2025-07-14T07:30:00+07:00"),
    );
    assert_eq!(h, 40.0);
    // Over 30/4-2/5 2025: Tuesday 16:00 to Monday 8:00 is 1 h + 0.5 h.
    let h = c.working_hours_between(
        t("2025-04-29T16:00:00+07:00"),
        t("2025-05-05T08:00:00+07:00"),
    );
    assert_eq!(h, 1.5);
    // Past the due time: negative.
    let h = c.working_hours_between(
        t("2025-07-07T09:00:00+07:00"),
        t("2025-07-07T08:00:00+07:00"),
    );
    assert_eq!(h, -1.0);
    // Outside the windows: nothing.
    let h = c.working_hours_between(
        t("2025-07-07T18:00:00+07:00"),
        t("2025-07-07T22:00:00+07:00"),
    );
    assert_eq!(h, 0.0);
}

#[test]
fn days_files_are_checked_and_later_rows_win() {
    let err = Calendar::with_days(&["2025-13-01,holiday"], DEFAULT_HOURS.to_vec()).unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.message.contains("not a YYYY-MM-DD date"), "{err}");
    let err = Calendar::with_days(&["\n2025-07-07,fiesta"], DEFAULT_HOURS.to_vec()).unwrap_err();
    assert_eq!(
        (err.line, err.message.contains("not a kind")),
        (2, true),
        "{err}"
    );
    let err = Calendar::with_days(
        &["2025-07-07,make_up_working_saturday"],
        DEFAULT_HOURS.to_vec(),
    )
    .unwrap_err();
    assert!(err.message.contains("not a Saturday"), "{err}");
    // An operator's file: a provincial day off, and 2/5/2025 worked after all.
    let extra =
        "# province 79\ndate,kind\n2025-07-07,holiday,local\n2025-05-02,make_up_working_saturday";
    assert!(
        Calendar::with_days(&[VN_DAYS_OFF, extra], DEFAULT_HOURS.to_vec()).is_err(),
        "2/5 is a Friday"
    );
    let extra = "2025-07-07,holiday,local\n";
    let c = Calendar::with_days(&[VN_DAYS_OFF, extra], DEFAULT_HOURS.to_vec()).unwrap();
    assert!(!c.is_working_day(day("2025-07-07")));
    assert_eq!(
        c.working_days_between(day("2025-07-06"), day("2025-07-11")),
        4
    );
}

#[test]
fn working_time_runs_only_inside_working_windows() {
    let c = Calendar::vietnam();
    let day_ms = c.working_ms_per_day();
    assert_eq!(day_ms, 8 * 3_600_000);
    let add = |from: &str, ms: i64| c.add_working_time(t(from), ms);
    // Wednesday 29/4/2026 09:00 + one working day: 6.5 h that day, then
    // 30/4, 1/5 and the weekend are off, so Monday 4/5 at 09:00.
    assert_eq!(
        add("2026-04-29T09:00:00+07:00", day_ms),
        t("2026-05-04T09:00:00+07:00")
    );
    // Received on a Saturday: the clock starts Monday 07:30.
    assert_eq!(
        add("2026-05-02T10:00:00+07:00", day_ms),
        t("2026-05-04T17:00:00+07:00")
    );
    // Received at lunch: the afternoon, then the next morning.
    assert_eq!(
        add("2026-05-04T12:00:00+07:00", day_ms),
        t("2026-05-05T11:30:00+07:00")
    );
    // Three days from Monday 09:00 is Thursday 09:00.
    assert_eq!(
        add("2026-07-06T09:00:00+07:00", 3 * day_ms),
        t("2026-07-09T09:00:00+07:00")
    );
    // Nothing to add, and a calendar without hours, change nothing.
    assert_eq!(
        add("2026-05-02T10:00:00+07:00", 0),
        t("2026-05-02T10:00:00+07:00")
    );
    let none = Calendar::with_days(&[], vec![]).unwrap();
    assert_eq!(none.add_working_time(5, day_ms), 5);
}

#[test]
fn working_hours_must_be_windows_of_a_day() {
    assert_eq!(parse_window("07:30-11:30"), Some((450, 690)));
    assert_eq!(parse_window("13:00-24:00"), Some((780, 1440)));
    assert_eq!(parse_clock("16:00:00"), Some(960), "TOML's bare time");
    assert_eq!(parse_clock("16:00"), Some(960));
    assert_eq!(parse_clock("16:00:30"), None);
    for bad in ["11:30-07:30", "7-11", "07:60-08:00", "25:00-26:00", "08:00"] {
        assert_eq!(parse_window(bad), None, "{bad}");
    }
    let err = Calendar::with_days(&[], vec![(450, 700), (690, 900)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "working hours 07:30-11:40 and 11:30-15:00 overlap"
    );
    // Windows are sorted, so the close of the day is the last one's end.
    let c = Calendar::with_days(&[], vec![(780, 1020), (450, 690)]).unwrap();
    assert_eq!(c.hours(), &[(450, 690), (780, 1020)]);
    assert_eq!(
        c.close_of(day("2026-05-04")),
        t("2026-05-04T17:00:00+07:00")
    );
}

#[test]
fn at_risk_from_is_when_the_working_time_left_first_fits_the_window() {
    let c = Calendar::vietnam();
    let hour = 3_600_000;
    // Due Tuesday 2025-07-08 10:00; 8 working hours before is Monday
    // 10:00 (Monday 10:00-11:30, 13:00-17:00, Tuesday 07:30-10:00 = 8 h).
    assert_eq!(
        c.at_risk_from(t("2025-07-08T10:00:00+07:00"), 8 * hour),
        t("2025-07-07T10:00:00+07:00")
    );
    // Due Monday 2025-07-07 09:30: two hours of Monday, then back over the
    // weekend: Friday afternoon (4 h) and Friday 09:30-11:30.
    assert_eq!(
        c.at_risk_from(t("2025-07-07T09:30:00+07:00"), 8 * hour),
        t("2025-07-04T09:30:00+07:00")
    );
    // Due Wednesday 2025-09-03 09:30, after National Day (1-2 September
    // 2025 off): two hours of Wednesday, then back to Friday 29 August.
    assert_eq!(
        c.at_risk_from(t("2025-09-03T09:30:00+07:00"), 4 * hour),
        t("2025-08-29T15:00:00+07:00")
    );
    // A window used up exactly at a window's start: at risk from the end
    // of the working window before it (nothing is worked in between).
    assert_eq!(
        c.at_risk_from(t("2025-07-07T11:30:00+07:00"), 4 * hour),
        t("2025-07-04T17:00:00+07:00")
    );
    assert_eq!(
        c.at_risk_from(t("2025-07-07T11:30:00+07:00"), 0),
        t("2025-07-07T11:30:00+07:00")
    );
}

#[test]
fn at_risk_from_agrees_with_working_ms_between() {
    // Brute force over a fortnight with a weekend and a holiday, minute by
    // minute: the instant is the earliest whose working time left fits.
    let c = Calendar::vietnam();
    let minute = 60_000;
    let window = 8 * 3_600_000;
    let start = t("2025-08-25T00:00:00+07:00");
    for due in (0..14 * 24 * 4).map(|q| start + 7 * 86_400_000 + q * 15 * minute) {
        let got = c.at_risk_from(due, window);
        assert!(
            c.working_ms_between(got, due) <= window,
            "due {due}: at {got}"
        );
        assert!(
            c.working_ms_between(got - minute, due) > window,
            "due {}: at {} is not the earliest",
            crate::time::format_utc_ms(due),
            crate::time::format_utc_ms(got)
        );
    }
}

#[test]
fn years_without_an_announced_arrangement_get_the_statutory_holidays() {
    let c = Calendar::vietnam();
    assert!(c.is_announced_year(2026) && c.is_announced_year(2027));
    assert!(!c.is_announced_year(2023) && !c.is_announced_year(2028));
    // Backfilled 2023: Tết Quý Mão (mùng 1 on Sunday 22/1) and the Hùng
    // Kings' day (Saturday 29/4) are days off, not working days.
    for d in [
        "2023-01-23",
        "2023-01-24",
        "2023-01-25",
        "2023-05-01",
        "2023-09-01",
    ] {
        assert!(!c.is_working_day(day(d)), "{d}");
    }
    assert_eq!(c.kind(day("2023-01-22")), Some(DayKind::Tet));
    // 2028, after the announced years: 1/1 is a Saturday, so Monday 3/1 is
    // off in lieu; 24/11 (a Friday) is a holiday.
    assert!(!c.is_working_day(day("2028-01-03")));
    assert!(!c.is_working_day(day("2028-11-24")));
    assert!(c.is_working_day(day("2028-01-04")));
    // An announced year keeps its own arrangement: 2025's swap (Friday
    // 2/5) is off, and nothing projected is added to it.
    assert_eq!(c.kind(day("2025-05-02")), Some(DayKind::SwapDayOff));
}

#[test]
fn an_operator_file_announcing_a_year_replaces_its_projection() {
    // A 2028 arrangement with a longer Tết: its rows are the year's days
    // off; the projected substitute for Saturday 1/1 is gone with it.
    let file = "date,kind\n2028-01-24,tet\n2028-01-25,tet\n2028-01-26,tet\n\
                2028-01-27,tet\n2028-01-28,tet\n2028-01-31,tet\n";
    let c = Calendar::with_days(&[VN_DAYS_OFF, file], DEFAULT_HOURS.to_vec()).unwrap();
    assert!(c.is_announced_year(2028));
    assert!(!c.is_working_day(day("2028-01-24")));
    assert!(c.is_working_day(day("2028-01-03")));
    // A file row for a projected year layers on top of the projection.
    let extra = "date,kind\n2029-04-30,swap_day_off\n";
    let c = Calendar::with_days(&[VN_DAYS_OFF, extra], DEFAULT_HOURS.to_vec()).unwrap();
    assert!(!c.is_announced_year(2029));
    assert_eq!(c.kind(day("2029-04-30")), Some(DayKind::SwapDayOff));
    assert_eq!(c.kind(day("2029-05-01")), Some(DayKind::Holiday));
}
