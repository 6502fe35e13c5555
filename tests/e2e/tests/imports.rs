//! The exports folder in the page (issue 15): `scoreboard serve --imports
//! DIR` serves the usage exports saved there, the source bar names the
//! folder and its files, a file added later shows after a refresh, and a bad
//! line is shown with its file, line and reason while the good rows count.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is a failed test

use chrono::{Datelike, Duration, Utc};
use scoreboard_e2e::harness::{App, Result};
use scoreboard_e2e::telemetry::{open_source_details, refresh_until};

const HEADER: &str =
    "Date,Email,Sessions,Lines accepted,Accepted edits,Rejected edits,Spend (USD)\n";

#[tokio::test]
async fn the_exports_folder_is_listed_in_the_source_bar_and_its_rows_reach_the_dashboard(
) -> Result<()> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let folder = tmp.path().join("team-exports");
    std::fs::create_dir_all(&folder).expect("the folder");
    // Every day of the last two complete weeks: ann every day, bob on Mondays.
    let today = Utc::now().date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 14);
    let mut csv = HEADER.to_string();
    for i in 0..14 {
        let d = monday + Duration::days(i);
        csv.push_str(&format!("{d},ann@acme.io,5,100,10,1,2.00\n"));
        if i % 7 == 0 {
            csv.push_str(&format!("{d},bob@acme.io,2,30,3,1,1.00\n"));
        }
    }
    std::fs::write(folder.join("usage-export.csv"), &csv).expect("the export");
    let Some(app) = App::builder().arg("--imports").arg(&folder).start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open("/").await?;
        let line = refresh_until(app, "#sources .status-items", "exports folder").await?;
        assert!(line.contains("exports folder: 1 file read"), "{line}");
        open_source_details(app).await?;
        let card = refresh_until(
            app,
            "#sources [data-source=\"imports\"]",
            "usage-export.csv",
        )
        .await?;
        assert!(card.contains("Exports folder “team-exports”"), "{card}");
        assert!(card.contains("usage-export.csv: 16 rows"), "{card}");
        // The folder's rows are the dashboard's: ann's sessions in the people table.
        refresh_until(app, "#people-table", "ann@acme.io").await?;

        // A file saved later, with one line that cannot be read: named with
        // its line and reason; its good line counts.
        let last = monday + Duration::days(13);
        std::fs::write(
            folder.join("late.csv"),
            format!(
                "{HEADER}{last},cy@acme.io,1,10,1,0,0.50\nnot-a-date,dee@acme.io,1,1,1,0,0.10\n"
            ),
        )
        .expect("the second export");
        let card = refresh_until(app, "#sources [data-source=\"imports\"]", "late.csv:3:").await?;
        assert!(card.contains("late.csv: 1 row"), "{card}");
        assert!(card.contains("not-a-date"), "{card}");
        refresh_until(app, "#people-table", "cy@acme.io").await?;
        app.screenshot("live-exports-folder").await?;
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}
