// The one place that decides how the renderer reaches the services: Electron's preload bridge when
// it is there, the web-mode WebSocket otherwise. Nothing else in the renderer can tell which
// (files.ts makes the same choice for imports and exports).
import type { StudioClient } from './types'
import { dropTokenFromAddress, pageToken, socketUrlFromLocation, WsStudioClient } from './ws-client'

export type { StudioClient, ConnectionState } from './types'
export { errorMessage, toStudioError } from './errors'
export { createDatasetFiles, createModelFiles, createRunFiles, type DatasetFiles, type ModelFiles, type PickedBy, type RunFiles } from './files'

export function createClient(): StudioClient {
  const bridge = window.studio
  if (bridge) return bridge
  const token = pageToken(window.location, window.sessionStorage)
  return new WsStudioClient({
    url: socketUrlFromLocation(window.location, token),
    // Once the token has worked it leaves the address bar (history, bookmarks, screen shares).
    onFirstOpen: () => dropTokenFromAddress(window.location, window.history)
  })
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
