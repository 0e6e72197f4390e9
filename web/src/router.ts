import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import { isLoggedIn, refreshSession, session } from './api/session'

// Every page but the combined overview is its own chunk, loaded when first visited, so the
// initial bundle stays small.
const cloudPages: RouteRecordRaw[] = [
  { path: 'overview', name: 'cloud-overview', component: () => import('./pages/OverviewPage.vue'), meta: { title: 'Overview' } },
  { path: 'instances', name: 'instances', component: () => import('./pages/InstancesPage.vue'), meta: { title: 'Instances' } },
  { path: 'instances/new', name: 'instance-new', component: () => import('./pages/InstanceCreatePage.vue'), meta: { title: 'New instance' } },
  { path: 'instances/:id', name: 'instance', component: () => import('./pages/InstanceDetailPage.vue'), meta: { title: 'Instance' } },
  { path: 'volumes', name: 'volumes', component: () => import('./pages/VolumesPage.vue'), meta: { title: 'Volumes' } },
  { path: 'networks', name: 'networks', component: () => import('./pages/NetworksPage.vue'), meta: { title: 'Networks' } },
  { path: 'images', name: 'images', component: () => import('./pages/ImagesPage.vue'), meta: { title: 'Images' } },
  { path: 'affinity-groups', name: 'affinity-groups', component: () => import('./pages/AffinityGroupsPage.vue'), meta: { title: 'Affinity groups' } },
  { path: 'hosts', name: 'hosts', component: () => import('./pages/HostsPage.vue'), meta: { title: 'Hosts' } },
  { path: 'node-images', name: 'node-images', component: () => import('./pages/NodeImagesPage.vue'), meta: { title: 'Node images' } },
  { path: 'luna', name: 'luna', component: () => import('./pages/LunaPage.vue'), meta: { title: 'Luna' } },
  { path: 'identity', name: 'identity', component: () => import('./pages/IdentityPage.vue'), meta: { title: 'Tenants and users' } },
  { path: 'quotas', name: 'quotas', component: () => import('./pages/QuotasPage.vue'), meta: { title: 'Quotas' } },
  { path: 'audit', name: 'audit', component: () => import('./pages/AuditPage.vue'), meta: { title: 'Audit log' } },
  { path: 'usage', name: 'usage', component: () => import('./pages/UsagePage.vue'), meta: { title: 'Usage' } },
]

const routes: RouteRecordRaw[] = [
  { path: '/', name: 'overview', component: () => import('./pages/CombinedOverviewPage.vue'), meta: { title: 'All clouds' } },
  { path: '/c/:cloud/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { title: 'Log in', public: true } },
  { path: '/c/:cloud', redirect: (to) => ({ name: 'cloud-overview', params: to.params }), children: [] },
  ...cloudPages.map((r) => ({ ...r, path: '/c/:cloud/' + r.path })),
  { path: '/:rest(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHashHistory(), routes })

router.beforeEach(async (to) => {
  if (!session.loaded) await refreshSession()
  const cloud = to.params.cloud as string | undefined
  if (cloud && !to.meta.public && !isLoggedIn(cloud)) {
    return { name: 'login', params: { cloud }, query: { next: to.fullPath } }
  }
  return true
})

router.afterEach((to) => {
  const cloud = to.params.cloud ? ` · ${to.params.cloud}` : ''
  document.title = `${(to.meta.title as string) ?? 'Rainbow'}${cloud} · Rainbow`
})
