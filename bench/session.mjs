// The in-process benchmarks' app and session (bench/inprocess.mjs, bench/cold.mjs): one app, a
// session the size of the HTTP benchmarks' (ID, access and refresh tokens, ~300 B of claims), and
// a session read as the Express and Koa adapters make it.
import { randomBytes } from 'node:crypto'
import { createAuth } from '@codeflow/core'
import { authenticate, createNodeContext } from '@codeflow/core/adapter'

export const SECRET = 'a-benchmark-secret-of-at-least-32-characters'
export const ISSUER = 'http://127.0.0.1:9'
export const auth = createAuth({
  issuer: ISSUER,
  clientId: 'bench',
  clientSecret: 'bench-secret',
  baseUrl: 'http://127.0.0.1:3000',
  secret: SECRET,
  allowInsecureRequests: true,
})

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')
const now = () => Math.floor(Date.now() / 1000)

/** Session `n`: its own user, provider session, id and tokens. */
export function benchSession(n) {
  const t = now()
  const sub = `user-${n}`
  const claims = {
    iss: ISSUER,
    sub,
    aud: 'bench',
    iat: t,
    exp: t + 3600,
    sid: `sid-${n}`,
    name: 'Alice Example',
    email: 'alice@example.com',
    email_verified: true,
    org: 'Example Organisation',
    roles: ['reader', 'writer', 'reviewer'],
    department: 'Research and Development',
    locale: 'en-GB',
    zoneinfo: 'Europe/London',
    picture: 'https://example.com/avatars/alice-example-profile.png',
  }
  const sig = randomBytes(256).toString('base64url')
  return {
    id: randomBytes(16).toString('base64url'),
    iss: ISSUER,
    sub,
    sid: `sid-${n}`,
    idToken: `${b64({ alg: 'RS256', kid: 'k1' })}.${b64(claims)}.${sig}`,
    accessToken: `${b64({ alg: 'RS256', typ: 'at+jwt' })}.${b64({ ...claims, scope: 'openid profile email', client_id: 'bench', jti: randomBytes(16).toString('hex') })}.${sig}`,
    tokenType: 'bearer',
    expiresAt: t + 3600,
    refreshToken: randomBytes(32).toString('base64url'),
    scope: 'openid profile email offline_access',
    createdAt: t,
    updatedAt: t,
  }
}

/** The context Express and Koa build, over the least of a Node request that a session read uses. */
function context(header) {
  const req = { method: 'GET', url: '/api/me', headers: { cookie: header } }
  // the least of a response that a session read uses (Vary: Cookie)
  const res = { headersSent: false, getHeader: () => undefined, setHeader: () => undefined }
  return createNodeContext(req, res, 'http://127.0.0.1:3000')
}

/** The session of the Cookie header `header`, read as the adapters do (at once on a cache hit). */
export async function read(header) {
  const session = (await authenticate(auth, context(header))).auth?.session
  if (!session) throw new Error('the benchmark session did not read back')
  return session
}
