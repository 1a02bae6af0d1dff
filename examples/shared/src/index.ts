/** What the example apps share: configuration from the environment, pages, start-up banner. */

export { banner } from './banner.js'
export { DEV_CLIENT, EnvironmentError, type ExampleConfig, loadExampleConfig } from './config.js'
export { homePage, internalErrorPage, profilePage } from './pages.js'
