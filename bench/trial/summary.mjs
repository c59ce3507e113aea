// What the rolling trial writes besides bench/RESULTS-rolling.md: its summary, as the section of
// bench/RESULTS.md between ROLLING_START and ROLLING_END (npm run bench carries that section over),
// and the note that says why broadcasts went missing, if any did.
import { ROLLING_END, ROLLING_START, table } from "../report.mjs"

export const GOAL_TEXT = "0 failed requests, 0 lost jobs, 0 done twice, every replica (rolled and successor) exit 0"

/** The goal: nothing failed, nothing lost or done twice, every replica stopped by the trial exited 0. */
export const goalMet = ({ failed, lost, twice, replicas }) => failed === 0 && lost === 0 && twice === 0 && replicas.every((r) => r.code === 0)

const sum = (rows, key) => rows.reduce((total, row) => total + row[key], 0)

/**
 * Why expected broadcasts are missing, from `missed` (bench/trial/load.mjs, broadcastFigures): each
 * has a cause saying whether the receiver's or the sender's socket closed just after the send.
 */
export const missingNote = (missed, edgeMs) => {
  if (missed.length === 0) return "No expected broadcast is missing."
  const byCause = new Map()
  for (const { cause } of missed) byCause.set(cause, (byCause.get(cause) ?? 0) + 1)
  const unexplained = missed.filter((m) => m.cause.includes("unexplained")).length
  return [
    `Why ${missed.length} expected broadcast${missed.length === 1 ? " is" : "s are"} missing: delivery across replicas is at-most-once`,
    "(README, WebSocket): nothing is stored or replayed, so a broadcast still in flight when its sender's or its",
    "receiver's socket closes (1001 from a draining replica, or the trial's own 1000 at its end) is lost, not",
    `redelivered on the next connection. By cause (a close within ${edgeMs} ms after the send):`,
    "",
    ...[...byCause].sort((a, b) => b[1] - a[1]).map(([cause, n]) => `- ${cause}: ${n}`),
    "",
    unexplained === 0
      ? "Every missing broadcast is explained by a close at its edge."
      : `${unexplained} missing with no close near them would be a bug (a frame dropped while both sockets were open): look at ws_broadcast_dropped_total and the replicas' "broadcast link down" lines.`
  ].join("\n")
}

/** The lines both files open with: the run, the goal met or missed, and the requests table. */
export const runAndRequests = ({ run, version, tookS, goal, http, posts }) => [
  `- commit: ${run.commit}`,
  `- date: ${run.date}`,
  `- machine: ${run.machine}; load average at start ${run.load}; ${version}`,
  `- the trial took ${tookS} s`,
  "",
  `**Goal (${GOAL_TEXT}): ${goal ? "met" : "missed"}.**`,
  "",
  table(["requests", "sent", "2xx", "429", "failed"], [
    ["HTTP GET (/sleep?ms=5, /healthz)", http.sent, http.ok, http.tooMany, http.failed],
    ["POST /jobs", posts.sent, posts.ok, posts.tooMany, posts.failed]
  ])
]

/**
 * The section of bench/RESULTS.md: commit, date, goal met or missed, and the totals (requests, jobs,
 * broadcasts, exits); RESULTS-rolling.md has the rest.
 */
export const renderRollingSection = ({ run, version, tookS, goal, http, posts, jobs, wsRows, missed, rolled, finals }) =>
  [
    ROLLING_START,
    "## Rolling update of a fleet",
    "",
    "Written by `npm run trial:rolling` (bench/trial-rolling.mjs), not by `npm run bench`, which keeps this",
    "section as it stands: its commit and date are the trial's. What the trial does and every figure per",
    "client and per replica: [RESULTS-rolling.md](RESULTS-rolling.md).",
    "",
    ...runAndRequests({ run, version, tookS, goal, http, posts }),
    "",
    table(["jobs acknowledged (202)", "done", "lost", "done twice"], [[jobs.acked, jobs.acked - jobs.lost, jobs.lost, jobs.twice]]),
    "",
    ...(wsRows.length === 0 ? ["No WebSocket clients (src/websocket is gone).", ""] : [
      table(["broadcasts (all clients)", "sent", "received", "expected", "missing", "duplicates", "reconnects"], [
        [`${wsRows.length} clients`, sum(wsRows, "sent"), sum(wsRows, "received"), sum(wsRows, "expected"), sum(wsRows, "missing"), sum(wsRows, "duplicates"), sum(wsRows, "reconnects")]
      ]),
      "",
      ...(missed.length === 0 ? [] : [`${missed.length} missing: ${missed.filter((m) => m.cause.includes("unexplained")).length} of them unexplained (see RESULTS-rolling.md for why).`, ""])
    ]),
    table(["exits", "replicas", "exit codes", "SIGTERM -> exit (ms)"], [
      ["rolled under load", rolled.map((r) => r.name).join(", "), rolled.map((r) => r.code).join(", "), rolled.map((r) => r.exitMs).join(", ")],
      ["successors, at the end", finals.map((r) => r.name).join(", "), finals.map((r) => r.code).join(", "), finals.map((r) => r.exitMs).join(", ")]
    ]),
    ROLLING_END
  ].join("\n")
