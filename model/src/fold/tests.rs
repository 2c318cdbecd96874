//! The fold, driven by data: each case is a filing's events and the row the
//! contract says they give, with the figures worked out by hand in the
//! comments. Every case is also replayed in every arrival order and with
//! every event repeated, and must give the same state each time.

use std::borrow::Cow;

use super::*;
use crate::event::Event;
use crate::intern::Interner;
use crate::time::parse_rfc3339_ms;

fn t(s: &str) -> i64 {
    parse_rfc3339_ms(s).unwrap()
}

fn ev(seq: u32, kind: EventType, at: &str) -> Event<'static> {
    Event {
        event_id: Cow::Owned(format!("F1-{seq}")),
        filing_id: Cow::Borrowed("F1"),
        seq,
        kind,
        occurred_at_ms: t(at),
        province: 1,
        commune: 4,
        procedure_code: None,
        channel: None,
        due_at_ms: None,
        due_at_computed: false,
        eid_level2: None,
        digitized: None,
        fee_required: None,
        online_payment: None,
    }
}

fn received(seq: u32, at: &str, due: &str, channel: Channel) -> Event<'static> {
    Event {
        procedure_code: Some(Cow::Borrowed("1.001193")),
        channel: Some(channel),
        due_at_ms: Some(t(due)),
        ..ev(seq, EventType::Received, at)
    }
}

use EventType::*;

/// What a case expects of the row. Times are RFC 3339 text.
#[derive(Debug, Default)]
struct Row {
    status: Option<EventType>,
    received_at: Option<&'static str>,
    due_at: Option<&'static str>,
    effective_due_at: Option<&'static str>,
    ended_at: Option<&'static str>,
    outcome: Option<Outcome>,
    supplement_count: u32,
    paused_seconds: i64,
    closed: bool,
    pause_started_at: Option<&'static str>,
}

fn fold(events: &[Event<'static>]) -> (FilingState, Interner) {
    let mut s = FilingState::new();
    let mut procs = Interner::new();
    for e in events {
        s.apply(e, &mut procs);
    }
    (s, procs)
}

fn check(name: &str, events: Vec<Event<'static>>, want: Row) {
    let (s, _) = fold(&events);
    let opt = |v: Option<&str>| v.map(t);
    assert_eq!(s.status(), want.status, "{name}: status");
    assert_eq!(
        s.received_at(),
        opt(want.received_at),
        "{name}: received_at"
    );
    assert_eq!(s.due_at(), opt(want.due_at), "{name}: due_at");
    assert_eq!(
        s.effective_due_at(),
        opt(want.effective_due_at),
        "{name}: effective_due_at"
    );
    assert_eq!(s.ended_at(), opt(want.ended_at), "{name}: ended_at");
    assert_eq!(s.outcome(), want.outcome, "{name}: outcome");
    assert_eq!(
        s.supplement_count(),
        want.supplement_count,
        "{name}: supplement_count"
    );
    assert_eq!(
        s.paused_ms() / 1000,
        want.paused_seconds,
        "{name}: paused_seconds"
    );
    assert_eq!(s.is_closed(), want.closed, "{name}: closed");
    assert_eq!(
        s.pause_started_at(),
        opt(want.pause_started_at),
        "{name}: pause_started_at"
    );
    assert_order_free(name, &events, &s);
}

/// Every arrival order, and every event delivered twice, give the same state.
fn assert_order_free(name: &str, events: &[Event<'static>], want: &FilingState) {
    let mut idx: Vec<usize> = (0..events.len()).collect();
    let mut count = 0;
    permute(&mut idx, 0, &mut |order| {
        count += 1;
        let mut s = FilingState::new();
        let mut procs = Interner::new();
        for &i in order {
            assert_eq!(s.apply(&events[i], &mut procs), Applied::Folded);
        }
        for &i in order.iter().rev() {
            assert_eq!(
                s.apply(&events[i], &mut procs),
                Applied::Duplicate,
                "{name}: repeat of {i}"
            );
        }
        assert_eq!(&s, want, "{name}: arrival order {order:?}");
    });
    assert!(count >= 1);
}

fn permute(v: &mut Vec<usize>, k: usize, f: &mut impl FnMut(&[usize])) {
    if k == v.len() {
        f(v);
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, f);
        v.swap(k, i);
    }
}

#[test]
fn early_when_ended_on_a_local_day_before_the_due_day() {
    check(
        "early",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, Processing, "2025-07-01T09:00:00+07:00"),
            ev(3, Resolved, "2025-07-02T16:00:00+07:00"),
            ev(4, Returned, "2025-07-03T08:00:00+07:00"),
        ],
        Row {
            status: Some(Returned),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            // resolved (seq 3) ends it, not returned (seq 4)
            ended_at: Some("2025-07-02T16:00:00+07:00"),
            outcome: Some(Outcome::Early),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn on_time_when_ended_on_the_due_day_before_the_due_time() {
    check(
        "on_time",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::Online,
            ),
            ev(2, Resolved, "2025-07-03T16:59:59+07:00"),
        ],
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            ended_at: Some("2025-07-03T16:59:59+07:00"),
            outcome: Some(Outcome::OnTime),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn on_time_at_exactly_the_due_instant() {
    // late only if ended_at > effective due
    check(
        "due instant",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::Online,
            ),
            ev(2, Resolved, "2025-07-03T10:00:00Z"),
        ],
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            ended_at: Some("2025-07-03T17:00:00+07:00"),
            outcome: Some(Outcome::OnTime),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn late_when_ended_after_the_effective_due() {
    check(
        "late by time",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::Postal,
            ),
            ev(2, Processing, "2025-07-01T09:00:00+07:00"),
            ev(3, Stopped, "2025-07-03T17:00:01+07:00"),
        ],
        Row {
            status: Some(Stopped),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            ended_at: Some("2025-07-03T17:00:01+07:00"),
            outcome: Some(Outcome::Late),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn pause_moves_the_effective_due_and_saves_the_filing() {
    // Due 3 Jul 17:00. Paused from 2 Jul 09:00 to 4 Jul 09:00 = 48 h =
    // 172800 s, so the effective due is 5 Jul 17:00. Resolved on 5 Jul 10:00
    // would be late against the original due; against the effective due it
    // is on the due day, so on time.
    check(
        "one pause",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, SupplementRequested, "2025-07-02T09:00:00+07:00"),
            ev(3, SupplementReceived, "2025-07-04T09:00:00+07:00"),
            ev(4, Resolved, "2025-07-05T10:00:00+07:00"),
        ],
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-05T17:00:00+07:00"),
            ended_at: Some("2025-07-05T10:00:00+07:00"),
            outcome: Some(Outcome::OnTime),
            supplement_count: 1,
            paused_seconds: 172_800,
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn two_supplement_requests_make_it_late_whatever_the_time() {
    // Pauses: 1 h (09:00-10:00) + 30 min (11:00-11:30) = 5400 s. Resolved a
    // day early, but two requests are late by Decision 766.
    check(
        "two requests",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-10T17:00:00+07:00",
                Channel::Online,
            ),
            ev(2, SupplementRequested, "2025-07-02T09:00:00+07:00"),
            ev(3, SupplementReceived, "2025-07-02T10:00:00+07:00"),
            ev(4, SupplementRequested, "2025-07-02T11:00:00+07:00"),
            ev(5, SupplementReceived, "2025-07-02T11:30:00+07:00"),
            ev(6, Resolved, "2025-07-03T08:00:00+07:00"),
        ],
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-10T17:00:00+07:00"),
            effective_due_at: Some("2025-07-10T18:30:00+07:00"),
            ended_at: Some("2025-07-03T08:00:00+07:00"),
            outcome: Some(Outcome::Late),
            supplement_count: 2,
            paused_seconds: 5_400,
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn a_pending_request_counts_no_pause_and_freezes_the_overdue_clock() {
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        ev(2, SupplementRequested, "2025-07-02T09:00:00+07:00"),
    ];
    check(
        "pending request",
        events.clone(),
        Row {
            status: Some(SupplementRequested),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            supplement_count: 1,
            pause_started_at: Some("2025-07-02T09:00:00+07:00"),
            ..Row::default()
        },
    );
    let (s, _) = fold(&events);
    // Weeks later the citizen has still not come back: the clock stopped
    // at the request (2 Jul 09:00), before the due, so not overdue.
    assert!(!s.is_overdue_open(t("2025-08-01T00:00:00+07:00")));
    // Without the request the same filing is overdue a second after its due.
    let (plain, _) = fold(&events[..1]);
    assert!(!plain.is_overdue_open(t("2025-07-03T17:00:00+07:00")));
    assert!(plain.is_overdue_open(t("2025-07-03T17:00:01+07:00")));
}

#[test]
fn a_closed_filing_is_never_overdue() {
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        ev(2, Resolved, "2025-07-09T08:00:00+07:00"),
    ];
    let (s, _) = fold(&events);
    assert!(!s.is_overdue_open(t("2025-08-01T00:00:00+07:00")));
}

#[test]
fn extended_records_a_new_date_but_late_is_late() {
    // The apology letter promises 10 Jul; resolved on 8 Jul, after the
    // original 3 Jul due: late.
    let mut ext = ev(3, Extended, "2025-07-03T16:00:00+07:00");
    ext.due_at_ms = Some(t("2025-07-10T17:00:00+07:00"));
    check(
        "extended",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, Processing, "2025-07-01T09:00:00+07:00"),
            ext,
            ev(4, Resolved, "2025-07-08T10:00:00+07:00"),
        ],
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            ended_at: Some("2025-07-08T10:00:00+07:00"),
            outcome: Some(Outcome::Late),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn withdrawn_is_closed_but_never_ended() {
    check(
        "withdrawn",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, Processing, "2025-07-01T09:00:00+07:00"),
            ev(3, Withdrawn, "2025-07-02T09:00:00+07:00"),
        ],
        Row {
            status: Some(Withdrawn),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn not_received_is_closed_but_never_ended() {
    check(
        "not_received",
        vec![
            ev(1, Submitted, "2025-07-01T07:00:00+07:00"),
            ev(2, NotReceived, "2025-07-01T10:00:00+07:00"),
        ],
        Row {
            status: Some(NotReceived),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn returned_alone_ends_the_filing() {
    check(
        "returned only",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-01T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, Returned, "2025-07-01T15:00:00+07:00"),
        ],
        Row {
            status: Some(Returned),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-01T17:00:00+07:00"),
            effective_due_at: Some("2025-07-01T17:00:00+07:00"),
            ended_at: Some("2025-07-01T15:00:00+07:00"),
            outcome: Some(Outcome::OnTime),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn the_first_ending_event_by_seq_wins() {
    // A correction: resolved twice. The first by seq (4) ends it, whichever
    // arrives first; stopped at seq 5 changes the status only.
    check(
        "first end",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, Returned, "2025-07-01T09:00:00+07:00"),
            ev(4, Resolved, "2025-07-02T09:00:00+07:00"),
            ev(5, Stopped, "2025-07-04T09:00:00+07:00"),
        ],
        Row {
            status: Some(Stopped),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            ended_at: Some("2025-07-02T09:00:00+07:00"),
            outcome: Some(Outcome::Early),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn online_submission_fees_and_flags() {
    let mut recv = received(
        2,
        "2025-07-01T08:00:00+07:00",
        "2025-07-04T17:00:00+07:00",
        Channel::Online,
    );
    recv.eid_level2 = Some(true);
    recv.digitized = Some(false);
    recv.fee_required = Some(true);
    let mut paid = ev(5, FeePaid, "2025-07-01T11:00:00+07:00");
    paid.online_payment = Some(true);
    let events = vec![
        ev(1, Submitted, "2025-07-01T07:00:00+07:00"),
        recv,
        ev(3, Processing, "2025-07-01T09:00:00+07:00"),
        ev(4, FeeRequested, "2025-07-01T10:00:00+07:00"),
        paid,
        ev(6, Resolved, "2025-07-02T10:00:00+07:00"),
    ];
    check(
        "fees",
        events.clone(),
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-04T17:00:00+07:00"),
            effective_due_at: Some("2025-07-04T17:00:00+07:00"),
            ended_at: Some("2025-07-02T10:00:00+07:00"),
            outcome: Some(Outcome::Early),
            closed: true,
            ..Row::default()
        },
    );
    let (s, procs) = fold(&events);
    assert_eq!(s.channel(), Some(Channel::Online));
    assert_eq!(procs.resolve(s.procedure_id()), Some("1.001193"));
    assert_eq!(s.eid_level2(), Some(true));
    assert_eq!(s.digitized(), Some(false));
    assert_eq!(s.fee_required(), Some(true));
    assert_eq!(s.online_payment(), Some(true));
    let r = s.contribution().received.unwrap();
    assert_eq!(
        (
            r.online,
            r.eid_level2,
            r.digitized,
            r.fee_required,
            r.fee_paid_online
        ),
        (true, true, false, true, true)
    );
    assert!(!s.due_at_computed());
    assert_eq!(s.last_seq(), 6);
}

#[test]
fn a_filing_that_was_never_received_has_a_row_but_no_outcome() {
    check(
        "submitted only",
        vec![ev(1, Submitted, "2025-07-01T07:00:00+07:00")],
        Row {
            status: Some(Submitted),
            ..Row::default()
        },
    );
    // An end without a received event cannot be scored.
    check(
        "resolved unreceived",
        vec![ev(3, Resolved, "2025-07-01T07:00:00+07:00")],
        Row {
            status: Some(Resolved),
            ended_at: Some("2025-07-01T07:00:00+07:00"),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn a_repeated_received_keeps_the_lowest_seq() {
    let late_copy = received(
        3,
        "2025-07-05T08:00:00+07:00",
        "2025-07-09T17:00:00+07:00",
        Channel::Postal,
    );
    check(
        "two received",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, Processing, "2025-07-01T09:00:00+07:00"),
            late_copy,
        ],
        Row {
            status: Some(Received),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            ..Row::default()
        },
    );
}

#[test]
fn high_seqs_are_deduplicated_too() {
    let events: Vec<_> = [1u32, 33, 40, 64]
        .iter()
        .map(|&s| {
            if s == 1 {
                received(
                    1,
                    "2025-07-01T08:00:00+07:00",
                    "2025-07-03T17:00:00+07:00",
                    Channel::InPerson,
                )
            } else {
                ev(s, Processing, "2025-07-01T09:00:00+07:00")
            }
        })
        .collect();
    check(
        "high seqs",
        events,
        Row {
            status: Some(Processing),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            ..Row::default()
        },
    );
}

#[test]
fn contribution_moves_with_late_events() {
    let recv = received(
        1,
        "2025-07-01T23:30:00+07:00",
        "2025-07-03T17:00:00+07:00",
        Channel::Online,
    );
    let mut s = FilingState::new();
    let mut procs = Interner::new();
    s.apply(&ev(3, Resolved, "2025-07-02T10:00:00+07:00"), &mut procs);
    // Ended but never received: counted nowhere yet.
    let c = s.contribution();
    assert_eq!((c.received, c.ended), (None, None));
    s.apply(&recv, &mut procs);
    let day = |d: &str| crate::time::local_day(t(d));
    let c = s.contribution();
    assert_eq!(
        c.received,
        Some(super::Received {
            day: day("2025-07-01T12:00:00+07:00"),
            online: true,
            ..super::Received::default()
        })
    );
    assert_eq!(
        c.ended,
        Some((day("2025-07-02T12:00:00+07:00"), Outcome::Early))
    );
    assert_eq!((c.province, c.commune), (1, 4));
}

#[test]
fn days_are_local_days_not_utc_days() {
    // Ended 2 Jul 23:30+07 (16:30Z), due 3 Jul 06:00+07 (2 Jul 23:00Z): by
    // UTC dates both are 2 Jul (on time); by local dates the end is the day
    // before the due: early.
    check(
        "local days",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T06:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, Resolved, "2025-07-02T23:30:00+07:00"),
        ],
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T06:00:00+07:00"),
            effective_due_at: Some("2025-07-03T06:00:00+07:00"),
            ended_at: Some("2025-07-02T23:30:00+07:00"),
            outcome: Some(Outcome::Early),
            closed: true,
            ..Row::default()
        },
    );
}

#[test]
fn overdue_follows_the_effective_due() {
    // A finished 24 h pause moves the due from 3 Jul 17:00 to 4 Jul 17:00.
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        ev(2, SupplementRequested, "2025-07-02T09:00:00+07:00"),
        ev(3, SupplementReceived, "2025-07-03T09:00:00+07:00"),
    ];
    let (s, _) = fold(&events);
    assert!(!s.is_overdue_open(t("2025-07-04T16:59:59+07:00")));
    assert!(s.is_overdue_open(t("2025-07-04T17:00:01+07:00")));
    // A request made after the due does not rescue the filing: the clock
    // froze when it was already late.
    let late_request = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        ev(2, SupplementRequested, "2025-07-04T09:00:00+07:00"),
    ];
    let (s, _) = fold(&late_request);
    assert!(s.is_overdue_open(t("2025-07-10T00:00:00+07:00")));
    // Closed without ending, or never received: never overdue.
    for closing in [Withdrawn, NotReceived] {
        let (s, _) = fold(&[
            late_request[0].clone(),
            ev(2, closing, "2025-07-02T09:00:00+07:00"),
        ]);
        assert!(
            !s.is_overdue_open(t("2025-08-01T00:00:00+07:00")),
            "{closing}"
        );
    }
    let (s, _) = fold(&[ev(1, Submitted, "2025-07-01T07:00:00+07:00")]);
    assert!(!s.is_overdue_open(t("2026-01-01T00:00:00+07:00")));
}

#[test]
fn withdrawn_or_refused_after_an_end_is_still_not_ended() {
    for (closing, status) in [(Withdrawn, Withdrawn), (NotReceived, NotReceived)] {
        check(
            "closed after end",
            vec![
                received(
                    1,
                    "2025-07-01T08:00:00+07:00",
                    "2025-07-03T17:00:00+07:00",
                    Channel::InPerson,
                ),
                ev(2, Resolved, "2025-07-02T09:00:00+07:00"),
                ev(3, closing, "2025-07-02T10:00:00+07:00"),
            ],
            Row {
                status: Some(status),
                received_at: Some("2025-07-01T08:00:00+07:00"),
                due_at: Some("2025-07-03T17:00:00+07:00"),
                effective_due_at: Some("2025-07-03T17:00:00+07:00"),
                closed: true,
                ..Row::default()
            },
        );
    }
}

#[test]
fn pause_edge_cases() {
    // Two requests in a row: the pause runs from the first request to the
    // receipt (12 h = 43200 s); both count towards the "two requests" rule.
    check(
        "request, request, receipt",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-10T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, SupplementRequested, "2025-07-02T08:00:00+07:00"),
            ev(3, SupplementRequested, "2025-07-02T10:00:00+07:00"),
            ev(4, SupplementReceived, "2025-07-02T20:00:00+07:00"),
            ev(5, Resolved, "2025-07-03T08:00:00+07:00"),
        ],
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-10T17:00:00+07:00"),
            effective_due_at: Some("2025-07-11T05:00:00+07:00"),
            ended_at: Some("2025-07-03T08:00:00+07:00"),
            outcome: Some(Outcome::Late),
            supplement_count: 2,
            paused_seconds: 43_200,
            closed: true,
            ..Row::default()
        },
    );
    // A receipt without a request pauses nothing; a receipt stamped before
    // its request counts as no time rather than negative time.
    check(
        "stray receipts",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, SupplementReceived, "2025-07-01T09:00:00+07:00"),
            ev(3, SupplementRequested, "2025-07-02T09:00:00+07:00"),
            ev(4, SupplementReceived, "2025-07-02T08:00:00+07:00"),
        ],
        Row {
            status: Some(SupplementReceived),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T17:00:00+07:00"),
            supplement_count: 1,
            ..Row::default()
        },
    );
}

#[test]
fn two_requests_with_one_pending_are_late_on_resolution() {
    check(
        "pending second request",
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-10T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, SupplementRequested, "2025-07-02T08:00:00+07:00"),
            ev(3, SupplementReceived, "2025-07-02T09:00:00+07:00"),
            ev(4, SupplementRequested, "2025-07-02T10:00:00+07:00"),
            ev(5, Stopped, "2025-07-03T08:00:00+07:00"),
        ],
        Row {
            status: Some(Stopped),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-10T17:00:00+07:00"),
            // The second request pauses the clock until the stop (22 h,
            // contract v1.1): 1 h + 22 h.
            effective_due_at: Some("2025-07-11T16:00:00+07:00"),
            ended_at: Some("2025-07-03T08:00:00+07:00"),
            outcome: Some(Outcome::Late),
            supplement_count: 2,
            paused_seconds: 3_600 + 22 * 3_600,
            closed: true,
            pause_started_at: None,
        },
    );
}

#[test]
fn a_received_that_contradicts_a_lower_one_is_refused_in_every_order() {
    // No `received` yet: the lowest-`seq` event sets the dimensions, and an
    // event from another commune is folded (whose business it is, is the
    // fidelity rules', not the fold's).
    let mut a = ev(1, Submitted, "2025-07-01T07:00:00+07:00");
    a.commune = 25;
    let mut b = ev(2, NotReceived, "2025-07-01T08:00:00+07:00");
    b.commune = 70;
    b.province = 79;
    let (s, _) = fold(&[a.clone(), b.clone()]);
    assert_eq!((s.province(), s.commune()), (1, 25));
    assert_order_free("before received", &[a.clone(), b.clone()], &s);
    // A second `received` naming another commune than one at a lower seq
    // is refused, whichever arrives first; one that agrees is history.
    let mut r3 = received(
        3,
        "2025-07-01T08:00:00+07:00",
        "2025-07-03T17:00:00+07:00",
        Channel::Online,
    );
    r3.commune = 8;
    let mut r5 = received(
        5,
        "2025-07-01T09:00:00+07:00",
        "2025-07-04T17:00:00+07:00",
        Channel::Postal,
    );
    r5.commune = 9;
    let mut r7 = received(
        7,
        "2025-07-01T10:00:00+07:00",
        "2025-07-05T17:00:00+07:00",
        Channel::Postal,
    );
    r7.commune = 8;
    let events = [a, b, r5, r3, r7];
    let mut idx: Vec<usize> = (0..events.len()).collect();
    let mut first = None;
    permute(&mut idx, 0, &mut |order| {
        let (s, refused) = fold_order(&events, order);
        // r7 agrees with r3 but not with r5: any lower `received` naming
        // other dimensions refuses it (the rule must be monotone).
        assert_eq!(
            refused,
            vec![(5, Received), (7, Received)],
            "order {order:?}"
        );
        assert_eq!((s.province(), s.commune()), (1, 8), "order {order:?}");
        assert_eq!(s.status(), Some(Received), "the highest folded seq: r3");
        assert_eq!(s.last_seq(), 3);
        assert_eq!(s.channel(), Some(Channel::Online));
        match &first {
            None => first = Some(s),
            Some(f) => assert_eq!(f, &s, "order {order:?}"),
        }
    });
    // Without r5, r7 is folded history: it sets the status, not the
    // dimensions or the clock.
    let events = [
        events[0].clone(),
        events[1].clone(),
        events[3].clone(),
        events[4].clone(),
    ];
    let (s, _) = fold(&events);
    assert_eq!((s.province(), s.commune(), s.last_seq()), (1, 8, 7));
    assert_eq!(s.received_at(), Some(t("2025-07-01T08:00:00+07:00")));
    assert_order_free("agreeing received", &events, &s);
}

/// Folds `events` in `order`, returning the state and what was refused
/// (`seq`, type) on arrival or displaced later.
fn fold_order(events: &[Event<'static>], order: &[usize]) -> (FilingState, Vec<(u32, EventType)>) {
    let mut s = FilingState::new();
    let mut procs = Interner::new();
    let mut refused = Vec::new();
    let mut displaced = Vec::new();
    for &i in order {
        let e = &events[i];
        if let Applied::Rejected(_) = s.apply_at(e, i as i64, &mut procs, &mut displaced) {
            refused.push((e.seq, e.kind));
        }
    }
    refused.extend(displaced.iter().map(|d| (d.seq, d.kind)));
    refused.sort_by_key(|&(s, k)| (s, k as u8));
    (s, refused)
}

#[test]
fn of_two_events_at_one_seq_the_lower_fingerprint_wins_in_every_order() {
    let recv = received(
        1,
        "2025-07-01T08:00:00+07:00",
        "2025-07-03T17:00:00+07:00",
        Channel::InPerson,
    );
    // Three events claim seq 2; the one whose event_id has the lowest
    // fingerprint is the event at seq 2, and the other two are refused,
    // whichever arrives first.
    let mut claims: Vec<Event<'static>> = [Resolved, Processing, Returned]
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let mut e = ev(2, k, "2025-07-02T08:00:00+07:00");
            e.event_id = Cow::Owned(format!("claim-{i}"));
            e
        })
        .collect();
    claims.sort_by_key(|e| fingerprint(&e.event_id));
    let winner = claims[0].kind;
    let mut events = vec![recv];
    events.extend(claims);
    let mut idx: Vec<usize> = (0..events.len()).collect();
    let mut first = None;
    permute(&mut idx, 0, &mut |order| {
        let (s, refused) = fold_order(&events, order);
        assert_eq!(s.status(), Some(winner), "order {order:?}");
        assert_eq!(refused.len(), 2, "order {order:?}: {refused:?}");
        assert!(refused.iter().all(|&(_, k)| k != winner));
        let rows = (
            s.status(),
            s.ended_at(),
            s.is_closed(),
            s.contribution(),
            refused,
        );
        match &first {
            None => first = Some(rows),
            Some(f) => assert_eq!(f, &rows, "order {order:?}"),
        }
    });
    // A repeat of a refused event is a duplicate of it, not a second refusal.
    let (mut s, _) = fold_order(&events, &[0, 1, 2, 3]);
    let mut procs = Interner::new();
    assert_eq!(s.apply(&events[3], &mut procs), Applied::Duplicate);
    assert_eq!(s.apply(&events[1], &mut procs), Applied::Duplicate);
}

#[test]
fn a_displaced_received_hands_the_filing_to_the_next_one() {
    let r1 = received(
        1,
        "2025-07-01T08:00:00+07:00",
        "2025-07-03T17:00:00+07:00",
        Channel::InPerson,
    );
    let r3 = received(
        3,
        "2025-07-01T10:00:00+07:00",
        "2025-07-08T17:00:00+07:00",
        Channel::Online,
    );
    // Find an event_id for a `submitted` at seq 1 that beats r1's.
    let mut sub = ev(1, Submitted, "2025-07-01T07:00:00+07:00");
    sub.event_id = (0..)
        .map(|i| format!("sub-{i}"))
        .find(|id| fingerprint(id) < fingerprint(&r1.event_id))
        .map(Cow::Owned)
        .unwrap();
    let events = [r1, r3, sub];
    let mut idx: Vec<usize> = (0..events.len()).collect();
    permute(&mut idx, 0, &mut |order| {
        let (s, refused) = fold_order(&events, order);
        assert_eq!(refused, vec![(1, Received)], "order {order:?}");
        assert_eq!(s.received_at(), Some(t("2025-07-01T10:00:00+07:00")));
        assert_eq!(s.due_at(), Some(t("2025-07-08T17:00:00+07:00")));
        assert_eq!(s.channel(), Some(Channel::Online));
    });
}

#[test]
fn fingerprints_never_change_and_are_never_zero() {
    // Checkpoints hold them and they decide conflicts: a new build must
    // compute the same values.
    assert_eq!(fingerprint("F1-1"), fingerprint("F1-1"));
    assert_eq!(
        [fingerprint(""), fingerprint("a"), fingerprint("F1-1")],
        [FNV_EMPTY, FNV_A, FNV_F1_1]
    );
    for i in 0..10_000 {
        let f = fingerprint(&format!("e{i}"));
        assert!(f != 0 && f < 1 << 24);
    }
}

/// FNV-1a 32 of "", "a" and "F1-1", folded to 24 bits (`h ^ h >> 24`, low
/// 24 bits), worked out by hand from the published FNV offset and prime.
const FNV_EMPTY: u32 = (0x811c_9dc5 ^ (0x811c_9dc5 >> 24)) & 0x00ff_ffff;
const FNV_A: u32 = (0xe40c_292c_u32 ^ (0xe40c_292c_u32 >> 24)) & 0x00ff_ffff;
const FNV_F1_1: u32 = {
    let mut h: u32 = 0x811c_9dc5;
    let b = b"F1-1";
    let mut i = 0;
    while i < b.len() {
        h = (h ^ b[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    (h ^ (h >> 24)) & 0x00ff_ffff
};

#[test]
fn a_reopened_filing_takes_the_status_of_its_highest_seq_in_every_order() {
    let recv = received(
        1,
        "2025-07-01T08:00:00+07:00",
        "2025-07-03T17:00:00+07:00",
        Channel::InPerson,
    );
    // Sent back to the citizen, then taken up again: the contract's status
    // is the type of the highest seq, whichever arrived first.
    for closing in [Returned, Withdrawn, NotReceived] {
        let events = [
            recv.clone(),
            ev(2, closing, "2025-07-02T08:00:00+07:00"),
            ev(3, Processing, "2025-07-02T09:00:00+07:00"),
        ];
        let (s, _) = fold(&events);
        assert_eq!(s.status(), Some(Processing), "after {closing}");
        assert_order_free(&format!("reopened after {closing}"), &events, &s);
    }
}

#[test]
fn state_stays_small() {
    // The row's fields (72 bytes), the log inline up to `LOG_INLINE`
    // events of 32 bytes, one receipt inline, and the two lengths.
    assert_eq!(std::mem::size_of::<Logged>(), 32);
    assert_eq!(std::mem::size_of::<Receipt>(), 32);
    let size = std::mem::size_of::<FilingState>();
    assert!(size <= 72 + LOG_INLINE * 32 + 32 + 16, "{size}");
}

#[test]
fn states_round_trip_through_bytes() {
    use crate::codec::ByteReader;
    let mut states = vec![FilingState::new()];
    let cases: Vec<Vec<Event<'static>>> = vec![
        vec![received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::Online,
        )],
        vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-10T17:00:00+07:00",
                Channel::Postal,
            ),
            ev(2, SupplementRequested, "2025-07-02T08:00:00+07:00"),
            ev(3, SupplementReceived, "2025-07-02T09:00:00+07:00"),
            ev(40, Withdrawn, "2025-07-03T09:00:00+07:00"),
        ],
    ];
    for events in &cases {
        states.push(fold(events).0);
    }
    let mut bytes = Vec::new();
    for s in &states {
        s.encode(&mut bytes);
    }
    let mut r = ByteReader::new(&bytes);
    for s in &states {
        assert_eq!(&FilingState::decode(&mut r).unwrap(), s);
    }
    assert_eq!(r.remaining(), 0);
    // Cut anywhere: an error, never a panic or a wrong state.
    for cut in 0..bytes.len() {
        let mut r = ByteReader::new(&bytes[..cut]);
        let decoded: Result<Vec<_>, _> =
            states.iter().map(|_| FilingState::decode(&mut r)).collect();
        assert!(decoded.is_err(), "cut at {cut}");
    }
}

#[test]
fn a_computed_due_date_is_marked_while_its_received_event_is_in_force() {
    let rules = crate::catalogue::DueRules::vietnam();
    let line = |seq: u32, due: &str| {
        format!(
            r#"{{"event_id":"E{seq}","filing_id":"F1","seq":{seq},"type":"received",
            "occurred_at":"2026-05-04T09:00:00+07:00","province_code":"01","commune_code":"00004",
            "procedure_code":"1.001193","channel":"in_person"{due}}}"#
        )
    };
    let (two, one) = (
        line(2, ""),
        line(1, r#","due_at":"2026-05-06T17:00:00+07:00""#),
    );
    let computed = crate::decode_event_with(two.as_bytes(), Some(&rules)).unwrap();
    // Birth registration is a same-day procedure: 17:00 the same day.
    assert_eq!(computed.due_at_ms, Some(t("2026-05-04T17:00:00+07:00")));
    assert!(computed.due_at_computed);
    let mut s = FilingState::new();
    let mut procs = Interner::new();
    s.apply(&computed, &mut procs);
    assert!(s.due_at_computed());
    assert_eq!(s.due_at(), Some(t("2026-05-04T17:00:00+07:00")));
    let mut bytes = Vec::new();
    s.encode(&mut bytes);
    let back = FilingState::decode(&mut crate::codec::ByteReader::new(&bytes)).unwrap();
    assert_eq!(back, s, "kept across checkpoints");
    // A lower-seq `received` with its own due date takes over.
    let sent = crate::decode_event_with(one.as_bytes(), Some(&rules)).unwrap();
    assert!(!sent.due_at_computed);
    s.apply(&sent, &mut procs);
    assert!(!s.due_at_computed());
    assert_eq!(s.due_at(), Some(t("2026-05-06T17:00:00+07:00")));
}

// ---- the rules as the decrees and the portal apply them (issue 23) ----

/// Every arrival order gives `want`'s state and the same refused set;
/// repeats are duplicates.
fn assert_same_in_every_order(
    name: &str,
    events: &[Event<'static>],
) -> (FilingState, Vec<(u32, EventType)>) {
    let all: Vec<usize> = (0..events.len()).collect();
    let (want, want_refused) = fold_order(events, &all);
    let mut idx = all.clone();
    permute(&mut idx, 0, &mut |order| {
        let (s, refused) = fold_order(events, order);
        assert_eq!(s, want, "{name}: arrival order {order:?}");
        assert_eq!(refused, want_refused, "{name}: refused in order {order:?}");
        let mut again = s.clone();
        for &i in order {
            assert_eq!(
                again.apply(&events[i], &mut Interner::new()),
                Applied::Duplicate,
                "{name}: repeat of {i}"
            );
        }
        assert_eq!(again, s, "{name}: repeats changed the state");
    });
    (want, want_refused)
}

#[test]
fn a_request_still_pending_at_the_end_pauses_the_clock_until_the_end() {
    // The request (seq 3) comes after the decision (seq 2) in the source's
    // history and was never answered: the clock stopped at it (2 Jul
    // 09:00) until the end (5 Jul 10:00), 73 h, so the effective due is 6
    // Jul 18:00 and ending on 5 Jul is early. Counted as zero, the filing
    // would be late (ended after 3 Jul 17:00).
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        ev(2, Resolved, "2025-07-05T10:00:00+07:00"),
        ev(3, SupplementRequested, "2025-07-02T09:00:00+07:00"),
    ];
    check(
        "pending at the end",
        events,
        Row {
            status: Some(SupplementRequested),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-06T18:00:00+07:00"),
            ended_at: Some("2025-07-05T10:00:00+07:00"),
            outcome: Some(Outcome::Early),
            supplement_count: 1,
            paused_seconds: 73 * 3_600,
            closed: true,
            pause_started_at: None,
        },
    );
}

#[test]
fn supplement_events_before_the_receipt_are_intake_history() {
    // A request at seq 1, before the `received` in force (seq 2): it
    // neither counts (one request, not two: not late by the rule) nor
    // pauses; the one after receipt pauses 1 h, so resolving at 17:30 on
    // the due day is on time (effective due 18:00).
    let events = vec![
        ev(1, SupplementRequested, "2025-06-30T09:00:00+07:00"),
        received(
            2,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::Online,
        ),
        ev(3, SupplementRequested, "2025-07-01T10:00:00+07:00"),
        ev(4, SupplementReceived, "2025-07-01T11:00:00+07:00"),
        ev(5, Resolved, "2025-07-03T17:30:00+07:00"),
    ];
    check(
        "request before receipt",
        events,
        Row {
            status: Some(Resolved),
            received_at: Some("2025-07-01T08:00:00+07:00"),
            due_at: Some("2025-07-03T17:00:00+07:00"),
            effective_due_at: Some("2025-07-03T18:00:00+07:00"),
            ended_at: Some("2025-07-03T17:30:00+07:00"),
            outcome: Some(Outcome::OnTime),
            supplement_count: 1,
            paused_seconds: 3_600,
            closed: true,
            pause_started_at: None,
        },
    );
    // An unanswered one before receipt does not freeze the clock.
    let events = vec![
        ev(1, SupplementRequested, "2025-06-30T09:00:00+07:00"),
        received(
            2,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::Online,
        ),
    ];
    let (s, _) = fold(&events);
    assert_eq!(s.pause_started_at(), None);
    assert_eq!(s.supplement_count(), 0);
    assert!(s.is_overdue_open(t("2025-07-03T17:00:01+07:00")));
    assert_same_in_every_order("unanswered before receipt", &events);
}

#[test]
fn the_next_step_in_the_centers_hands_ends_a_pending_pause() {
    // The source reports the documents' return only as `processing`
    // (status 4) on 4 Jul 08:00: the pause lasts 48 h, the effective due
    // is 5 Jul 17:00, and resolving on 4 Jul is early.
    for (back, status) in [(Processing, Resolved), (FeeRequested, Resolved)] {
        let events = vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, SupplementRequested, "2025-07-02T08:00:00+07:00"),
            ev(3, back, "2025-07-04T08:00:00+07:00"),
            ev(4, Resolved, "2025-07-04T15:00:00+07:00"),
        ];
        check(
            &format!("pause ended by {back}"),
            events,
            Row {
                status: Some(status),
                received_at: Some("2025-07-01T08:00:00+07:00"),
                due_at: Some("2025-07-03T17:00:00+07:00"),
                effective_due_at: Some("2025-07-05T17:00:00+07:00"),
                ended_at: Some("2025-07-04T15:00:00+07:00"),
                outcome: Some(Outcome::Early),
                supplement_count: 1,
                paused_seconds: 48 * 3_600,
                closed: true,
                pause_started_at: None,
            },
        );
    }
    // A fee payment is the citizen's step, not the center's: the pause
    // stays open.
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        ev(2, SupplementRequested, "2025-07-02T08:00:00+07:00"),
        ev(3, FeePaid, "2025-07-02T09:00:00+07:00"),
    ];
    let (s, _) = fold(&events);
    assert_eq!(s.pause_started_at(), Some(t("2025-07-02T08:00:00+07:00")));
}

fn extended(seq: u32, at: &str, due: &str) -> Event<'static> {
    Event {
        due_at_ms: Some(t(due)),
        ..ev(seq, Extended, at)
    }
}

#[test]
fn extended_keeps_the_new_promised_date_and_counts_the_letters() {
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        extended(2, "2025-07-03T10:00:00+07:00", "2025-07-08T17:00:00+07:00"),
        extended(3, "2025-07-08T10:00:00+07:00", "2025-07-10T17:00:00+07:00"),
        ev(4, Resolved, "2025-07-09T09:00:00+07:00"),
    ];
    let (s, _) = assert_same_in_every_order("two extensions", &events);
    assert_eq!(s.extensions(), 2);
    // The highest-seq letter's date, whichever came last.
    assert_eq!(s.extended_due_at(), Some(t("2025-07-10T17:00:00+07:00")));
    // Late is late: the effective due does not move.
    assert_eq!(s.effective_due_at(), Some(t("2025-07-03T17:00:00+07:00")));
    assert_eq!(s.outcome(), Some(Outcome::Late));
    assert_eq!(s.contribution().received.map(|r| r.extensions), Some(2));
    let (none, _) = fold(&events[..1]);
    assert_eq!((none.extensions(), none.extended_due_at()), (0, None));
}

#[test]
fn a_filing_received_in_one_commune_may_be_handled_in_another() {
    // Decree 118/2025: received in commune 4 of province 1, processed and
    // resolved by commune 7 of province 2. Nothing is refused; the filing
    // stays with its receiving commune, and the handler is recorded.
    let elsewhere = |e: Event<'static>| Event {
        province: 2,
        commune: 7,
        ..e
    };
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        elsewhere(ev(2, Processing, "2025-07-01T09:00:00+07:00")),
        elsewhere(ev(3, Resolved, "2025-07-02T09:00:00+07:00")),
    ];
    let (s, refused) = assert_same_in_every_order("handled elsewhere", &events);
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!((s.province(), s.commune()), (1, 4));
    assert_eq!(s.handling_commune(), 7);
    assert_eq!(s.outcome(), Some(Outcome::Early));
    let (mine, _) = fold(&events[..1]);
    assert_eq!(mine.handling_commune(), 4);
}

#[test]
fn an_event_id_resent_at_another_seq_is_folded_once() {
    // The source resent its supplement request (same event_id, type and
    // time) at seq 4: one request, not two, so not late.
    let request = ev(2, SupplementRequested, "2025-07-02T08:00:00+07:00");
    let resend = Event {
        seq: 4,
        ..request.clone()
    };
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        request,
        ev(3, SupplementReceived, "2025-07-02T09:00:00+07:00"),
        resend,
        ev(5, Resolved, "2025-07-03T17:30:00+07:00"),
    ];
    let (s, refused) = assert_same_in_every_order("resent", &events);
    assert!(
        refused.is_empty(),
        "an agreeing resend is a duplicate: {refused:?}"
    );
    assert_eq!(s.supplement_count(), 1);
    assert_eq!(s.outcome(), Some(Outcome::OnTime));
    // In order, the resend is reported as a duplicate.
    let mut t1 = FilingState::new();
    let mut p = Interner::new();
    let got: Vec<Applied> = events.iter().map(|e| t1.apply(e, &mut p)).collect();
    assert_eq!(got[3], Applied::Resent);
}

#[test]
fn an_event_id_reused_for_another_event_is_refused_in_every_order() {
    // The same event_id as seq 2's, at seq 4 with another type: only the
    // lowest-seq copy counts; the other is refused (reason `conflict`).
    let events = vec![
        received(
            1,
            "2025-07-01T08:00:00+07:00",
            "2025-07-03T17:00:00+07:00",
            Channel::InPerson,
        ),
        ev(2, Processing, "2025-07-01T09:00:00+07:00"),
        Event {
            seq: 4,
            ..ev(2, Resolved, "2025-07-02T09:00:00+07:00")
        },
    ];
    let (s, refused) = assert_same_in_every_order("reused id", &events);
    assert_eq!(refused, vec![(4, Resolved)]);
    assert_eq!(s.status(), Some(Processing));
    assert_eq!(s.ended_at(), None);
    assert_eq!(Rejection::EventId.reason(), "conflict");
}

#[test]
fn a_withdrawal_undone_by_a_later_resolution_ends_the_filing() {
    // Withdrawn at seq 2, then taken up again and resolved at seq 4: the
    // highest-seq event of its fate is the resolution, so it ended (and
    // is scored); the other way round it stays withdrawn (above).
    for closing in [Withdrawn, NotReceived] {
        let events = vec![
            received(
                1,
                "2025-07-01T08:00:00+07:00",
                "2025-07-03T17:00:00+07:00",
                Channel::InPerson,
            ),
            ev(2, closing, "2025-07-01T10:00:00+07:00"),
            ev(3, Processing, "2025-07-02T08:00:00+07:00"),
            ev(4, Resolved, "2025-07-02T09:00:00+07:00"),
        ];
        let (s, _) = assert_same_in_every_order("undone", &events);
        assert!(!s.is_withdrawn() && !s.is_not_received(), "{closing}");
        assert_eq!(s.ended_at(), Some(t("2025-07-02T09:00:00+07:00")));
        assert_eq!(s.outcome(), Some(Outcome::Early));
    }
}

#[test]
fn a_resend_that_loses_its_seq_is_refused_in_every_order() {
    // Found by the engine's arrival-order property: a resend (seq 6) of
    // seq 1's event competes at seq 6 with a `received`.
    let id = |e: Event<'static>, id: &str| Event {
        event_id: Cow::Owned(id.into()),
        ..e
    };
    let at = "2025-07-01T00:00:00+07:00";
    let events = vec![
        id(ev(1, NotReceived, at), "E11-0"),
        id(ev(1, Submitted, at), "E11-1"),
        id(ev(6, NotReceived, at), "E11-2"),
        id(ev(1, NotReceived, at), "E11-2"),
        id(
            received(6, at, "2025-07-02T00:00:00+07:00", Channel::InPerson),
            "E11-4",
        ),
    ];
    assert_same_in_every_order("resend losing its seq", &events);
}

#[test]
fn a_log_longer_than_the_inline_part_spills_and_folds_the_same() {
    use crate::codec::ByteReader;
    // Received, four supplement rounds of an hour each (the first request
    // after the clock started counts, so all four do), then resolved:
    // 10 events, past `LOG_INLINE`.
    let mut events = vec![received(
        1,
        "2025-07-01T08:00:00+07:00",
        "2025-07-20T17:00:00+07:00",
        Channel::InPerson,
    )];
    for round in 0..4u32 {
        let day = 2 + round;
        events.push(ev(
            2 + 2 * round,
            SupplementRequested,
            &format!("2025-07-0{day}T08:00:00+07:00"),
        ));
        events.push(ev(
            3 + 2 * round,
            SupplementReceived,
            &format!("2025-07-0{day}T09:00:00+07:00"),
        ));
    }
    events.push(ev(10, Resolved, "2025-07-10T10:00:00+07:00"));
    assert!(events.len() > LOG_INLINE);
    let (want, _) = fold(&events);
    assert_eq!(want.supplement_count(), 4);
    assert_eq!(want.paused_ms(), 4 * 3_600_000);
    assert_eq!(want.seen().count(), events.len());
    // Rotations and the reverse order: the spilled log is the same log.
    for k in 0..events.len() {
        let mut order = events.clone();
        order.rotate_left(k);
        assert_eq!(fold(&order).0, want, "rotated by {k}");
        order.reverse();
        assert_eq!(fold(&order).0, want, "rotated by {k}, reversed");
    }
    let mut bytes = Vec::new();
    want.encode(&mut bytes);
    let back = FilingState::decode(&mut ByteReader::new(&bytes)).unwrap();
    assert_eq!(back, want);
}
