import { banner, EnvironmentError, loadExampleConfig } from '@codeflow/example-shared'
import { createApp } from './app.js'

try {
  const config = await loadExampleConfig()
  const app = createApp(config.auth)
  const server = app.listen(config.port, config.host ?? '::', () =>
    console.log(banner('Koa', config)),
  )
  const stop = () => {
    server.close()
    server.closeAllConnections()
    void config.close()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
} catch (error) {
  if (!(error instanceof EnvironmentError || (error as Error).name === 'ConfigurationError'))
    throw error
  console.error(`codeflow example: ${(error as Error).message}`)
  process.exitCode = 1
}
