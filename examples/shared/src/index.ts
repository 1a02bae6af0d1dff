export {
  type ApiCallAnswer,
  adminGuard,
  callApi,
  type ExampleOptions,
  stepUpGuard,
} from './api-call.js'
/** What the example apps share: configuration from the environment, pages, start-up banner. */

export { banner } from './banner.js'
export { type ExampleConfig, loadExampleConfig } from './config.js'
export { adminPage, homePage, internalErrorPage, profilePage, stepUpPage } from './pages.js'
export { type RedisConnection, type RedisTarget, redisConnection } from './redis.js'
export { type Listener, listenerOf, type Servable, serveExample } from './serve.js'
export {
  DEV_CLIENT,
  EnvironmentError,
  type ExampleSettings,
  readExampleSettings,
  resolveByHost,
  type SettingsOptions,
} from './settings.js'
