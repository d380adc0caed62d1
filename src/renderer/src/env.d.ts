/// <reference types="vite/client" />
// window.studio (the Electron bridge) is declared by src/preload/index.d.ts.

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}
