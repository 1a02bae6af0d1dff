/** The console logger of an app that configures none: warnings and errors, one line per code a minute. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { consoleLogger } from '../src/logger.js'

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('the console logger', () => {
  it('prints warnings and errors on one line with their code, nothing below', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const log = consoleLogger()
    log({ level: 'info', code: 'a', message: 'not printed' })
    log({ level: 'debug', code: 'b', message: 'not printed' })
    log({ level: 'warn', code: 'c', message: 'a warning', error: new Error('token-123') })
    log({ level: 'error', code: 'd', message: 'an error' })
    expect(warn.mock.calls).toEqual([['codeflow: a warning [c]']])
    expect(error.mock.calls).toEqual([['codeflow: an error [d]']])
  })

  it('prints one line per code a minute, then says how many it held back', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const log = consoleLogger()
    for (let i = 0; i < 50; i++) log({ level: 'warn', code: 'junk', message: 'a junk cookie' })
    log({ level: 'warn', code: 'other', message: 'another thing' })
    expect(warn).toHaveBeenCalledTimes(2)
    vi.setSystemTime(Date.now() + 60_000)
    log({ level: 'warn', code: 'junk', message: 'a junk cookie' })
    expect(warn.mock.calls.at(-1)).toEqual([
      'codeflow: a junk cookie [junk] (and 49 more like it in the last minute)',
    ])
  })

  it('keeps its count per app: another app prints its own first line', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    consoleLogger()({ level: 'warn', code: 'x', message: 'one' })
    consoleLogger()({ level: 'warn', code: 'x', message: 'two' })
    expect(warn).toHaveBeenCalledTimes(2)
  })
})
