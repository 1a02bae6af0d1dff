import { codeflow } from '../../../lib/codeflow'
import { apiAdminRoute } from '../../../lib/routes'
import { nextExampleSettings } from '../../../lib/settings'

export const GET = apiAdminRoute(codeflow, () => nextExampleSettings())
