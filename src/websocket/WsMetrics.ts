// The WebSocket feature's metrics, updated synchronously (see HttpMetrics for why). Registered at
// 0 when the feature's layer is built (`layer`, in WebSocketFeature), so every family is exported
// from the first scrape; deleting this folder deletes them.
import { Effect, Layer, Metric, MetricKey } from "effect"

const sessions = Metric.gauge("ws_sessions", { description: "Open WebSocket sessions." })
const messagesKey = MetricKey.counter("ws_messages_total", { description: "WebSocket messages, by direction.", incremental: true })
// direction is a closed set: both series exist from the start.
const received = Metric.fromMetricKey(MetricKey.tagged(messagesKey, "direction", "in"))
const sent = Metric.fromMetricKey(MetricKey.tagged(messagesKey, "direction", "out"))

export const sessionOpened = (): void => sessions.unsafeModify(1, [])
export const sessionClosed = (): void => sessions.unsafeModify(-1, [])
export const messageIn = (): void => received.unsafeUpdate(1, [])
export const messageOut = (): void => sent.unsafeUpdate(1, [])

// ws_broadcast_dropped_total: cross-replica broadcasts dropped (Redis down, a publish that failed,
// a full inbox). Exported at 0 even without REDIS_URL (nothing is ever dropped then), so one
// dashboard fits both a single replica and a fleet.
const broadcastDroppedCounter = Metric.counter("ws_broadcast_dropped_total", {
  description: "Broadcasts not sent to or not delivered from the other replicas (Redis unreachable, inbox full).",
  incremental: true
})
/** Kept for RedisBroadcast, which registers it when its link is made (`layer` already has). */
export const broadcastDroppedRegister = (): void => void broadcastDroppedCounter.register()
export const broadcastDropped = (): void => broadcastDroppedCounter.unsafeUpdate(1, [])

/** Registers the feature's families: sessions, messages in both directions, broadcast drops. */
export const layer = Layer.effectDiscard(Effect.sync(() => {
  sessions.register()
  received.register()
  sent.register()
  broadcastDroppedCounter.register()
}))
