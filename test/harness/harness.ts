/**
 * The small interface every adapter implements for the scenario suite: start the example app on
 * a port with given codeflow options, and close it.
 */
import type { AuthOptions } from '@codeflow/core'

/** What a harness is started with. */
export interface HarnessOptions {
  /** the port to listen on, on 127.0.0.1 */
  readonly port: number
  /** the app's codeflow options */
  readonly auth: AuthOptions
}

/** A running app. */
export interface RunningApp {
  close(): Promise<void>
}

/** One adapter under test. */
export interface Harness {
  readonly name: string
  start(options: HarnessOptions): Promise<RunningApp>
}
