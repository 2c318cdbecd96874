//! The generator's promises: determinism, valid events, and the shares it
//! was asked for, measured the way hoso measures them (the model's fold).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use hoso_model::calendar::Calendar;
use hoso_model::catalogue::{Deadline, DueRules};
use hoso_model::time::{DAY_MS, LOCAL_OFFSET_MS, days_from_civil, local_day};
use hoso_model::{Channel, EventType, FilingState, Interner, Outcome, decode_event};

use super::communes::{self, CommuneSource, UnitType};
use super::mix::Mix;
use super::stream::{Stream, World};

/// Monday 7 July 2025: a month with no holiday.
fn july_7() -> i32 {
    days_from_civil(2025, 7, 7) as i32
}

fn world(provinces: &[&str], per_province: usize, mix: Mix, seed: u64) -> Arc<World> {
    let provinces: Vec<String> = provinces.iter().map(|p| p.to_string()).collect();
    let communes = communes::select(
        &CommuneSource::Synthetic { per_province },
        &provinces,
        None,
        mix.median_daily,
        seed,
    )
    .expect("synthetic communes");
    Arc::new(World::new(communes, mix, seed).expect("a world"))
}

fn lines(world: &Arc<World>, start: i32, days: u32) -> Vec<String> {
    Stream::new(world.clone(), start, days).collect()
}

/// A small mix that runs fast in a debug build.
fn small() -> Mix {
    Mix {
        median_daily: 40.0,
        ..Mix::default()
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_other_ones() {
    let a = lines(&world(&["91"], 3, small(), 7), july_7(), 3);
    let b = lines(&world(&["91"], 3, small(), 7), july_7(), 3);
    assert!(a.len() > 500, "{} events", a.len());
    assert_eq!(a, b);
    let c = lines(&world(&["91"], 3, small(), 8), july_7(), 3);
    assert_ne!(a, c);
}

#[test]
fn a_day_is_the_same_whatever_window_holds_it() {
    // The filings of 8 July from a window that starts on the 7th and from
    // one that starts on the 8th: the same events, up to the end of the 8th.
    let w = world(&["01"], 2, small(), 3);
    let end = (i64::from(july_7()) + 2) * DAY_MS - LOCAL_OFFSET_MS;
    let of_day = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| l.contains("-250708-"))
            .filter(|l| decode_event(l.as_bytes()).unwrap().occurred_at_ms < end)
            .collect()
    };
    let wide = of_day(lines(&w, july_7(), 2));
    let narrow = of_day(lines(&w, july_7() + 1, 1));
    assert!(!wide.is_empty());
    assert_eq!(wide, narrow);
}

#[test]
fn every_event_is_valid_in_order_and_numbered() {
    let events = lines(&world(&["91", "01"], 3, small(), 11), july_7(), 5);
    let mut ids = HashSet::new();
    let mut last_seq: HashMap<String, u32> = HashMap::new();
    let mut last_at = i64::MIN;
    for line in &events {
        let e = decode_event(line.as_bytes()).unwrap_or_else(|err| panic!("{line}: {err}"));
        assert!(
            ids.insert(e.event_id.to_string()),
            "repeated {}",
            e.event_id
        );
        assert!(e.occurred_at_ms >= last_at, "out of order: {line}");
        last_at = e.occurred_at_ms;
        let seq = last_seq.entry(e.filing_id.to_string()).or_insert(0);
        assert_eq!(e.seq, *seq + 1, "{line}");
        *seq = e.seq;
        assert!(line.contains("+07:00\""), "{line}");
    }
}

/// The folded filings of a stream, with their events.
struct Folded {
    filings: HashMap<String, FilingState>,
    procedures: Interner,
    events: Vec<String>,
}

fn fold(events: Vec<String>) -> Folded {
    let mut filings: HashMap<String, FilingState> = HashMap::new();
    let mut procedures = Interner::new();
    for line in &events {
        let e = decode_event(line.as_bytes()).expect("valid");
        let state = filings.entry(e.filing_id.to_string()).or_default();
        let applied = state.apply(&e, &mut procedures);
        assert_eq!(applied, hoso_model::Applied::Folded, "{line}");
    }
    Folded {
        filings,
        procedures,
        events,
    }
}

fn share(part: usize, whole: usize) -> f64 {
    assert!(whole > 0);
    part as f64 / whole as f64
}

fn assert_near(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: {got:.4}, expected {want} ± {tolerance}"
    );
}

/// Four weeks of 12 communes of 300 a day: about 70,000 filings.
fn month() -> &'static Folded {
    static MONTH: std::sync::OnceLock<Folded> = std::sync::OnceLock::new();
    MONTH.get_or_init(|| {
        let mix = Mix {
            median_daily: 200.0,
            ..Mix::default()
        };
        fold(lines(&world(&["91"], 12, mix, 766), july_7(), 28))
    })
}

#[test]
fn channel_eid_and_digitisation_shares_are_the_configured_ones() {
    let m = month();
    let mix = Mix::default();
    // Away from the window's edges (online filings of the weekend before
    // the window are not in it): received from the second week on.
    let from = july_7() + 7;
    let received: Vec<&FilingState> = m
        .filings
        .values()
        .filter(|f| f.received_at().is_some_and(|r| local_day(r) >= from))
        .collect();
    let n = received.len();
    assert!(n > 40_000, "{n} received");
    let count = |p: &dyn Fn(&FilingState) -> bool| received.iter().filter(|f| p(f)).count();
    let online = count(&|f| f.channel() == Some(Channel::Online));
    let postal = count(&|f| f.channel() == Some(Channel::Postal));
    assert_near("online share", share(online, n), mix.online_share, 0.01);
    assert_near("postal share", share(postal, n), mix.postal_share, 0.005);
    let eid = count(&|f| f.eid_level2() == Some(true));
    assert_near("e-ID share", share(eid, n), mix.eid_share, 0.01);
    let office: Vec<&&FilingState> = received
        .iter()
        .filter(|f| f.channel() != Some(Channel::Online))
        .collect();
    let digitized = office
        .iter()
        .filter(|f| f.digitized() == Some(true))
        .count();
    assert_near(
        "digitised share (counter filings)",
        share(digitized, office.len()),
        mix.digitized_share,
        0.01,
    );
}

#[test]
fn outcomes_are_mostly_early_with_a_due_date_spike_and_a_small_late_tail() {
    let m = month();
    let mix = Mix::default();
    let ended: Vec<&FilingState> = m
        .filings
        .values()
        .filter(|f| f.outcome().is_some())
        .collect();
    let n = ended.len();
    assert!(n > 40_000, "{n} ended");
    let of = |o: Outcome| ended.iter().filter(|f| f.outcome() == Some(o)).count();
    let late = share(of(Outcome::Late), n);
    // The late tail: the asked share plus the filings sent back twice.
    let want = mix.late_share + mix.supplement_share * mix.second_supplement_share;
    assert_near("late share", late, want, 0.005);
    assert!((0.01..=0.03).contains(&late), "late share {late}");
    let on_time = share(of(Outcome::Early) + of(Outcome::OnTime), n);
    assert!(on_time > 0.97, "on-time rate {on_time}");

    // Procedures with a deadline of days: most end before their due date,
    // and a spike ends on it.
    let rules = DueRules::vietnam();
    let multi_day: Vec<&&FilingState> = ended
        .iter()
        .filter(|f| {
            let code = m.procedures.resolve(f.procedure_id()).unwrap_or_default();
            rules
                .catalogue
                .get(code)
                .is_some_and(|p| p.deadline != Deadline::SameDay)
        })
        .collect();
    let k = multi_day.len();
    let early = multi_day
        .iter()
        .filter(|f| f.outcome() == Some(Outcome::Early))
        .count();
    let due_day = multi_day
        .iter()
        .filter(|f| f.outcome() == Some(Outcome::OnTime))
        .count();
    assert!(share(early, k) > 0.6, "early share {}", share(early, k));
    assert!(
        share(due_day, k) > 0.1,
        "due-date spike {}",
        share(due_day, k)
    );

    let supplemented = ended.iter().filter(|f| f.supplement_count() > 0).count();
    assert_near(
        "supplement share",
        share(supplemented, n),
        mix.supplement_share,
        0.015,
    );
}

#[test]
fn same_day_filings_received_before_the_cutoff_end_that_day() {
    let m = month();
    let rules = DueRules::vietnam();
    let cal = Calendar::vietnam();
    let mut checked = 0;
    for f in m.filings.values() {
        let code = m.procedures.resolve(f.procedure_id()).unwrap_or_default();
        let same_day = rules
            .catalogue
            .get(code)
            .is_some_and(|p| p.deadline == Deadline::SameDay);
        let (Some(received), Some(ended), Some(outcome)) =
            (f.received_at(), f.ended_at(), f.outcome())
        else {
            continue;
        };
        let minute = (received + LOCAL_OFFSET_MS).rem_euclid(DAY_MS) / 60_000;
        if same_day && minute < i64::from(cal.same_day_cutoff_min()) && f.supplement_count() == 0 {
            checked += 1;
            assert_eq!(f.due_at(), Some(cal.close_of(local_day(received))));
            if outcome != Outcome::Late {
                assert_eq!(local_day(ended), local_day(received));
            }
        }
    }
    assert!(checked > 10_000, "{checked} same-day filings");
}

#[test]
fn counter_filings_arrive_in_working_hours_and_online_ones_at_any_hour() {
    let m = month();
    let cal = Calendar::vietnam();
    let rules = DueRules::vietnam();
    let mut night_submissions = 0;
    let mut by_weekday = [0usize; 7];
    for line in &m.events {
        let e = decode_event(line.as_bytes()).expect("valid");
        let day = local_day(e.occurred_at_ms);
        let minute = ((e.occurred_at_ms + LOCAL_OFFSET_MS).rem_euclid(DAY_MS) / 60_000) as u32;
        match e.kind {
            EventType::Received => {
                assert!(cal.is_working_day(day), "{line}");
                assert!(
                    cal.hours()
                        .iter()
                        .any(|(s, end)| minute >= *s && minute <= *end),
                    "outside working hours: {line}"
                );
                if e.channel != Some(Channel::Online) {
                    by_weekday[hoso_model::calendar::weekday(day) as usize] += 1;
                }
                let code = e.procedure_code.as_deref().unwrap_or_default();
                assert_eq!(e.due_at_ms, rules.due_at(code, e.occurred_at_ms), "{line}");
                let fee = rules.catalogue.get(code).map(|p| p.fee_vnd > 0);
                assert_eq!(e.fee_required, fee, "{line}");
            }
            EventType::Submitted if !(7 * 60..19 * 60).contains(&minute) => night_submissions += 1,
            _ => {}
        }
    }
    assert!(night_submissions > 100, "{night_submissions}");
    // Mondays are the busiest, weekends closed.
    assert!(by_weekday[0] > by_weekday[4], "{by_weekday:?}");
    assert_eq!(by_weekday[5] + by_weekday[6], 0, "{by_weekday:?}");
}

#[test]
fn holidays_take_no_counter_filings() {
    // 1-2 September 2025: National Day.
    let w = world(&["79"], 3, small(), 5);
    let start = days_from_civil(2025, 8, 29) as i32;
    for line in lines(&w, start, 7) {
        let e = decode_event(line.as_bytes()).expect("valid");
        if e.kind == EventType::Received {
            let day = local_day(e.occurred_at_ms);
            assert!(
                !(start + 3..=start + 4).contains(&day),
                "received on a holiday: {line}"
            );
        }
    }
}

#[test]
fn omitted_due_dates_come_at_the_asked_share() {
    let mix = Mix {
        omit_due_share: 0.3,
        ..small()
    };
    let w = world(&["91"], 4, mix, 9);
    let mut stream = Stream::new(w, july_7(), 5);
    let mut received = 0;
    let mut without = 0;
    for line in stream.by_ref() {
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        if v["type"] == "received" {
            received += 1;
            without += usize::from(v.get("due_at").is_none());
            // What hoso accepts: the due date comes from the catalogue.
            let rules = hoso_model::catalogue::DueRules::vietnam();
            let e = hoso_model::decode_event_with(line.as_bytes(), Some(&rules))
                .unwrap_or_else(|err| panic!("{line}: {err}"));
            assert_eq!(e.due_at_computed, v.get("due_at").is_none(), "{line}");
            assert!(e.due_at_ms.unwrap() > e.occurred_at_ms, "{line}");
        }
    }
    assert_near("omitted due_at", share(without, received), 0.3, 0.03);
    assert_eq!(stream.stats().due_omitted, without as u64);
}

#[test]
fn commune_sizes_are_heavy_tailed_around_the_median() {
    let mut all = communes::parse_csv(hoso_model::units::OFFICIAL).unwrap();
    communes::assign_sizes(&mut all, 300.0, 766);
    let mut sizes: Vec<f64> = all.iter().map(|c| c.daily_mean).collect();
    sizes.sort_by(f64::total_cmp);
    let at = |q: f64| sizes[((sizes.len() - 1) as f64 * q) as usize];
    assert!((240.0..=380.0).contains(&at(0.5)), "median {}", at(0.5));
    assert!(at(0.99) > 1_300.0, "99th percentile {}", at(0.99));
    assert!(at(1.0) <= 2_100.0, "largest {}", at(1.0));
    let mean = |t: UnitType| {
        let v: Vec<f64> = all
            .iter()
            .filter(|c| c.unit_type == t)
            .map(|c| c.daily_mean)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean(UnitType::Ward) > mean(UnitType::Commune));
}

#[test]
fn the_communes_file_is_read_filtered_and_sampled() {
    let csv = "province_code,province_name,commune_code,commune_name,unit_type\n\
               91,An Giang,30280,Long Xuyên,Phường\n\
               91,An Giang,30316,Mỹ Hòa Hưng,Xã\n\
               01,Hà Nội,00004,Ba Đình,Phường\n";
    let dir = std::env::temp_dir().join(format!("hoso-gen-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("communes.csv");
    std::fs::write(&path, csv).unwrap();
    let source = CommuneSource::Csv(path.clone());
    let an_giang = communes::select(&source, &["91".into()], None, 300.0, 1).unwrap();
    assert_eq!(an_giang.len(), 2);
    assert_eq!(an_giang[0].commune_name, "Long Xuyên");
    assert_eq!(
        communes::select(&source, &[], Some(2), 300.0, 1)
            .unwrap()
            .len(),
        2
    );
    let err = |r: Result<Vec<communes::Commune>, super::GenError>| r.unwrap_err().to_string();
    assert!(err(communes::select(&source, &["48".into()], None, 300.0, 1)).contains("province 48"));
    assert!(err(communes::select(&source, &["9".into()], None, 300.0, 1)).contains("two digits"));
    let missing = CommuneSource::Csv(dir.join("nope.csv"));
    assert!(err(communes::select(&missing, &[], None, 300.0, 1)).contains("cannot read"));
    let bad = [
        ("a,b\n", "header"),
        (
            "province_code,province_name,commune_code,commune_name,unit_type\n91,X,3028,Y,Xã\n",
            "five digits",
        ),
        (
            "province_code,province_name,commune_code,commune_name,unit_type\n91,X,30280,Y,Town\n",
            "unit_type",
        ),
    ];
    for (text, want) in bad {
        let (line, message) = communes::parse_csv(text).unwrap_err();
        assert!(message.contains(want), "{line}: {message}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_shares_are_refused() {
    let bad = Mix {
        online_share: 1.5,
        ..Mix::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("--online-share")
    );
    let bad = Mix {
        median_daily: 0.0,
        ..Mix::default()
    };
    assert!(bad.validate().is_err());
}

#[test]
fn live_filings_replay_fast_and_keep_their_outcome() {
    let w = world(&["01"], 4, small(), 2);
    let at = 1_751_900_000_000; // a Monday, 21:53 local: out of hours
    let mut stream = Stream::new(w, local_day(at), 0);
    for n in 0..500 {
        stream.add_live(at, n, 1440.0);
    }
    stream.extend_to(at + 3 * 3_600_000);
    let events = fold(stream.collect());
    assert!(events.events.len() > 2_000);
    // (The day's ordinary arrivals are in the stream too.)
    for line in events.events.iter().filter(|l| l.contains("-L")) {
        let e = decode_event(line.as_bytes()).expect("valid");
        assert!(e.occurred_at_ms >= at && e.occurred_at_ms < at + 3 * 3_600_000);
    }
    let ended = events
        .filings
        .iter()
        .filter(|(id, f)| id.contains("-L") && f.outcome().is_some())
        .count();
    assert!(ended > 400, "{ended} of 500 ended within three hours");
}
