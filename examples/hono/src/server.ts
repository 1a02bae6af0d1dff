import { serveExample } from '@codeflow/example-shared'
import { getRequestListener } from '@hono/node-server'
import { createApp } from './app.js'

await serveExample('Hono', (auth, example) => getRequestListener(createApp(auth, example).fetch))
