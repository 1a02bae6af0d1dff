/**
 * The Next.js adapter in-process: a small node:http server turns each request into a Web
 * `Request` and does what Next.js does with an app built like examples/next, route for route. The
 * login, callback, logout and back- and front-channel logout routes are route handlers here (`codeflow.handlers`, the alternative
 * to serving them from the proxy, which the example does); every other path goes through
 * `codeflow.proxy` first, as the example's matcher says, then to the example's own /api/me and
 * /api/token handlers, or to the pages, rendered from the same adapter calls as the example's
 * Server Components (`getSession`, `requireAuth`) with the shared example pages.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { homePage, profilePage } from '@codeflow/example-shared'
import { createCodeflow, type RouteHandler } from '@codeflow/next'
import {
  adminRoute,
  apiAdminRoute,
  callRoute,
  meRoute,
  stepUpRoute,
  tokenRoute,
} from '../../examples/next/lib/routes.js'
import { type Harness, inProcessOptions } from './harness.js'

function html(body: string): Response {
  return new Response(body, { headers: { 'content-type': 'text/html; charset=utf-8' } })
}

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string
    const value = req.rawHeaders[i + 1] as string
    // several Cookie headers are one list (RFC 6265 §5.4)
    if (name.toLowerCase() === 'cookie' && headers.has('cookie')) {
      headers.set('cookie', `${headers.get('cookie')}; ${value}`)
    } else headers.append(name, value)
  }
  const parts: Buffer[] = []
  for await (const chunk of req) parts.push(chunk as Buffer)
  const method = req.method ?? 'GET'
  const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.concat(parts)
  return new Request(new URL(req.url ?? '/', origin), { method, headers, body })
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {}
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  res.writeHead(response.status, headers)
  res.end(Buffer.from(await response.arrayBuffer()))
}

/**
 * What Next.js does with the proxy's answer: a `NextResponse.next()` lets the request through,
 * with the request headers the proxy overrode, and its own response headers added to the route's
 * response; anything else is the response.
 */
async function throughProxy(
  proxy: (request: Request) => Promise<Response>,
  request: Request,
  route: (request: Request) => Promise<Response>,
): Promise<Response> {
  const proxied = await proxy(request)
  if (proxied.headers.get('x-middleware-next') !== '1') return proxied
  let headers = request.headers
  const overridden = proxied.headers.get('x-middleware-override-headers')
  if (overridden !== null) {
    headers = new Headers()
    for (const name of overridden.split(',')) {
      const value = proxied.headers.get(`x-middleware-request-${name}`)
      if (value !== null) headers.set(name, value)
    }
  }
  const response = await route(new Request(request.url, { method: request.method, headers }))
  const merged = new Response(response.body, response)
  for (const cookie of proxied.headers.getSetCookie()) merged.headers.append('set-cookie', cookie)
  proxied.headers.forEach((value, name) => {
    if (name === 'set-cookie' || name.startsWith('x-middleware-')) return
    if (!merged.headers.has(name)) merged.headers.set(name, value)
  })
  return merged
}

/** The adapter's route handlers and proxy, and the example's routes, served by node:http. */
export const nextHandlersHarness: Harness = {
  name: 'next-handlers',
  async start(options) {
    const { apiUrl, example = {} } = options
    const { auth, close } = inProcessOptions(options)
    // as examples/next/lib/codeflow.ts
    const codeflow = createCodeflow(auth, {
      protect: [{ path: '/profile', unauthenticated: 'redirect' }],
    })
    const { GET, POST } = codeflow.handlers
    // app/login/route.ts and so on: what each exports, by method
    const authRoutes: Record<string, Record<string, RouteHandler>> = {
      '/login': { GET },
      '/callback': { GET },
      '/logout': { GET, POST },
      '/backchannel-logout': { POST },
      '/frontchannel-logout': { GET },
    }
    // behind the proxy: app/page.tsx, app/profile/page.tsx, app/api/*/route.ts
    const appRoutes: Record<string, RouteHandler> = {
      '/': async (request) => html(homePage((await codeflow.getSession(request))?.user)),
      '/profile': codeflow.requireAuth((_request, { session }) => html(profilePage(session.user)), {
        unauthenticated: 'redirect',
      }),
      '/api/me': meRoute(codeflow),
      '/api/token': tokenRoute(codeflow),
      '/api/call': callRoute(codeflow, () => apiUrl),
      '/admin': adminRoute(codeflow, () => example),
      '/api/admin': apiAdminRoute(codeflow, () => example),
      '/step-up': stepUpRoute(codeflow, () => example),
    }
    const context = { params: Promise.resolve({}) }
    async function handle(request: Request): Promise<Response> {
      const path = new URL(request.url).pathname
      const methods = authRoutes[path]
      if (methods) {
        const handler = methods[request.method === 'HEAD' ? 'GET' : request.method]
        // as Next.js answers a method the route file does not export
        if (!handler) return new Response(null, { status: 405, headers: { allow: 'GET, POST' } })
        return handler(request, context)
      }
      const page = appRoutes[path]
      return throughProxy(codeflow.proxy, request, async (forwarded) =>
        page ? page(forwarded, context) : new Response('not found', { status: 404 }),
      )
    }
    const server = createServer(async (req, res) => {
      try {
        await send(res, await handle(await toRequest(req, String(auth.baseUrl))))
      } catch (error) {
        // what Next.js does with an error a route throws: a 500 without details
        console.error(error)
        if (!res.headersSent) res.writeHead(500)
        res.end()
      }
    })
    server.listen(options.port, '127.0.0.1')
    await once(server, 'listening')
    return {
      async close() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
        await close()
      },
    }
  },
}
