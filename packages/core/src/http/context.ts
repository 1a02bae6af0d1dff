import type { IncomingMessage, ServerResponse } from 'node:http'
import { BodyTooLargeError } from '../errors.js'
import { type SetCookie, varyWithCookie, writeCookieHeaders } from './cookies.js'
import { type RequestState, STATE } from './request-state.js'

/**
 * What the core needs from a request: the boundary every adapter implements. A small context,
 * not a full Node-to-Web bridge.
 */
export interface HttpContext {
  /** the request URL as the browser saw it; only its path and query are used */
  readonly url: URL
  /**
   * optional: the path of the request target as received (before any `?`), so that a request
   * that is not for codeflow's routes is told apart without parsing its URL; the core uses it
   * only when it has no character the URL parser would change (else `url.pathname`)
   */
  readonly path?: string | undefined
  /** the request method, upper case */
  readonly method: string
  /** the request headers; the core parses `Cookie` itself */
  readonly headers: Headers
  /**
   * optional: the request's `Cookie` header (repeated headers joined with "; "), read without
   * building `headers`; the hot path of a session read needs nothing else
   */
  cookieHeader?(): string | null | undefined
  /** reads a urlencoded form body (only POST routes call it) */
  readForm(): Promise<URLSearchParams>
  /** appends a `Set-Cookie` to the response; `cookie.header` is already serialized */
  setCookie(cookie: SetCookie): void
  /**
   * optional: the response depends on the request's cookies (the core read the session), so a
   * cache must keep it apart per cookie: add `Cookie` to `Vary`. Called once per request.
   */
  varyOnCookie?(): void
}

/** The most bytes of form body the core reads. */
export const MAX_FORM_BYTES = 64 * 1024

/** Characters of a path that the URL parser keeps as they are (no dot segments, no escapes). */
const PLAIN_PATH = /^\/[A-Za-z0-9\-_~/]*$/

/** The request's path, as `url.pathname` has it: without parsing the URL when it is plain. */
export function requestPath(ctx: HttpContext): string {
  const path = ctx.path
  return path !== undefined && PLAIN_PATH.test(path) ? path : ctx.url.pathname
}

function parseForm(contentType: string | null, body: string): URLSearchParams {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded') return new URLSearchParams()
  return new URLSearchParams(body)
}

function tooLarge(): BodyTooLargeError {
  return new BodyTooLargeError(MAX_FORM_BYTES)
}

/** A context over a Web `Request`, plus the cookies the core set, to copy onto the `Response`. */
export interface WebContext extends HttpContext {
  /** the cookies set during this request, in order */
  readonly cookies: readonly SetCookie[]
  /** whether the response depends on the request's cookies (see `varyOnCookie`) */
  readonly varies: boolean
}

/**
 * Reads a body stream as UTF-8 text, refusing it as soon as it passes `MAX_FORM_BYTES`: a
 * chunked body (no `Content-Length`) is never read whole before the check.
 */
async function readCapped(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (body === null) return ''
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let size = 0
  let text = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return text + decoder.decode()
    size += value.byteLength
    if (size > MAX_FORM_BYTES) {
      // stop the sender: the rest of the body is never read
      reader.cancel().catch(() => undefined)
      throw tooLarge()
    }
    text += decoder.decode(value, { stream: true })
  }
}

/**
 * The context over a Web `Request`: a class, as the Node context, with the URL built only when
 * read and the path taken from the request's URL string without parsing it.
 */
class WebHttpContext implements WebContext {
  /** the core's per-request state, declared so that every context has the same shape */
  [STATE]: RequestState | undefined = undefined
  readonly cookies: SetCookie[] = []
  readonly method: string
  readonly path: string | undefined
  varies = false
  readonly #request: Request
  readonly #origin: string | undefined
  readonly #body: WebBody | undefined
  #url: URL | undefined

  constructor(request: Request, origin: string | undefined, body: WebBody | undefined) {
    this.#request = request
    this.#origin = origin
    this.#body = body
    this.method = request.method.toUpperCase()
    this.path = pathOf(request.url)
  }

  get url(): URL {
    if (this.#url === undefined) {
      const url = new URL(this.#request.url)
      this.#url =
        this.#origin === undefined ? url : urlFromTarget(this.#origin, url.pathname + url.search)
    }
    return this.#url
  }

  get headers(): Headers {
    return this.#request.headers
  }

  varyOnCookie(): void {
    this.varies = true
  }

  async readForm(): Promise<URLSearchParams> {
    const request = this.#body?.request() ?? this.#request
    const contentType = request.headers.get('content-type')
    if (request.bodyUsed) {
      // read already, by the app: what its framework kept of it, else nothing (a stream that ended)
      const read = await this.#body?.consumed()
      if (read === undefined) return new URLSearchParams()
      if (typeof read !== 'string') return read
      if (new TextEncoder().encode(read).byteLength > MAX_FORM_BYTES) throw tooLarge()
      return parseForm(contentType, read)
    }
    const declared = Number(request.headers.get('content-length') ?? 0)
    if (declared > MAX_FORM_BYTES) throw tooLarge()
    const body = await readCapped(request.body)
    return parseForm(contentType, body)
  }

  setCookie(cookie: SetCookie): void {
    this.cookies.push(cookie)
  }
}

/** The path of an absolute URL string (`scheme://host/path?query`), or undefined. */
function pathOf(href: string): string | undefined {
  const start = href.indexOf('/', href.indexOf('//') + 2)
  if (start === -1) return undefined
  const end = href.indexOf('?', start)
  const hash = href.indexOf('#', start)
  const stop = end === -1 ? hash : hash === -1 ? end : Math.min(end, hash)
  return stop === -1 ? href.slice(start) : href.slice(start, stop)
}

/**
 * Creates a context over a Web `Request` (Next.js, Hono, edge runtimes, tests). With `origin`
 * (the app's configured origin), the context's URL is the request's path and query on it, as
 * `createNodeContext` builds it: a server that made the request's URL from `Host` (Node's, behind
 * a proxy) gives no say to that header. Without it, the request's own URL. `body` says where the
 * form body is read when the framework may have read it first (see `WebBody`).
 */
export function createWebContext(request: Request, origin?: string, body?: WebBody): WebContext {
  return new WebHttpContext(request, origin, body)
}

/**
 * Where a Web context reads a form body, for a framework that may replace the request or read its
 * body before codeflow does (Hono: `c.req.raw`, `c.req.parseBody()`).
 */
export interface WebBody {
  /** the request as it is when the form is read (a body limit may have replaced it since) */
  request(): Request
  /**
   * what the app read of a body already used (its text, or its form fields), or `undefined`
   * when nothing of it was kept
   */
  consumed(): Promise<URLSearchParams | string | undefined> | undefined
}

function toHeaders(req: IncomingMessage): Headers {
  const headers = new Headers()
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string
    // Node joins repeated Cookie headers with "; " (RFC 6265 §5.4); keep that rule here
    if (name.toLowerCase() === 'cookie' && headers.has('cookie')) {
      headers.set('cookie', `${headers.get('cookie')}; ${raw[i + 1]}`)
    } else {
      headers.append(name, raw[i + 1] as string)
    }
  }
  return headers
}

/** What Express or Koa may already have parsed from the body. */
type ParsedBody = Record<string, unknown> | undefined

/**
 * The URL of a request target (`/path?query`) on `origin`. The core never uses the request's
 * `Host` or `X-Forwarded-*`: every absolute URL it emits is built on the configured base URL, so
 * there is no trust-proxy rule to get wrong. A target like `//evil.example/x` stays a path.
 */
export function urlFromTarget(origin: string, target: string): URL {
  const url = new URL(origin)
  const query = target.indexOf('?')
  url.pathname = query === -1 ? target : target.slice(0, query)
  url.search = query === -1 ? '' : target.slice(query)
  return url
}

/**
 * What a Node context writes its headers through: Node's `ServerResponse` itself, or a view of a
 * framework's reply that keeps headers of its own until it sends them (Fastify's), so that
 * codeflow's `Set-Cookie` joins the app's instead of being replaced by them. `appendHeader` is
 * called for `Set-Cookie` only.
 */
export interface ResponseHeaders {
  /** whether the headers are sent already (nothing can be added then) */
  readonly headersSent: boolean
  getHeader(name: string): number | string | readonly string[] | undefined
  setHeader(name: string, value: string): unknown
  appendHeader(name: string, value: string): unknown
}

/** A context over Node's `req`/`res`, plus the cookies the core set during this request. */
export interface NodeContext extends HttpContext {
  /** the cookies set during this request, in order (already appended to `res`) */
  readonly cookies: readonly SetCookie[]
}

type NodeRequest = IncomingMessage & { body?: unknown; originalUrl?: string }

/**
 * The context over Node's `req`/`res`: a class, so that every context has one shape (accessors
 * of an object literal made per request give each context a hidden class of its own), with the
 * URL and the headers built only when read.
 */
class NodeHttpContext implements NodeContext {
  /** the core's per-request state, declared so that every context has the same shape */
  [STATE]: RequestState | undefined = undefined
  readonly cookies: SetCookie[] = []
  readonly method: string
  readonly path: string
  readonly #req: NodeRequest
  readonly #res: ResponseHeaders
  readonly #origin: string
  readonly #target: string
  readonly #parsedBody: () => unknown
  #url: URL | undefined
  #headers: Headers | undefined

  constructor(
    req: NodeRequest,
    res: ResponseHeaders,
    origin: string,
    target: string,
    parsedBody: () => unknown,
  ) {
    this.#req = req
    this.#res = res
    this.#origin = origin
    this.#target = target
    this.#parsedBody = parsedBody
    this.method = (req.method ?? 'GET').toUpperCase()
    const query = target.indexOf('?')
    this.path = query === -1 ? target : target.slice(0, query)
  }

  get url(): URL {
    this.#url ??= urlFromTarget(this.#origin, this.#target)
    return this.#url
  }

  get headers(): Headers {
    this.#headers ??= toHeaders(this.#req)
    return this.#headers
  }

  cookieHeader(): string | undefined {
    // Node joins repeated Cookie headers with "; " (RFC 6265 §5.4), as toHeaders does
    return this.#req.headers.cookie
  }

  async readForm(): Promise<URLSearchParams> {
    const req = this.#req
    const parsed = this.#parsedBody() as ParsedBody
    if (parsed && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
      const form = new URLSearchParams()
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value === 'string') form.append(key, value)
      }
      return form
    }
    if (req.readableEnded) return new URLSearchParams()
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > MAX_FORM_BYTES) throw tooLarge()
    let size = 0
    const parts: Buffer[] = []
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_FORM_BYTES) throw tooLarge()
      parts.push(chunk as Buffer)
    }
    return parseForm(req.headers['content-type'] ?? null, Buffer.concat(parts).toString('utf8'))
  }

  varyOnCookie(): void {
    const res = this.#res
    if (res.headersSent) return
    const vary = res.getHeader('vary')
    res.setHeader('Vary', varyWithCookie(Array.isArray(vary) ? vary.join(', ') : vary?.toString()))
  }

  setCookie(cookie: SetCookie): void {
    this.cookies.push(cookie)
    const res = this.#res
    writeCookieHeaders(
      [cookie],
      (name, value) => res.appendHeader(name, value),
      (name, value) => res.setHeader(name, value),
    )
  }
}

/**
 * Creates a context over Node's `req`/`res` (Express and Koa share it). `origin` is the app's
 * configured origin; the path and query come from `target`, by default `req.originalUrl`
 * (Express) or `req.url`. Koa passes its `ctx.originalUrl`: a mounted sub-app rewrites `req.url`.
 * `parsedBody` returns what a body parser already read from the stream, by default `req.body`
 * (Express); Koa's parsers put it on `ctx.request.body`. Headers are written on `res`, or on what
 * stands for it (see `ResponseHeaders`: Fastify's reply).
 */
export function createNodeContext(
  req: NodeRequest,
  res: ServerResponse | ResponseHeaders,
  origin: string,
  target: string = req.originalUrl ?? req.url ?? '/',
  parsedBody: () => unknown = () => req.body,
): NodeContext {
  return new NodeHttpContext(req, res, origin, target, parsedBody)
}
