import { serveExample } from '@codeflow/example-shared'
import { createApp } from './app.js'

await serveExample('Koa', createApp)
