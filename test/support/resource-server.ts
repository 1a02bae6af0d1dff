/**
 * A resource server for the tests of `fetch` with the session's token (the examples' /api/call):
 * it checks each bearer token at the provider's userinfo endpoint and answers the token's subject;
 * `/forbidden` answers 403 JSON of its own. Bound to 127.0.0.1, stopped with `close`.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ResourceServer {
  readonly url: string
  /** the Authorization header of every request, in order */
  readonly calls: string[]
  /** the provider whose userinfo endpoint checks the tokens (known once the provider runs) */
  issuer: string
  close(): Promise<void>
}

export async function startResourceServer(): Promise<ResourceServer> {
  const calls: string[] = []
  const state = { issuer: '' }
  const server = createServer(async (req, res) => {
    const header = req.headers.authorization ?? ''
    calls.push(header)
    if (req.url === '/forbidden') {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"forbidden"}')
      return
    }
    const info = await fetch(`${state.issuer}/me`, { headers: { authorization: header } })
    const body = info.ok ? { sub: ((await info.json()) as { sub: string }).sub } : {}
    res.writeHead(info.status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    get issuer() {
      return state.issuer
    },
    set issuer(value: string) {
      state.issuer = value
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
