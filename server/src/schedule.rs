//! When the weekly digest is posted ([`Schedule`]): read by the config,
//! used by [`crate::digest`]. A leaf.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// When the digest is posted: a weekday, a time and a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub weekday: Weekday,
    pub time: NaiveTime,
    pub tz: Tz,
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.weekday,
            self.time.format("%H:%M"),
            self.tz.name()
        )
    }
}

impl Schedule {
    /// "Mon 09:00 Europe/Berlin" (weekday in English, short or long; 24-hour
    /// time; an IANA zone, UTC when left out).
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let usage = "write it as \"Mon 09:00 Europe/Berlin\": a weekday, a 24-hour time and an IANA time zone (UTC when left out)";
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (day, time, zone) = match parts.as_slice() {
            [d, t] => (*d, *t, "UTC"),
            [d, t, z] => (*d, *t, *z),
            _ => return Err(format!("{text:?}: {usage}")),
        };
        let weekday =
            Weekday::from_str(day).map_err(|_| format!("{day:?} is not a weekday; {usage}"))?;
        let time = NaiveTime::parse_from_str(time, "%H:%M")
            .map_err(|_| format!("{time:?} is not a time such as 09:00; {usage}"))?;
        let tz = Tz::from_str(zone).map_err(|_| {
            format!("{zone:?} is not an IANA time zone such as Europe/Berlin or America/New_York")
        })?;
        Ok(Schedule { weekday, time, tz })
    }

    /// The Monday (a local date) of the schedule's week containing `now`.
    pub fn week_of(&self, now: DateTime<Utc>) -> NaiveDate {
        let local = now.with_timezone(&self.tz).date_naive();
        local - Days::days(i64::from(local.weekday().num_days_from_monday()))
    }

    /// The instant the digest is due in the week starting `monday`. A time
    /// that a clock change skips is taken an hour later; a repeated one, the first time.
    pub fn due_in(&self, monday: NaiveDate) -> DateTime<Utc> {
        let day = monday + Days::days(i64::from(self.weekday.num_days_from_monday()));
        let local = day.and_time(self.time);
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.tz
                    .from_local_datetime(&(local + Days::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| local.and_utc())
    }
}
