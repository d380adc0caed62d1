import type { StudioApi } from '../../../shared/contract'

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'reconnected' | 'unauthorized'

/** StudioApi plus what a transport can say about its connection (the preload has none to speak of). */
export interface StudioClient extends StudioApi {
  onConnection?(handler: (s: ConnectionState) => void): () => void
}
