import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryStore } from '../src/index.js'

describe('createMemoryStore', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('stores, reads, replaces and deletes', async () => {
    const store = createMemoryStore()
    expect(await store.get('a')).toBeUndefined()
    await store.set('a', 'one', 60)
    expect(await store.get('a')).toBe('one')
    await store.set('a', 'two', 60)
    expect(await store.get('a')).toBe('two')
    await store.delete('a')
    expect(await store.get('a')).toBeUndefined()
    await store.delete('never-there')
  })

  it('expires values after their TTL', async () => {
    vi.useFakeTimers()
    const store = createMemoryStore()
    await store.set('a', 'v', 10)
    vi.advanceTimersByTime(9_000)
    expect(await store.get('a')).toBe('v')
    vi.advanceTimersByTime(1_001)
    expect(await store.get('a')).toBeUndefined()
  })

  it('stays bounded, dropping the oldest writes first', async () => {
    const store = createMemoryStore({ maxEntries: 3 })
    for (const id of ['a', 'b', 'c', 'd']) await store.set(id, id, 60)
    expect(await store.get('a')).toBeUndefined()
    expect(await store.get('d')).toBe('d')
    // a rewrite makes an entry the newest
    await store.set('b', 'b2', 60)
    await store.set('e', 'e', 60)
    expect(await store.get('c')).toBeUndefined()
    expect(await store.get('b')).toBe('b2')
  })
})
