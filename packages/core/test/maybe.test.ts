/** The kit's values-or-promises helpers that the adapters rely on for their error channels. */
import { describe, expect, it } from 'vitest'
import { rejectionTo, step } from '../src/maybe.js'

describe('rejectionTo', () => {
  it("hands a pending step's rejection (its continuation threw after I/O) to the handler", async () => {
    const failures: unknown[] = []
    const done = step(
      () => Promise.resolve('value'),
      () => {
        throw new Error('the continuation failed')
      },
      (error) => {
        throw error
      },
    )
    rejectionTo(done, (error) => failures.push(error))
    await expect.poll(() => failures.length).toBe(1)
    expect((failures[0] as Error).message).toBe('the continuation failed')
  })

  it('does nothing for a value', () => {
    const failures: unknown[] = []
    rejectionTo('value', (error) => failures.push(error))
    expect(failures).toEqual([])
  })
})

describe('a step that fails without an error', () => {
  it('hands fail an Error, never a falsy value, thrown or rejected', async () => {
    const seen: unknown[] = []
    step(
      () => {
        throw undefined
      },
      () => 'never',
      (error) => {
        seen.push(error)
        return 'never'
      },
    )
    await step(
      () => Promise.reject(null),
      () => 'never',
      (error) => {
        seen.push(error)
        return 'never'
      },
    )
    rejectionTo(Promise.reject(0), (error) => seen.push(error))
    await new Promise((resolve) => setImmediate(resolve))
    expect(seen).toHaveLength(3)
    for (const error of seen) expect(error).toBeInstanceOf(Error)
    const real = new Error('kept')
    step(
      () => {
        throw real
      },
      () => 'never',
      (error) => {
        seen.push(error)
        return 'never'
      },
    )
    expect(seen[3]).toBe(real)
  })
})
