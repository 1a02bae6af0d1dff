import type { AuthOptions } from '@codeflow/core'
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'

/** The development secret used when SESSION_SECRET is unset (refused in production). */
const DEV_SECRET = 'codeflow-example-development-secret-not-for-production'
/** The client the embedded dev provider registers for the example. */
export const DEV_CLIENT = { clientId: 'codeflow-example', clientSecret: 'codeflow-example-secret' }

/** An example app's configuration, read from the environment as CONTRACT.md says. */
export interface ExampleConfig {
  readonly port: number
  /** the address to listen on: HOST, else 127.0.0.1 for a loopback base URL, else every interface */
  readonly host: string | undefined
  readonly baseUrl: string
  readonly auth: AuthOptions
  /** the embedded provider, when OIDC_ISSUER was unset */
  readonly devProvider: DevProvider | undefined
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** Thrown for an environment variable with a bad value; names the variable. */
export class EnvironmentError extends Error {}

function env(name: string, source: NodeJS.ProcessEnv): string | undefined {
  const value = source[name]
  return value === undefined || value === '' ? undefined : value
}

/**
 * Reads the example's configuration from `source` (default `process.env`): PORT, APP_BASE_URL,
 * OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_SCOPE, SESSION_SECRET. Without
 * OIDC_ISSUER it starts the embedded dev provider with the example's client registered.
 */
export async function loadExampleConfig(
  source: NodeJS.ProcessEnv = process.env,
): Promise<ExampleConfig> {
  const port = Number(env('PORT', source) ?? 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new EnvironmentError('PORT must be a port number')
  }
  const baseUrl = (env('APP_BASE_URL', source) ?? `http://localhost:${port}`).replace(/\/+$/, '')
  if (!URL.canParse(baseUrl)) throw new EnvironmentError('APP_BASE_URL must be a URL')
  const production = source.NODE_ENV === 'production'
  const secret = env('SESSION_SECRET', source)
  if (!secret && production) {
    throw new EnvironmentError('SESSION_SECRET must be set when NODE_ENV=production')
  }
  if (env('REDIS_URL', source)) {
    throw new EnvironmentError('REDIS_URL is not supported by this version of the examples yet')
  }

  let issuer = env('OIDC_ISSUER', source)
  let devProvider: DevProvider | undefined
  let clientId = env('OIDC_CLIENT_ID', source)
  let clientSecret = env('OIDC_CLIENT_SECRET', source)
  let scope = env('OIDC_SCOPE', source)
  if (!issuer) {
    devProvider = await startDevProvider({
      port: Number(env('DEV_PROVIDER_PORT', source) ?? 0),
      clients: [
        {
          ...DEV_CLIENT,
          redirectUris: [`${baseUrl}/callback`],
          postLogoutRedirectUris: [`${baseUrl}/`],
        },
      ],
    })
    issuer = devProvider.issuer
    clientId ??= DEV_CLIENT.clientId
    clientSecret ??= DEV_CLIENT.clientSecret
    scope ??= 'openid profile email offline_access'
  }
  if (!clientId) throw new EnvironmentError('OIDC_CLIENT_ID must be set with OIDC_ISSUER')
  let issuerUrl: URL
  try {
    issuerUrl = new URL(issuer)
  } catch {
    throw new EnvironmentError('OIDC_ISSUER must be a URL')
  }
  const host =
    env('HOST', source) ?? (LOOPBACK.has(new URL(baseUrl).hostname) ? '127.0.0.1' : undefined)
  return {
    port,
    host,
    baseUrl,
    devProvider,
    auth: {
      issuer,
      clientId,
      clientSecret,
      baseUrl,
      secret: secret ?? DEV_SECRET,
      scope: scope ?? 'openid profile email',
      // http issuers only on loopback, for development and tests (CONTRACT.md)
      allowInsecureRequests: issuerUrl.protocol === 'http:' && LOOPBACK.has(issuerUrl.hostname),
    },
  }
}
