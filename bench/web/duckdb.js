// The comparison job for issue 7: DuckDB-WASM reads the same usage export the
// page reads and computes, per ISO week, weekly active engineers, sessions,
// lines accepted and the acceptance rate. `scoreboard-bench` drives it through
// WebDriver and reads `window.__duck`.
import * as duckdb from "@duckdb/duckdb-wasm";

const state = (window.__duck = { phase: "idle" });

// The same rule as metrics.md: a person is active on a day when any measure is non-zero.
const WEEKLY = `
SELECT date_trunc('week', "Date")::DATE AS week,
       count(DISTINCT CASE WHEN "Sessions" <> 0 OR "Lines accepted" <> 0 OR "Lines removed" <> 0
                               OR "Commits" <> 0 OR "Pull requests" <> 0 OR "Accepted edits" <> 0
                               OR "Rejected edits" <> 0 OR "Spend (USD)" <> 0
                          THEN lower("Email") END) AS active_engineers,
       sum("Sessions")::BIGINT AS sessions,
       sum("Lines accepted")::BIGINT AS lines_accepted,
       sum("Accepted edits")::DOUBLE / nullif(sum("Accepted edits") + sum("Rejected edits"), 0) AS acceptance_rate
FROM usage GROUP BY 1 ORDER BY 1`;

async function loadEngine() {
  const t0 = performance.now();
  const worker = new Worker("duckdb-browser-eh.worker.js");
  const db = new duckdb.AsyncDuckDB(new duckdb.VoidLogger(), worker);
  await db.instantiate(new URL("duckdb-eh.wasm", location.href).href);
  const conn = await db.connect();
  state.load_engine_ms = performance.now() - t0;
  return { db, conn };
}

async function run(engine, file) {
  const { db, conn } = engine;
  const t0 = performance.now();
  await db.registerFileHandle("usage.csv", file, duckdb.DuckDBDataProtocol.BROWSER_FILEREADER, true);
  await conn.query(`CREATE OR REPLACE TABLE usage AS SELECT * FROM read_csv('usage.csv', header = true)`);
  const t1 = performance.now();
  const table = await conn.query(WEEKLY);
  const weeks = table.toArray().map((r) => ({
    week: new Date(Number(r.week)).toISOString().slice(0, 10),
    active_engineers: Number(r.active_engineers),
    sessions: Number(r.sessions),
    lines_accepted: Number(r.lines_accepted),
    acceptance_rate: r.acceptance_rate === null ? null : Number(r.acceptance_rate),
  }));
  const t2 = performance.now();
  Object.assign(state, { read_csv_ms: t1 - t0, query_ms: t2 - t1, weeks, phase: "done" });
}

const input = document.getElementById("file-input");
const ready = loadEngine().then(
  (e) => {
    state.phase = "ready";
    return e;
  },
  (e) => {
    state.phase = "error";
    state.error = String(e);
  },
);
input.addEventListener("change", async () => {
  state.phase = "running";
  try {
    await run(await ready, input.files[0]);
  } catch (e) {
    state.phase = "error";
    state.error = String(e && e.stack ? e.stack : e);
  }
});
