import type { Socket } from 'node:net'

/**
 * Owns everything the simulator leaves running between requests (timers, slow answers, hung
 * sockets, outgoing callbacks), so `app.close()` can stop all of it and no timer keeps the
 * process alive.
 */
export interface Lifecycle {
  readonly closed: boolean
  /** setTimeout that is cancelled by `cancelPending()` and `close()`. */
  setTimer(fn: () => void, ms: number): void
  /** Resolves after `ms`, or at once when the simulator closes. */
  delay(ms: number): Promise<void>
  /** Keeps a socket open without answering; destroyed on close. */
  hold(socket: Socket): void
  /** An AbortSignal for outgoing requests, aborted on `cancelPending()` and `close()`. */
  signal(): AbortSignal
  /** Drops pending timers and outgoing requests (used by reset). */
  cancelPending(): void
  close(): void
}

export function createLifecycle(): Lifecycle {
  const timers = new Set<NodeJS.Timeout>()
  const wakers = new Set<() => void>()
  const held = new Set<Socket>()
  let controller = new AbortController()
  let closed = false

  function cancelPending(): void {
    for (const timer of timers) clearTimeout(timer)
    timers.clear()
    controller.abort()
    controller = new AbortController()
  }

  return {
    get closed() {
      return closed
    },
    setTimer(fn, ms) {
      if (closed) return
      const timer = setTimeout(() => {
        timers.delete(timer)
        fn()
      }, ms)
      timers.add(timer)
    },
    delay(ms) {
      if (closed || ms <= 0) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          wakers.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, ms)
        wakers.add(wake)
      })
    },
    hold(socket) {
      if (closed) {
        socket.destroy()
        return
      }
      held.add(socket)
      socket.once('close', () => held.delete(socket))
    },
    signal: () => controller.signal,
    cancelPending,
    close() {
      closed = true
      cancelPending()
      for (const wake of [...wakers]) wake()
      for (const socket of held) socket.destroy()
      held.clear()
    },
  }
}
