/**
 * GET /api/call (examples/README.md): the example calls API_URL with the session's access token
 * and answers what the API said. The adapters' `fetch` attaches the token, refreshes it first when
 * it is about to expire, and throws a 502 (504 on a timeout) when the API cannot be reached, which
 * their error handlers answer.
 */

import type { GuardOptions } from '@codeflow/core'

/** What an example's `/api/call` answers. */
export interface ApiCallAnswer {
  readonly status: number
  readonly body: unknown
}

/** The example's options beyond codeflow's. */
export interface ExampleOptions {
  /** API_URL: the resource server `/api/call` calls; unset, `/api/call` answers 404 */
  readonly apiUrl?: string | undefined
  /** ADMIN_GROUP: what the `groups` claim must include for `/admin`; default `admin` */
  readonly adminGroup?: string | undefined
  /** STEP_UP_MAX_AGE: seconds `/step-up`'s authentication may be old; default 300 */
  readonly stepUpMaxAge?: number | undefined
  /** STEP_UP_ACR: the `acr` `/step-up` needs too; default none */
  readonly stepUpAcr?: string | undefined
}

/** The guard of `/admin` and `/api/admin`: `groups` (an array or a string) must include the group. */
export function adminGuard(example: ExampleOptions): GuardOptions {
  return { claims: { groups: { includes: example.adminGroup ?? 'admin' } } }
}

/** The guard of `/step-up`: a recent authentication, of `STEP_UP_ACR` when it is set. */
export function stepUpGuard(example: ExampleOptions): GuardOptions {
  return {
    maxAge: example.stepUpMaxAge ?? 300,
    ...(example.stepUpAcr === undefined ? {} : { acr: example.stepUpAcr }),
  }
}

/**
 * Calls `apiUrl` (GET) through `fetchWithToken` and answers 200 with the API's status and body
 * (JSON when it says so, else text); 404 JSON when there is no API_URL.
 */
export async function callApi(
  apiUrl: string | undefined,
  fetchWithToken: (url: string) => Promise<Response>,
): Promise<ApiCallAnswer> {
  if (apiUrl === undefined) {
    return { status: 404, body: { error: 'not_found', error_description: 'API_URL is not set' } }
  }
  const upstream = await fetchWithToken(apiUrl)
  const type = upstream.headers.get('content-type') ?? ''
  const text = await upstream.text()
  let body: unknown = text
  if (/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    try {
      body = JSON.parse(text)
    } catch {
      // the API said JSON and sent something else: its text as it is
    }
  }
  return { status: 200, body: { status: upstream.status, body } }
}
