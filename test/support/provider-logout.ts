/** Signing out at the dev provider, and what a provider knows about a browser's session there. */
import type { DevProvider } from '@codeflow/dev-provider'
import type { Browser, BrowserResponse } from './browser.js'

/**
 * The provider session id (`sid`) the provider gave `clientId` for this browser's session at the
 * provider (its `op_session` cookie): what it puts in ID tokens, logout tokens and front-channel
 * logout URLs.
 */
export async function providerSid(
  provider: DevProvider,
  browser: Browser,
  clientId: string,
): Promise<string> {
  const cookie = browser.cookie(provider.issuer, 'op_session')
  if (!cookie) throw new Error('this browser has no session at the provider')
  const session = await provider.provider.Session.find(cookie.value)
  const sid = session?.sidFor(clientId)
  if (!sid) throw new Error(`the provider session has no sid for "${clientId}"`)
  return sid
}

/**
 * Signs out at the provider like a person on its own logout page: GET /session/end, then "Yes,
 * sign me out" (`logout=yes`: the whole provider session). The provider POSTs a logout token to
 * the back-channel logout URI of every client of the session before it answers; resolves with
 * its answer and the back-channel deliveries (`ok` false when the app did not answer 200).
 */
export async function signOutAtProvider(
  provider: DevProvider,
  browser: Browser,
): Promise<{ response: BrowserResponse; deliveries: { clientId: string; ok: boolean }[] }> {
  const deliveries: { clientId: string; ok: boolean }[] = []
  const success = (_ctx: unknown, client: { clientId: string }) =>
    deliveries.push({ clientId: client.clientId, ok: true })
  const failure = (_ctx: unknown, _error: unknown, client: { clientId: string }) =>
    deliveries.push({ clientId: client.clientId, ok: false })
  provider.provider.on('backchannel.success', success)
  provider.provider.on('backchannel.error', failure)
  try {
    return { response: await confirmLogoutAt(provider.issuer, browser), deliveries }
  } finally {
    provider.provider.off('backchannel.success', success)
    provider.provider.off('backchannel.error', failure)
  }
}

/** The dev provider's logout page at `issuer`, confirmed with "Yes, sign me out". */
export async function confirmLogoutAt(issuer: string, browser: Browser): Promise<BrowserResponse> {
  const page = await browser.navigate(`${issuer}/session/end`)
  const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1]
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1]
  if (!action || !xsrf) throw new Error(`no logout form at the provider: ${page.body}`)
  return browser.postForm(new URL(action, page.url), { xsrf, logout: 'yes' })
}
