/**
 * A test clock: the time every app of a stack reads (`createAuth({ clock })` in-process, a
 * preloaded `Date.now` in a child process), moved on by the test instead of sleeping. It is real
 * time plus an offset that only `advance` changes, so it never stands still and never goes back.
 *
 * The test process itself keeps real time (nothing here replaces its `Date.now`): the scripted
 * browser's cookie jar, the dev provider and Redis do not see the advances.
 */
import type { ChildProcess } from 'node:child_process'

/** Applies a new offset (milliseconds ahead of real time) to one app; resolves once applied. */
export type ClockSubscriber = (offset: number) => Promise<void>

/** What `testClock()` returns. */
export interface TestClock {
  /** the current time by this clock, epoch milliseconds */
  now(): number
  /** how far ahead of real time this clock is, in milliseconds */
  readonly offset: number
  /**
   * Moves time on by `ms` for every app attached; resolves once each of them has applied it
   * (a child process has acknowledged it).
   */
  advance(ms: number): Promise<void>
  /** `advance` to the epoch milliseconds `time` (which must not be in this clock's past) */
  advanceTo(time: number): Promise<void>
  /** Calls `subscriber` at every advance from now on; returns what detaches it. */
  attach(subscriber: ClockSubscriber): () => void
}

/** A clock that starts at the real time. */
export function testClock(): TestClock {
  let offset = 0
  const subscribers = new Set<ClockSubscriber>()
  const clock: TestClock = {
    now: () => Date.now() + offset,
    get offset() {
      return offset
    },
    async advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`a test clock cannot go back (${ms} ms)`)
      offset += ms
      const target = offset
      await Promise.all([...subscribers].map((subscriber) => subscriber(target)))
    },
    advanceTo(time) {
      return clock.advance(time - clock.now())
    },
    attach(subscriber) {
      subscribers.add(subscriber)
      return () => {
        subscribers.delete(subscriber)
      }
    },
  }
  return clock
}

/**
 * The module a child process is started with (`node --import <this URL>`) to follow a test clock:
 * its `Date.now` is real time plus CLOCK_OFFSET_ENV, then whatever offset arrives over IPC.
 */
export const CLOCK_PRELOAD = new URL('./clock-preload.mjs', import.meta.url).href

/** The environment variable with the offset a preloaded child starts with. */
export const CLOCK_OFFSET_ENV = 'CODEFLOW_TEST_CLOCK_OFFSET'

/** The messages of the IPC protocol with clock-preload.mjs. */
export interface ClockMessage {
  readonly type: 'codeflow-test-clock'
  readonly seq: number
  readonly offset: number
}
/** What the preload sends once it listens (`ready`) and once it applied an offset (`ack`). */
export interface ClockReply {
  readonly type: 'codeflow-test-clock-ready' | 'codeflow-test-clock-ack'
  /** the offset acknowledged (`ack` only) */
  readonly seq?: number
  /** the process that sent it */
  readonly pid: number
  /** its Date.now() then */
  readonly now: number
}

/** How long a child may take to acknowledge an offset before `advance` fails. */
const ACK_TIMEOUT_MS = 15_000
/** How long a child may take from its spawn to load the preload (as long as a start may take). */
const READY_TIMEOUT_MS = 30_000

/**
 * The node arguments and environment that start a child on `clock` (to add before its script),
 * with the offset the clock has now.
 */
export function preloadArguments(clock: TestClock): {
  args: string[]
  env: Record<string, string>
} {
  return {
    args: ['--import', CLOCK_PRELOAD],
    env: { [CLOCK_OFFSET_ENV]: String(clock.offset) },
  }
}

/**
 * Attaches a child started with `preloadArguments(clock)` and an IPC channel, right after it was
 * spawned: every advance waits until the preload listens, sends it the new offset and waits for
 * its acknowledgement, which must come from the child itself (its pid). A child that has exited
 * has nothing to apply. Returns what detaches it.
 */
export function attachProcess(clock: TestClock, child: ChildProcess): () => void {
  if (!child.send) throw new Error('the child process has no IPC channel')
  let seq = 0
  const pending = new Map<number, { resolve(): void; reject(error: Error): void }>()
  const gone = () => child.exitCode !== null || child.signalCode !== null || !child.connected
  let listening: () => void = () => undefined
  const ready = new Promise<void>((resolve) => {
    listening = resolve
  })
  child.on('message', (received: unknown) => {
    const reply = received as Partial<ClockReply> | null
    if (reply?.type === 'codeflow-test-clock-ready') {
      listening()
      return
    }
    if (reply?.type !== 'codeflow-test-clock-ack' || typeof reply.seq !== 'number') return
    const waiting = pending.get(reply.seq)
    if (!waiting) return
    pending.delete(reply.seq)
    if (reply.pid !== child.pid) {
      waiting.reject(new Error(`the clock was applied by pid ${reply.pid}, not ${child.pid}`))
      return
    }
    waiting.resolve()
  })
  const settleAll = () => {
    listening()
    for (const waiting of pending.values()) waiting.resolve()
    pending.clear()
  }
  child.once('exit', settleAll)
  child.once('disconnect', settleAll)
  const send = (offset: number) =>
    new Promise<void>((resolve, reject) => {
      if (gone()) return resolve()
      const id = ++seq
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`pid ${child.pid} did not acknowledge the clock offset ${offset} ms`))
      }, ACK_TIMEOUT_MS)
      pending.set(id, {
        resolve() {
          clearTimeout(timer)
          resolve()
        },
        reject(error) {
          clearTimeout(timer)
          reject(error)
        },
      })
      const message: ClockMessage = { type: 'codeflow-test-clock', seq: id, offset }
      child.send(message, (error) => {
        if (!error) return
        // the channel closed meanwhile: an exited child has nothing to apply
        const waiting = pending.get(id)
        pending.delete(id)
        if (gone()) waiting?.resolve()
        else waiting?.reject(error)
      })
    })
  let readyTimer: NodeJS.Timeout | undefined
  const readyOrTimeout = Promise.race([
    ready,
    new Promise<never>((_, reject) => {
      readyTimer = setTimeout(
        () => reject(new Error(`pid ${child.pid}: the clock preload never said it listens`)),
        READY_TIMEOUT_MS,
      )
      readyTimer.unref()
    }),
  ])
  // no unhandled rejection while no advance waits for it
  readyOrTimeout.catch(() => undefined)
  void ready.then(() => clearTimeout(readyTimer))
  // an offset sent before the preload listens could be lost: wait for it (in order of advances)
  const detach = clock.attach((offset) => readyOrTimeout.then(() => send(offset)))
  return () => {
    detach()
    settleAll()
  }
}
