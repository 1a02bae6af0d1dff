import {
  type ExampleSettings,
  readExampleSettings,
  type SettingsOptions,
} from '@codeflow/example-shared/settings'

/**
 * How the Next.js example reads the environment of examples/README.md. Every module instance of the app (the
 * proxy, the pages, the route handlers, instrumentation) reads it and must compute the same
 * issuer, so the embedded dev provider listens on a port known in advance: DEV_PROVIDER_PORT,
 * else PORT + 1. `next start` always sets NODE_ENV=production, whatever the user set, so the
 * development secret is accepted exactly when the embedded dev provider is used (no OIDC_ISSUER).
 */
export function settingsOptions(source: NodeJS.ProcessEnv = process.env): SettingsOptions {
  return {
    devProviderPort: Number(source.PORT || 3000) + 1,
    production: Boolean(source.OIDC_ISSUER),
  }
}

/** The example's settings, from `process.env`. */
export function nextExampleSettings(source: NodeJS.ProcessEnv = process.env): ExampleSettings {
  return readExampleSettings(source, settingsOptions(source))
}
