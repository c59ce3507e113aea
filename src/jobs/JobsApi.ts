// The jobs feature's routes: POST /jobs and GET /jobs/:id, declared with HttpApi and handled here.
// JobsFeature.ts exports the group and its handlers; src/App.ts adds them to the public API.
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import * as ApiGroup from "../http/public/ApiGroup.js"
import { BaseApi } from "../http/public/BaseApi.js"
import { EXAMPLE_MS, MAX_SLEEP_MS } from "../http/public/CoreApi.js"
import { NotFound, onTheWire, ShuttingDown, Wire } from "../http/public/ApiErrors.js"
import { JobStore, QueueFull, StoreUnavailable } from "./JobStore.js"
import { WorkerPool } from "./WorkerPool.js"

// The store's own errors, declared once there (JobStore.ts) with their statuses; here, their wire shape.
export { QueueFull, StoreUnavailable }
const QueueFullOnTheWire = onTheWire(QueueFull)
/** The store could not commit (disk full, database down): the job was not confirmed; retry later
 * (README "At least once": a commit whose answer was lost may still have stored it). */
const StoreUnavailableOnTheWire = onTheWire(StoreUnavailable)

export const JobState = Schema.Literal("queued", "running", "done", "failed")

export const JobView = Schema.Struct({
  id: Schema.String,
  state: JobState,
  ms: Schema.Number,
  payload: Schema.Unknown,
  attempts: Schema.Number,
  acceptedAt: Schema.String,
  updatedAt: Schema.String,
  error: Schema.optional(Schema.String)
})

/** The body of POST /jobs. `payload` is any JSON the public API's body bound admits (nested at
 * most MAX_JSON_DEPTH - 1 levels inside this object, numbers finite: see http/public/BoundedBody),
 * so the job store can always write it back out (it keeps each job as JSON text). */
export const NewJob = Schema.Struct({
  // Schema.Number + int, not Schema.Int: the same check, documented inline as an integer (Int is a $ref).
  ms: Schema.Number.pipe(
    Schema.int(),
    Schema.between(0, MAX_SLEEP_MS, { message: () => `must be an integer between 0 and ${MAX_SLEEP_MS}` })
  ).annotations({ title: "ms", description: "milliseconds the sample job waits", examples: [EXAMPLE_MS] }),
  payload: Schema.optionalWith(
    Schema.Unknown.annotations({ description: "any JSON, kept with the job (null when absent)", examples: [{ to: "ada" }] }),
    { default: () => null }
  )
})

export class Jobs extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.post("submit", "/jobs")
      .setPayload(NewJob)
      .addSuccess(Schema.Struct({ id: Schema.String }), { status: 202 })
      .addError(Wire.BadRequest)
      .addError(Wire.PayloadTooLarge)
      .addError(Wire.UnsupportedMediaType)
      .addError(QueueFullOnTheWire)
      .addError(Wire.ShuttingDown)
      .addError(StoreUnavailableOnTheWire)
      .annotate(OpenApi.Summary, "Queue a job; 202 with its id once the job store committed it")
      .annotate(
        OpenApi.Description,
        "The sample job waits `ms` milliseconds. 429 `QueueFull` when JOB_QUEUE_SIZE jobs are unfinished; 503 `ShuttingDown` once the workers stopped, `StoreUnavailable` when the store cannot write (the job was not confirmed; retry later: if the database committed it but its answer was lost, the job runs and a retry queues it twice). A body over 1 MiB is 413."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/jobs/:id")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(JobView)
      .addError(Wire.NotFound)
      .addError(StoreUnavailableOnTheWire)
      .annotate(OpenApi.Summary, "A job's state, read from the job store; 404 for an unknown id")
  )
{}

/** The public API as far as this feature knows it; also what its typed client is made from. */
export class JobsApi extends BaseApi.add(Jobs) {}

const shuttingDown = () => new ShuttingDown({ message: "the service is shutting down" })
const storeUnavailable = () => new StoreUnavailable({ message: "the job store is unavailable; retry later" })

export const JobsLive = ApiGroup.group(JobsApi, "jobs", (handlers) =>
  Effect.gen(function*() {
    const pool = yield* WorkerPool
    const store = yield* JobStore
    return handlers
      .handle("submit", ({ payload }) =>
        pool.submit(payload).pipe(
          Effect.map((id) => ({ id })),
          Effect.catchTags({
            // The store's QueueFull is the wire's: its message is written for the client.
            PoolClosed: shuttingDown,
            // Logged with its cause: the client only learns that its job was not confirmed.
            StoreUnavailable: (error) => Effect.zipRight(Effect.logWarning("POST /jobs: the job store is unavailable", error), storeUnavailable())
          })
        ))
      .handle("get", ({ path: { id } }) =>
        store.get(id).pipe(
          Effect.catchTag("StoreUnavailable", (error) => Effect.zipRight(Effect.logWarning("GET /jobs/:id: the job store is unavailable", error), storeUnavailable())),
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(new NotFound({ message: `no job ${id}` })),
            onSome: (job) => Effect.succeed(job)
          }))
        ))
  }))
