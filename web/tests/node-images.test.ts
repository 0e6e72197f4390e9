import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createRouter, createMemoryHistory } from 'vue-router'
import { imageChoices, nodeImageBody, sortNodeImages, type NodeImage } from '../src/api/nodeImages'
import type { Image } from '../src/api/types'
import NodeImagesPage from '../src/pages/NodeImagesPage.vue'

const file = (id: string, sha: string | null) => ({ image_id: id, sha256: sha, size_bytes: 1 })
const nodeImage = (name: string, current: boolean, created: string): NodeImage => ({
  id: 'id-' + name,
  tenant_id: null,
  name,
  spec: { kernel_image_id: 'k', initrd_image_id: 'i', root_image_id: 'r' },
  status: { current, made_current_at: null, files: { kernel: file('k', 'a'.repeat(64)), initrd: file('i', 'b'.repeat(64)), root: file('r', null) } },
  generation: 1,
  observed_generation: 1,
  created_at: created,
  updated_at: created,
  deleted_at: null,
})
const image = (id: string, name: string, state: Image['upload_state'] = 'active'): Image =>
  ({ id, name, upload_state: state, visibility: 'public', sha256: 'c'.repeat(64), deleted_at: null }) as unknown as Image

afterEach(() => vi.unstubAllGlobals())

describe('node image shaping', () => {
  it('builds the POST body, leaving out an empty description', () => {
    expect(nodeImageBody({ name: ' v2 ', description: ' ', kernel_image_id: 'k', initrd_image_id: 'i', root_image_id: 'r' })).toEqual({
      name: 'v2',
      spec: { kernel_image_id: 'k', initrd_image_id: 'i', root_image_id: 'r' },
    })
    expect(nodeImageBody({ name: 'v2', description: 'bookworm', kernel_image_id: 'k', initrd_image_id: 'i', root_image_id: 'r' }).spec.description).toBe('bookworm')
  })

  it('offers only uploaded images, by name', () => {
    expect(imageChoices([image('2', 'b'), image('1', 'a'), image('3', 'c', 'pending')]).map((i) => i.id)).toEqual(['1', '2'])
  })

  it('puts the current version first, then the newest', () => {
    const list = [nodeImage('v1', false, '2026-01-01'), nodeImage('v2', true, '2026-02-01'), nodeImage('v3', false, '2026-03-01')]
    expect(sortNodeImages(list).map((n) => n.name)).toEqual(['v2', 'v3', 'v1'])
  })
})

describe('NodeImagesPage', () => {
  async function mountPage(handler: (url: string, init: RequestInit) => Response) {
    const fetchMock = vi.fn(async (url: string, init: RequestInit) => handler(url, init))
    vi.stubGlobal('fetch', fetchMock)
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/c/:cloud/node-images', component: NodeImagesPage }] })
    router.push('/c/c1/node-images')
    await router.isReady()
    const wrapper = mount(NodeImagesPage, { global: { plugins: [router] }, attachTo: document.body })
    await flushPromises()
    return { wrapper, fetchMock }
  }
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status })

  it('lists versions with the current marker and shows a 409 on delete as an alert', async () => {
    const { wrapper, fetchMock } = await mountPage((url, init) => {
      if (url.startsWith('/clouds/c1/api/v1/node-images?')) return json({ items: [nodeImage('v1', true, '2026-01-01'), nodeImage('v2', false, '2026-02-01')] })
      if (url.startsWith('/clouds/c1/api/v1/images?')) return json({ items: [image('k', 'vmlinuz-6.1')] })
      if (init.method === 'DELETE') return json({ error: { code: 'node_image_current', message: 'v1 is the current version' } }, 409)
      throw new Error('unexpected ' + url)
    })
    expect(wrapper.get('[data-node-image="v1"]').find('[data-testid=current]').exists()).toBe(true)
    expect(wrapper.get('[data-node-image="v2"]').find('[data-testid=current]').exists()).toBe(false)
    expect(wrapper.get('[data-node-image="v1"]').text()).toContain('vmlinuz-6.1')
    expect(wrapper.get('[data-node-image="v1"]').text()).toContain('aaaaaaaaaaaa')
    expect(wrapper.get('[data-node-image="v1"]').text()).toContain('not uploaded')

    await wrapper.get('[data-node-image="v1"]').findAll('button').find((b) => b.text().startsWith('Delete'))!.trigger('click')
    await wrapper.findAll('.modal-footer button').find((b) => b.text() === 'Delete')!.trigger('click')
    await flushPromises()
    expect(fetchMock.mock.calls.some(([u, i]) => u === '/clouds/c1/api/v1/node-images/id-v1' && i.method === 'DELETE')).toBe(true)
    expect(wrapper.get('.alert-danger').text()).toContain('v1 is the current version')
    wrapper.unmount()
  })

  it('registers a version from three library images and shows a field error next to its control', async () => {
    let posted: unknown = null
    const { wrapper } = await mountPage((url, init) => {
      if (url.startsWith('/clouds/c1/api/v1/node-images?')) return json({ items: [] })
      if (url.startsWith('/clouds/c1/api/v1/images?')) return json({ items: [image('k', 'kernel'), image('i', 'initrd'), image('r', 'root')] })
      if (init.method === 'POST') {
        posted = JSON.parse(init.body as string)
        return json({ error: { code: 'conflict', message: 'the name v1 was used before', field: 'name' } }, 409)
      }
      throw new Error('unexpected ' + url)
    })
    expect(wrapper.find('label[for="ni-kernel"]').exists()).toBe(true)
    await wrapper.get('#ni-name').setValue('v1')
    await wrapper.get('#ni-kernel').setValue('k')
    await wrapper.get('#ni-initrd').setValue('i')
    await wrapper.get('#ni-root').setValue('r')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(posted).toEqual({ name: 'v1', spec: { kernel_image_id: 'k', initrd_image_id: 'i', root_image_id: 'r' } })
    expect(wrapper.get('#ni-name-error').text()).toBe('the name v1 was used before')
    expect(wrapper.get('#ni-name').attributes('aria-describedby')).toBe('ni-name-error')
    wrapper.unmount()
  })
})
