// ws_sessions and ws_messages_total{direction}, updated synchronously (see HttpMetrics for why).
import { Metric, MetricKey } from "effect"

const sessions = Metric.gauge("ws_sessions", { description: "Open WebSocket sessions." })
const messagesKey = MetricKey.counter("ws_messages_total", { description: "WebSocket messages, by direction.", incremental: true })
const received = Metric.fromMetricKey(MetricKey.tagged(messagesKey, "direction", "in"))
const sent = Metric.fromMetricKey(MetricKey.tagged(messagesKey, "direction", "out"))

export const sessionOpened = (): void => sessions.unsafeModify(1, [])
export const sessionClosed = (): void => sessions.unsafeModify(-1, [])
export const messageIn = (): void => received.unsafeUpdate(1, [])
export const messageOut = (): void => sent.unsafeUpdate(1, [])

// ws_broadcast_dropped_total: cross-replica broadcasts dropped (Redis down, a publish that failed,
// a full inbox). Registered at 0 when the broadcast link is made, so it is exported from the
// first scrape (a metric appears in the registry only once it has been updated).
const broadcastDroppedCounter = Metric.counter("ws_broadcast_dropped_total", {
  description: "Broadcasts not sent to or not delivered from the other replicas (Redis unreachable, inbox full).",
  incremental: true
})
export const broadcastDroppedRegister = (): void => broadcastDroppedCounter.unsafeUpdate(0, [])
export const broadcastDropped = (): void => broadcastDroppedCounter.unsafeUpdate(1, [])
