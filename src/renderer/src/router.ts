// Hash history: works from Electron's file:// and from the web server alike, and a reload keeps the view.
import { createRouter, createWebHashHistory, type RouteLocationNormalized, type RouteRecordRaw } from 'vue-router'

/** A run id from the address, or null when there is none or it is not one. Views take it as a prop
 *  rather than read the current route: App shows a route one task after the address changes. */
function runIdParam(r: RouteLocationNormalized): number | null {
  const p = r.params.runId
  const n = Number(Array.isArray(p) ? p[0] : p)
  return Number.isInteger(n) && n > 0 ? n : null
}

function idParam(r: RouteLocationNormalized, name: string): number | null {
  const p = r.params[name]
  const n = Number(Array.isArray(p) ? p[0] : p)
  return Number.isInteger(n) && n > 0 ? n : null
}

export const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/new' },
  { path: '/new', name: 'new', component: () => import('./views/NewRunView.vue'), meta: { title: 'New run' } },
  { path: '/live/:runId?', name: 'live', component: () => import('./views/LiveView.vue'), props: (r) => ({ runId: runIdParam(r) }), meta: { title: 'Live training' } },
  { path: '/runs', name: 'runs', component: () => import('./views/RunsView.vue'), meta: { title: 'Runs' } },
  { path: '/runs/:runId', name: 'run', component: () => import('./views/RunDetailView.vue'), props: (r) => ({ runId: runIdParam(r) }), meta: { title: 'Run' } },
  { path: '/compare', name: 'compare', component: () => import('./views/CompareView.vue'), props: (r) => ({ ids: String(r.query.ids ?? '') }), meta: { title: 'Compare' } },
  { path: '/sweeps', name: 'sweeps', component: () => import('./views/SweepView.vue'), props: () => ({ sweepId: null }), meta: { title: 'Sweeps' } },
  { path: '/sweeps/:sweepId', name: 'sweep', component: () => import('./views/SweepView.vue'), props: (r) => ({ sweepId: idParam(r, 'sweepId') }), meta: { title: 'Sweep' } },
  { path: '/datasets', name: 'datasets', component: () => import('./views/DatasetsView.vue'), meta: { title: 'Datasets' } },
  { path: '/predict', name: 'predict', component: () => import('./views/PredictView.vue'), meta: { title: 'Predict' } },
  { path: '/device', name: 'device', component: () => import('./views/DeviceView.vue'), meta: { title: 'Device' } },
  { path: '/:rest(.*)*', redirect: '/new' }
]

export function createStudioRouter() {
  return createRouter({ history: createWebHashHistory(), routes })
}
