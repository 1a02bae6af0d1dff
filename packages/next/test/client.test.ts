/** The browser side: `fetchUser`, `<UserProvider>` and `useUser()`. */
import { createElement, type ReactNode } from 'react'
import { renderToString } from 'react-dom/server'
import { describe, expect, it, vi } from 'vitest'
import { fetchUser, UserProvider, useUser } from '../src/client.js'

function answering(status: number, body: unknown) {
  return vi.fn(async (_url: string | URL | Request, _init?: RequestInit) =>
    Response.json(body, { status }),
  )
}

function Probe(): ReactNode {
  const { user, isLoading } = useUser()
  if (isLoading) return 'loading'
  return user ? `user ${user.sub}` : 'anonymous'
}

describe('fetchUser', () => {
  it('returns the claims of a signed-in user, asking for JSON with the cookies', async () => {
    const fetcher = answering(200, { sub: 'alice', email: 'alice@example.test' })
    expect(await fetchUser('/api/me', fetcher)).toEqual({
      sub: 'alice',
      email: 'alice@example.test',
    })
    const init = fetcher.mock.calls[0]?.[1]
    expect(init).toMatchObject({ credentials: 'same-origin', cache: 'no-store' })
    expect(new Headers(init?.headers).get('accept')).toBe('application/json')
  })

  it('returns null for an anonymous visitor (401)', async () => {
    expect(await fetchUser('/api/me', answering(401, { error: 'unauthenticated' }))).toBeNull()
  })

  it('throws for another status or an answer that is not a user', async () => {
    await expect(fetchUser('/api/me', answering(503, {}))).rejects.toThrow('503')
    await expect(fetchUser('/api/me', answering(200, { name: 'x' }))).rejects.toThrow(/not answer/)
  })
})

describe('UserProvider and useUser', () => {
  it('starts from the user the server rendered with, without a request', () => {
    const fetcher = vi.spyOn(globalThis, 'fetch')
    const signedIn = createElement(UserProvider, { user: { sub: 'alice' } }, createElement(Probe))
    expect(renderToString(signedIn)).toBe('user alice')
    const anonymous = createElement(UserProvider, { user: null }, createElement(Probe))
    expect(renderToString(anonymous)).toBe('anonymous')
    expect(fetcher).not.toHaveBeenCalled()
    fetcher.mockRestore()
  })

  it('is loading until the profile route answers when no user is given', () => {
    expect(renderToString(createElement(UserProvider, {}, createElement(Probe)))).toBe('loading')
  })

  it('needs a provider', () => {
    expect(() => renderToString(createElement(Probe))).toThrow(/UserProvider/)
  })
})
