import { codeflow } from '../../../lib/codeflow'
import { callRoute } from '../../../lib/routes'
import { nextExampleSettings } from '../../../lib/settings'

export const GET = callRoute(codeflow, () => nextExampleSettings().apiUrl)
