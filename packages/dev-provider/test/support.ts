/** What the dev provider's tests share: clients, a cookie jar, and the code flow driven over HTTP. */
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect } from 'vitest'
import type { DevClient, DevProvider } from '../src/index.js'

export const APP = 'http://127.0.0.1:9'
export const WEB_CLIENT: DevClient = {
  clientId: 'web',
  clientSecret: 'a secret: with "odd" characters',
  redirectUris: [`${APP}/callback`],
  postLogoutRedirectUris: [`${APP}/signed-out`],
}
export const PUBLIC_CLIENT: DevClient = { clientId: 'spa', redirectUris: [`${APP}/spa/callback`] }
export const GROUPS = Array.from({ length: 400 }, (_, i) => `group-${String(i).padStart(16, '0')}`)

/** A cookie jar that honours `Path` (RFC 6265 §5.1.4), as oidc-provider scopes its cookies by path. */
export class CookieJar {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>()

  store(response: Response, url: URL): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';')
      const name = pair.slice(0, pair.indexOf('=')).trim()
      const value = pair.slice(pair.indexOf('=') + 1).trim()
      let path = url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/'
      let expired = value === ''
      for (const attribute of attributes) {
        const [key = '', attributeValue = ''] = attribute.split('=').map((part) => part.trim())
        if (key.toLowerCase() === 'path') path = attributeValue
        if (key.toLowerCase() === 'expires' && Date.parse(attributeValue) <= Date.now()) {
          expired = true
        }
      }
      const id = `${path} ${name}`
      if (expired) this.#cookies.delete(id)
      else this.#cookies.set(id, { name, value, path })
    }
  }

  header(url: URL): string {
    return [...this.#cookies.values()]
      .filter(
        ({ path }) =>
          url.pathname === path ||
          (url.pathname.startsWith(path) &&
            (path.endsWith('/') || url.pathname[path.length] === '/')),
      )
      .map(({ name, value }) => `${name}=${value}`)
      .join('; ')
  }

  names(): string[] {
    return [...this.#cookies.values()].map(({ name }) => name)
  }
}

export async function send(jar: CookieJar, url: URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  const cookie = jar.header(url)
  if (cookie) headers.set('cookie', cookie)
  const response = await fetch(url, { ...init, headers, redirect: 'manual' })
  jar.store(response, url)
  return response
}

export function basicAuth(client: DevClient): string {
  // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
  const credentials = `${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret ?? '')}`
  return `Basic ${Buffer.from(credentials).toString('base64')}`
}

export interface Authorized {
  callback: URL
  state: string
  codeVerifier: string
}

/** Drives a browser through /auth, the login and consent pages, to the client's redirect URI. */
export async function authorize(
  op: DevProvider,
  jar: CookieJar,
  client: DevClient,
  { scope = 'openid', login = 'alice', extra = {} as Record<string, string> } = {},
): Promise<Authorized> {
  const redirectUri = client.redirectUris[0] ?? ''
  const codeVerifier = randomBytes(32).toString('base64url')
  const state = randomBytes(16).toString('base64url')
  const url = new URL('/auth', op.issuer)
  url.search = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope,
    state,
    code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  }).toString()

  let response = await send(jar, url)
  for (let hop = 0; hop < 10; hop++) {
    const location = response.headers.get('location')
    if (!location) throw new Error(`expected a redirect, got ${response.status}`)
    const next = new URL(location, op.issuer)
    if (`${next.origin}${next.pathname}` === redirectUri)
      return { callback: next, state, codeVerifier }
    if (next.pathname.startsWith('/interaction/')) {
      const page = await (await send(jar, next)).text()
      const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1]
      const form = new URLSearchParams({ prompt: prompt ?? '' })
      if (prompt === 'login') {
        form.set('login', login)
        form.set('password', 'any')
      }
      response = await send(jar, next, { method: 'POST', body: form })
    } else {
      response = await send(jar, next)
    }
  }
  throw new Error('too many redirects')
}

export interface TokenResponse {
  access_token: string
  id_token?: string
  refresh_token?: string
  token_type: string
  expires_in: number
  scope: string
}

export async function tokenRequest(
  op: DevProvider,
  client: DevClient,
  params: Record<string, string>,
): Promise<Response> {
  const body = new URLSearchParams(params)
  const headers: Record<string, string> = {}
  if (client.clientSecret === undefined) body.set('client_id', client.clientId)
  else headers.authorization = basicAuth(client)
  return fetch(new URL('/token', op.issuer), { method: 'POST', headers, body })
}

export async function exchangeCode(
  op: DevProvider,
  client: DevClient,
  { callback, codeVerifier }: Authorized,
): Promise<TokenResponse> {
  const response = await tokenRequest(op, client, {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code') ?? '',
    redirect_uri: client.redirectUris[0] ?? '',
    code_verifier: codeVerifier,
  })
  expect(response.status, await response.clone().text()).toBe(200)
  return (await response.json()) as TokenResponse
}

/**
 * An app's back-channel logout endpoint on 127.0.0.1: the logout tokens it received, the client
 * `WEB_CLIENT` registered with it, and what stops it. It answers `status`.
 */
export async function logoutReceiver(status = 200): Promise<{
  received: string[]
  client: DevClient
  close(): void
}> {
  const received: string[] = []
  const app = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      received.push(new URLSearchParams(body).get('logout_token') ?? '')
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  const client: DevClient = {
    ...WEB_CLIENT,
    backchannelLogoutUri: `http://127.0.0.1:${(app.address() as AddressInfo).port}/backchannel`,
    backchannelLogoutSessionRequired: true,
  }
  return { received, client, close: () => app.close() }
}
