import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { createClient, setApi } from './api'
import { createStudioRouter } from './router'
import { startBrowserGpu } from './api/browser-gpu'
import './styles/base.css'

const client = createClient()
setApi(client)
// Web mode: this browser's GPU becomes a place runs can train (src/renderer/src/api/browser-gpu.ts).
void startBrowserGpu(client)
createApp(App).use(createPinia()).use(createStudioRouter()).mount('#app')
