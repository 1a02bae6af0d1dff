import type { AuthOptions, ProviderOptions } from '@codeflow/core'
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { readExampleSettings, type SettingsOptions } from './settings.js'

/** An example app's configuration, read from the environment as examples/README.md says. */
export interface ExampleConfig {
  readonly port: number
  /** API_URL: the resource server `/api/call` calls */
  readonly apiUrl: string | undefined
  readonly adminGroup: string | undefined
  readonly stepUpMaxAge: number | undefined
  readonly stepUpAcr: string | undefined
  /** the address to listen on: HOST, else 127.0.0.1 for a loopback base URL, else every interface */
  readonly host: string | undefined
  readonly baseUrl: string
  readonly auth: AuthOptions
  /** the embedded provider, when OIDC_ISSUER was unset */
  readonly devProvider: DevProvider | undefined
  /** stops what the configuration started (the dev provider, the Redis connection) */
  close(): Promise<void>
}

/**
 * Reads the example's configuration from `source` (default `process.env`) with
 * `readExampleSettings`; without OIDC_ISSUER it starts the embedded dev provider with the
 * example's client registered.
 */
export async function loadExampleConfig(
  source: NodeJS.ProcessEnv = process.env,
  options: SettingsOptions = {},
): Promise<ExampleConfig> {
  const { devProvider: dev, redis, ...settings } = readExampleSettings(source, options)
  const devProvider = dev
    ? await startDevProvider({
        port: dev.port,
        clients: [dev.client],
        require: dev.require,
        ...(dev.tls ? { tls: dev.tls } : {}),
        claims: dev.claims,
        claimNames: ['groups'],
        ...(dev.acrValues ? { acrValues: dev.acrValues } : {}),
      })
    : undefined
  return {
    ...settings,
    devProvider,
    auth: devProvider ? withIssuer(settings.auth, devProvider.issuer) : settings.auth,
    async close() {
      await redis?.close()
      await devProvider?.close()
    },
  }
}

/** `auth` signing in with the embedded dev provider at `issuer` (the first provider, with several). */
function withIssuer(auth: AuthOptions, issuer: string): AuthOptions {
  if (auth.providers === undefined) return { ...auth, issuer }
  const [first, ...others] = auth.providers
  return { ...auth, providers: [{ ...(first as ProviderOptions), issuer }, ...others] }
}
