import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { createClient, setApi } from './api'
import { createStudioRouter } from './router'
import './styles/base.css'

setApi(createClient())
createApp(App).use(createPinia()).use(createStudioRouter()).mount('#app')
