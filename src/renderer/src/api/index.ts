// The one place that decides how the renderer reaches the services: Electron's preload bridge when
// it is there, the web-mode WebSocket otherwise. Nothing else in the renderer can tell which.
import type { StudioClient } from './types'
import { socketUrlFromLocation, WsStudioClient } from './ws-client'

export type { StudioClient, ConnectionState } from './types'
export { errorMessage, toStudioError } from './errors'
export { createRunFiles, type RunFiles } from './run-files'

export function createClient(): StudioClient {
  const bridge = window.studio
  if (bridge) return bridge
  return new WsStudioClient({ url: socketUrlFromLocation(window.location) })
}

let provided: StudioClient | null = null
/** Set once at start-up (main.ts) or by a test, before any store is used. */
export function setApi(client: StudioClient): void {
  provided = client
}

export function useApi(): StudioClient {
  if (!provided) throw new Error('No StudioApi: call setApi() before using the stores.')
  return provided
}
