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
