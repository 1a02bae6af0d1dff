/**
 * One of codeflow's routes: the methods it accepts and what answers them. `serve` is the one
 * place that refuses other methods (405 with `Allow`), whether a request comes through the route
 * table or an app calls a handler itself.
 */
import type { App } from '../auth.js'
import { AuthError, MethodNotAllowedError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import type { AuthResponse } from '../http/responses.js'
import { promised } from '../maybe.js'

/** A route's methods: HEAD is accepted wherever GET is. */
export type RouteMethod = 'GET' | 'POST'

/** A route, with the options an app may pass to its handler. */
export interface Route<Options = undefined> {
  readonly methods: readonly RouteMethod[]
  /** answers a request whose method the route accepts */
  handle(app: App, ctx: HttpContext, options: Options | undefined): Promise<AuthResponse>
  /** renders the route's own errors instead of throwing them (a spec's error format) */
  readonly renderError?: (app: App, error: AuthError) => AuthResponse
}

/** What answers a route's requests. */
export type RouteHandler<Options = undefined> = Route<Options>['handle']

function accepts(route: Route<never>, method: string): boolean {
  const methods: readonly string[] = route.methods
  return methods.includes(method) || (method === 'HEAD' && methods.includes('GET'))
}

/** Answers `ctx` with `route`; a method it does not accept is a `MethodNotAllowedError`. */
export function serve<Options>(
  app: App,
  route: Route<Options>,
  ctx: HttpContext,
  options?: Options,
): Promise<AuthResponse> {
  const answer = accepts(route, ctx.method)
    ? promised(() => route.handle(app, ctx, options))
    : Promise.reject(new MethodNotAllowedError(route.methods))
  const { renderError } = route
  if (!renderError) return answer
  return answer.catch((error: unknown) => {
    if (!(error instanceof AuthError)) throw error
    return renderError(app, error)
  })
}
