// An append-only file of JSON lines with group commit: every append resolves only once its line
// is written and fdatasync'ed, and appends that arrive while a sync runs share the next one.
// Plain promises on purpose: a write that has started finishes even if the fiber that asked for
// it is interrupted, so the in-memory view can follow the file exactly.
import type { FileHandle } from "node:fs/promises"

interface Pending {
  readonly line: string
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}

export class Journal {
  private pending: Array<Pending> = []
  private flushing: Promise<void> | undefined

  constructor(private readonly handle: FileHandle) {}

  append(record: unknown): Promise<void> {
    const line = JSON.stringify(record) + "\n"
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject })
      this.kick()
    })
  }

  /** Waits for every accepted append, syncs, and closes the file. */
  async close(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing
    await this.handle.sync()
    await this.handle.close()
  }

  private kick() {
    if (this.flushing !== undefined) return
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined
      if (this.pending.length > 0) this.kick()
    })
  }

  private async flush() {
    const batch = this.pending
    this.pending = []
    try {
      await this.handle.write(batch.map((entry) => entry.line).join(""))
      await this.handle.datasync()
      for (const entry of batch) entry.resolve()
    } catch (error) {
      for (const entry of batch) entry.reject(error)
    }
  }
}
