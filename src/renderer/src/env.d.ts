/// <reference types="vite/client" />
import type { StudioApi } from '../../shared/contract'

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

declare global {
  interface Window {
    /** Exposed by the Electron preload; absent in web mode. */
    studio?: StudioApi
  }
}
