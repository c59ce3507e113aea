// Entry point. The only module that ends the process: it loads the configuration, runs the app,
// and exits with the code the app returns (0 clean, 1 startup/fatal, 124 deadline, 130/143 on a
// second signal through ProcessExit).
//
// Not NodeRuntime.runMain: it installs its own SIGINT/SIGTERM handlers that interrupt the main
// fiber, which would close the root scope by interruption (no budget) and compete with our
// Signals layer (second signal forces exit). We run the fiber ourselves and always exit.
import { Effect, Either, Exit, Layer } from "effect"
import * as App from "./App.js"
import * as AppConfig from "./config/AppConfig.js"
import * as FiberRegistry from "./lifecycle/FiberRegistry.js"
import { ExitCode, ProcessExit } from "./lifecycle/ProcessExit.js"
import * as Shutdown from "./lifecycle/Shutdown.js"
import * as JsonLogger from "./observability/JsonLogger.js"

const service = "owned-service"

// The logger's only way to stdout, made once for the process: a broken or full stdout drops lines
// instead of raising uncaught exceptions or growing memory (see JsonLogger.stdout, LogStream).
const logLine = JsonLogger.stdout(service)

const ProcessExitLive = Layer.succeed(ProcessExit, {
  now: (code) => Effect.sync(() => process.exit(code))
})

const program = Effect.gen(function*() {
  const loaded = yield* Effect.either(App.config)
  if (Either.isLeft(loaded)) {
    const invalid = AppConfig.describeConfigError(loaded.left)
    const summary = invalid.map(({ problem, variable }) => `${variable}: ${problem}`).join("; ")
    yield* Effect.logError(`invalid configuration: ${summary}`).pipe(
      Effect.annotateLogs({ variables: invalid.map(({ variable }) => variable), problems: invalid })
    )
    return ExitCode.Failure
  }
  const config = loaded.right.core
  const infrastructure = Layer.mergeAll(Shutdown.layer, FiberRegistry.layer).pipe(
    Layer.provideMerge(Layer.mergeAll(Layer.succeed(AppConfig.AppConfig, config), ProcessExitLive))
  )
  return yield* App.run(App.ServicesLive).pipe(
    Effect.provide(infrastructure),
    Effect.provide(JsonLogger.minimumLevel(config.logLevel))
  )
}).pipe(
  Effect.catchAllCause((cause) => Effect.as(Effect.logFatal("main failed", cause), ExitCode.Failure)),
  Effect.provide(JsonLogger.layer(service, logLine))
)

// Signal listeners alone do not keep Node's event loop alive; this does until main returns. Its
// callback does nothing, so it has nothing that could throw into Node.
const keepAlive = setInterval(() => undefined, 2 ** 31 - 1)

/** Called by the fiber's observer, inside Effect's runtime: it must not throw there. */
const exitWith = (code: number) => {
  try {
    clearInterval(keepAlive)
    process.exit(code)
  } catch {
    // Only an 'exit' listener throwing gets here. The root scope is closed: nothing of ours keeps
    // the event loop alive any more, so the process ends on its own with this code.
    process.exitCode = code
  }
}

const fiber = Effect.runFork(program)
fiber.addObserver((exit) => exitWith(Exit.isSuccess(exit) ? exit.value : ExitCode.Failure))
