import { codeflow } from '../../../lib/codeflow'
import { meRoute } from '../../../lib/routes'

export const GET = meRoute(codeflow)
