export { type ApiCallAnswer, callApi, type ExampleOptions } from './api-call.js'
/** What the example apps share: configuration from the environment, pages, start-up banner. */

export { banner } from './banner.js'
export { type ExampleConfig, loadExampleConfig } from './config.js'
export { homePage, internalErrorPage, profilePage } from './pages.js'
export { type RedisConnection, redisConnection } from './redis.js'
export { type Listener, serveExample } from './serve.js'
export {
  DEV_CLIENT,
  EnvironmentError,
  type ExampleSettings,
  readExampleSettings,
  type SettingsOptions,
} from './settings.js'
