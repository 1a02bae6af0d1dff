import { ConfigurationError, createAuth } from '@codeflow/core'
import { banner, EnvironmentError, loadExampleConfig } from '@codeflow/example-shared'
import { settingsOptions } from './settings'

/**
 * Runs once when the server starts (instrumentation.ts): reads and checks the configuration, so
 * that a bad one stops the server with a message naming the variable or option; starts the
 * embedded dev provider on its known port when OIDC_ISSUER is unset; prints the banner.
 */
export async function startExample(): Promise<void> {
  try {
    const config = await loadExampleConfig(process.env, settingsOptions())
    createAuth(config.auth)
    console.log(banner('Next.js', config))
    const stop = () => void config.devProvider?.close()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  } catch (error) {
    // a server that cannot sign anyone in must not keep running
    if (error instanceof EnvironmentError || error instanceof ConfigurationError) {
      console.error(`codeflow example: ${error.message}`)
    } else {
      console.error(error)
    }
    process.exit(1)
  }
}
