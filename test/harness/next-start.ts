/**
 * The Next.js example as users run it: `next start` of its production build, as a child process
 * configured by the environment of examples/README.md, stopped by PID. `pnpm test` builds it first.
 *
 * With a test clock (no environment variable can carry a function), the child is started with
 * test/support/clock-preload.mjs, which makes its Date.now follow the clock, and an IPC channel
 * over which each advance reaches it. Next.js 16 `next start` serves requests in that very process
 * (start-server.js runs the router server in-process and requires the built Node.js proxy, no
 * forked worker): test/clock.test.ts checks that the process that listens is the one whose clock
 * moved, and that its answers follow the clock.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AuthOptions } from '@codeflow/core'
import { attachProcess, preloadArguments } from '../support/clock.js'
import { spawnProcess, waitForOutput } from '../support/process.js'
import type { Harness } from './harness.js'

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/next')
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/**
 * The environment that configures the example as `auth` does (examples/README.md and the examples'
 * settings). An option without an environment variable fails the scenario loudly rather than
 * being dropped.
 */
export function exampleEnvironment(options: AuthOptions): Record<string, string> {
  const { auth, more } = providersOf(options)
  const {
    issuer,
    clientId,
    clientSecret,
    clientAuth,
    clientPrivateKey,
    clientCertificate,
    pushedAuthorizationRequests,
    requestObjects,
    dpop,
    attemptSilentLogin,
    baseUrl,
    secret,
    scope,
    allowInsecureRequests,
    idTokenSigningAlg,
    httpTimeout,
    refreshMargin,
    fetchUserinfo,
    session = {},
    ...rest
  } = auth
  const { absoluteDuration, idleDuration, persistent, ...restOfSession } = session
  const { cert, key, ca, ...restOfCertificate } = clientCertificate ?? {}
  const unsupported = [
    ...more.unsupported,
    ...Object.keys(rest),
    ...Object.keys(restOfSession).map((key) => `session.${key}`),
    ...Object.keys(restOfCertificate).map((key) => `clientCertificate.${key}`),
  ]
  // the certificate and key go in files (OIDC_CLIENT_CERT, OIDC_CLIENT_CERT_KEY); the CA the
  // servers' certificates chain to is Node's NODE_EXTRA_CA_CERTS (examples/README.md)
  const files: Record<string, string> = {}
  if (clientCertificate) {
    const dir = mkdtempSync(join(tmpdir(), 'codeflow-next-start-'))
    const write = (
      name: string,
      text: string | Uint8Array | ReadonlyArray<string | Uint8Array>,
    ) => {
      const path = join(dir, name)
      const parts = Array.isArray(text) ? text : [text]
      writeFileSync(path, parts.map((part) => Buffer.from(part).toString('utf8')).join('\n'))
      return path
    }
    files.OIDC_CLIENT_CERT = write('client.pem', cert as string)
    files.OIDC_CLIENT_CERT_KEY = write('client-key.pem', key as string)
    if (ca !== undefined) files.NODE_EXTRA_CA_CERTS = write('ca.pem', ca)
  }
  const issuerUrl = new URL(String(issuer))
  // the example allows an http issuer exactly on loopback (examples/README.md)
  const insecure = issuerUrl.protocol === 'http:' && LOOPBACK.has(issuerUrl.hostname)
  if ((allowInsecureRequests ?? false) !== insecure) unsupported.push('allowInsecureRequests')
  if (unsupported.length > 0) {
    throw new Error(`the next-start harness has no environment variable for ${unsupported}`)
  }
  const optional: Record<string, string | number | boolean | undefined> = {
    OIDC_CLIENT_SECRET: clientSecret,
    OIDC_CLIENT_AUTH: clientAuth,
    OIDC_CLIENT_PRIVATE_KEY:
      clientPrivateKey === undefined ? undefined : JSON.stringify(clientPrivateKey),
    OIDC_PAR: pushedAuthorizationRequests,
    OIDC_JAR: requestObjects,
    OIDC_DPOP: dpop,
    ATTEMPT_SILENT_LOGIN: attemptSilentLogin,
    OIDC_SCOPE: scope,
    OIDC_ID_TOKEN_SIGNING_ALG: idTokenSigningAlg,
    OIDC_HTTP_TIMEOUT: httpTimeout,
    OIDC_FETCH_USERINFO: fetchUserinfo,
    ACCESS_TOKEN_REFRESH_MARGIN: refreshMargin,
    SESSION_ABSOLUTE_DURATION: absoluteDuration,
    SESSION_IDLE_DURATION: idleDuration === false ? 'off' : idleDuration,
    SESSION_PERSISTENT: persistent,
    OIDC_PROVIDERS: more.providers,
  }
  const env: Record<string, string> = {
    APP_BASE_URL: String(baseUrl),
    OIDC_ISSUER: String(issuer),
    OIDC_CLIENT_ID: String(clientId),
    SESSION_SECRET: typeof secret === 'string' ? secret : JSON.stringify(secret),
    ...files,
  }
  for (const [name, value] of Object.entries(optional)) {
    if (value !== undefined) env[name] = String(value)
  }
  return env
}

/**
 * `options` with the first of its `providers` at the top level (the example's OIDC_ISSUER and
 * the rest), and the others as OIDC_PROVIDERS, with the hosts of a `resolveByHost` resolver.
 */
function providersOf(options: AuthOptions): {
  auth: AuthOptions
  more: { providers: string | undefined; unsupported: string[] }
} {
  const { providers, resolveProvider, maxCachedProviders, ...common } = options
  if (providers === undefined)
    return { auth: options, more: { providers: undefined, unsupported: [] } }
  const unsupported: string[] = []
  if (maxCachedProviders !== undefined) unsupported.push('maxCachedProviders')
  const hosts = (resolveProvider as { hosts?: Record<string, string[]> } | undefined)?.hosts
  if (resolveProvider !== undefined && hosts === undefined) unsupported.push('resolveProvider')
  const [first, ...others] = providers
  const { id, ...client } = first ?? { issuer: '', clientId: '' }
  if (id !== undefined) unsupported.push('providers[0].id')
  const extras = others.map((provider, index) => {
    const { id, issuer, clientId, clientSecret, clientAuth, ...rest } = provider
    unsupported.push(...Object.keys(rest).map((key) => `providers[${index + 1}].${key}`))
    const names = hosts?.[id ?? new URL(String(issuer)).href]
    return {
      ...(id === undefined ? {} : { id }),
      issuer: String(issuer),
      clientId,
      ...(clientSecret === undefined ? {} : { clientSecret }),
      ...(clientAuth === undefined ? {} : { clientAuth }),
      ...(names === undefined ? {} : { hosts: names }),
    }
  })
  return {
    auth: { ...common, ...client } as AuthOptions,
    more: { providers: JSON.stringify(extras), unsupported },
  }
}

/** The built Next.js example under `next start`, in its own process. */
export const nextStartHarness: Harness = {
  name: 'next-start',
  async start({ port, auth, redisUrl, redisSessions, clock, apiUrl, example = {} }) {
    if (!existsSync(resolve(exampleDir, '.next/BUILD_ID'))) {
      throw new Error(
        'examples/next is not built: run `pnpm test` or `pnpm --dir examples/next build`',
      )
    }
    const preload = clock === undefined ? { args: [], env: {} } : preloadArguments(clock)
    const app = spawnProcess(
      'node',
      // what `pnpm start` runs: `next start` bound to HOST, a loopback address by default
      [...preload.args, 'scripts/start.mjs'],
      {
        cwd: exampleDir,
        env: {
          ...exampleEnvironment(auth),
          ...(redisUrl === undefined
            ? {}
            : typeof redisUrl === 'string'
              ? { REDIS_URL: redisUrl }
              : { REDIS_CLUSTER_NODES: redisUrl.cluster.join(',') }),
          ...(redisSessions === false ? { SESSION_STORE: 'cookie' } : {}),
          ...(apiUrl === undefined ? {} : { API_URL: apiUrl }),
          ...(example.adminGroup === undefined ? {} : { ADMIN_GROUP: example.adminGroup }),
          ...(example.stepUpMaxAge === undefined
            ? {}
            : { STEP_UP_MAX_AGE: String(example.stepUpMaxAge) }),
          ...(example.stepUpAcr === undefined ? {} : { STEP_UP_ACR: example.stepUpAcr }),
          ...preload.env,
          PORT: String(port),
          NEXT_TELEMETRY_DISABLED: '1',
        },
        ipc: clock !== undefined,
      },
    )
    const detach = clock === undefined ? () => undefined : attachProcess(clock, app.child)
    const stop = async () => {
      detach()
      await app.stop()
    }
    try {
      // the banner comes from instrumentation.ts, which runs before the first request is served
      await waitForOutput(app, /press Ctrl\+C/)
    } catch (error) {
      await stop()
      throw error
    }
    return { pid: app.child.pid, output: () => app.output(), close: stop }
  },
}
