// An in-memory stand-in for ws's WebSocket with only what Session touches, for tests of a session
// alone (no network, no machine timing): it records the pings, the frames sent (parsed) and the
// close code, and answers a close at once, as a peer that completes the handshake.
import { EventEmitter } from "node:events"
import type { WebSocket } from "ws"

export class FakeWebSocket extends EventEmitter {
  readonly OPEN = 1
  readonly CLOSED = 3
  readyState = 1
  bufferedAmount = 0
  pings = 0
  readonly sent: Array<unknown> = []
  closedWith: number | undefined
  ping() {
    this.pings += 1
  }
  pause() {}
  resume() {}
  send(text: string) {
    this.sent.push(JSON.parse(text))
  }
  close(code: number) {
    this.closedWith = code
    this.readyState = this.CLOSED
    this.emit("close", code, Buffer.alloc(0))
  }
  terminate() {
    this.readyState = this.CLOSED
  }
  /** What Session.run takes. */
  get ws(): WebSocket {
    return this as unknown as WebSocket
  }
}
