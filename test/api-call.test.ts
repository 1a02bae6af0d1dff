/**
 * GET /api/call (examples/README.md) on every harness: the example calls API_URL with the
 * session's access token through the adapter's `fetch` (`req.auth.fetch`, `ctx.state.auth.fetch`,
 * the route handler's `fetch` in Next.js), and the API checks the token at the provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { signIn } from './support/flow.js'
import { type ResourceServer, startResourceServer } from './support/resource-server.js'
import { type Stack, startStack } from './support/stack.js'

describe.each(harnesses)('/api/call ($name)', (harness) => {
  let resource: ResourceServer
  let stack: Stack
  let forbidden: Stack
  beforeAll(async () => {
    resource = await startResourceServer()
    stack = await startStack(harness, { apiUrl: `${resource.url}/me` })
    forbidden = await startStack(harness, { apiUrl: `${resource.url}/forbidden` })
    // both stacks' tokens are checked at the first one's provider: only its tokens pass
    resource.issuer = stack.provider.issuer
  })
  afterAll(async () => {
    await stack?.close()
    await forbidden?.close()
    await resource?.close()
  })

  it("calls the API with the session's bearer token, which the API verifies at the provider", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const before = resource.calls.length
    const response = await browser.request(`${stack.baseUrl}/api/call`)
    expect(response.status).toBe(200)
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.json()).toEqual({ status: 200, body: { sub: 'alice' } })
    expect(resource.calls.slice(before)).toHaveLength(1)
    expect(resource.calls.at(-1)).toMatch(/^Bearer [\w.~+/-]+=*$/)
  })

  it("answers the API's own refusal as it came: 200 with its status and body", async () => {
    const browser = forbidden.browser()
    await signIn(browser, forbidden.baseUrl)
    const response = await browser.request(`${forbidden.baseUrl}/api/call`)
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ status: 403, body: { error: 'forbidden' } })
  })

  it('answers an anonymous request with 401 JSON and calls nothing', async () => {
    const before = resource.calls.length
    const response = await stack.browser().request(`${stack.baseUrl}/api/call`)
    expect(response.status).toBe(401)
    expect(response.json()).toMatchObject({ error: 'unauthenticated' })
    expect(resource.calls.length).toBe(before)
  })
})

describe.each(harnesses)('/api/call without a reachable API ($name)', (harness) => {
  let down: Stack
  let unset: Stack
  beforeAll(async () => {
    // port 9 (discard) on loopback: nothing listens there
    down = await startStack(harness, { apiUrl: 'http://127.0.0.1:9/api' })
    unset = await startStack(harness)
  })
  afterAll(async () => {
    await down?.close()
    await unset?.close()
  })

  it('answers 502 JSON when the API cannot be reached', async () => {
    const browser = down.browser()
    await signIn(browser, down.baseUrl)
    const response = await browser.request(`${down.baseUrl}/api/call`)
    expect(response.status).toBe(502)
    expect(response.json()).toMatchObject({ error: 'resource_unreachable' })
  })

  it('answers 404 JSON without API_URL', async () => {
    const browser = unset.browser()
    await signIn(browser, unset.baseUrl)
    const response = await browser.request(`${unset.baseUrl}/api/call`)
    expect(response.status).toBe(404)
    expect(response.json()).toMatchObject({ error: 'not_found' })
  })
})
