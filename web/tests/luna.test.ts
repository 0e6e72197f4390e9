import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { ago, bootProfileBody, profileNameError } from '../src/api/luna'
import LunaPage from '../src/pages/LunaPage.vue'

afterEach(() => vi.unstubAllGlobals())

describe('luna shaping', () => {
  it('says how long ago a Luna was heard from', () => {
    const now = Date.parse('2026-11-26T01:00:00Z')
    expect(ago(null, now)).toBe('never')
    expect(ago('2026-11-26T00:59:48Z', now)).toBe('12 s ago')
    expect(ago('2026-11-26T00:55:00Z', now)).toBe('5 min ago')
    expect(ago('2026-11-25T22:00:00Z', now)).toBe('3 h ago')
    expect(ago('2026-11-24T01:00:00Z', now)).toBe('2 d ago')
  })

  it('checks the profile name that goes into the URL and leaves empty files to the defaults', () => {
    expect(profileNameError('live-boot_2')).toBe('')
    expect(profileNameError('Live')).not.toBe('')
    expect(profileNameError('')).not.toBe('')
    expect(profileNameError('a/b')).not.toBe('')
    expect(bootProfileBody({ name: 'x', kernel: ' ', initrd: 'initrd.img', cmdline: ' console=ttyS0 ' })).toEqual({ initrd: 'initrd.img', cmdline: 'console=ttyS0' })
  })
})

describe('LunaPage', () => {
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status })
  const services = [
    { id: 's1', name: 'luna-rack1', curve_public_key: 'k', key_fingerprint: 'SHA256:abc', enrollment: 'enrolled', last_seen_at: null, connected: false, created_at: 't', hosts_served: 7 },
  ]
  const profiles = [{ name: 'default', kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: 'console=ttyS0', hosts: 3 }]

  async function mountPage(handler: (url: string, init: RequestInit) => Response | undefined) {
    const fetchMock = vi.fn(async (url: string, init: RequestInit) => {
      const answer = handler(url, init)
      if (answer) return answer
      if (url === '/clouds/c1/api/v1/luna-services') return json({ items: services })
      if (url === '/clouds/c1/api/v1/boot-profiles') return json({ items: profiles })
      throw new Error('unexpected ' + url)
    })
    vi.stubGlobal('fetch', fetchMock)
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/c/:cloud/luna', component: LunaPage }] })
    router.push('/c/c1/luna')
    await router.isReady()
    const wrapper = mount(LunaPage, { global: { plugins: [router] }, attachTo: document.body })
    await flushPromises()
    return { wrapper, fetchMock }
  }

  it('lists services and profiles and shows a 409 when a profile in use is deleted', async () => {
    const { wrapper } = await mountPage((_url, init) =>
      init?.method === 'DELETE' ? json({ error: { code: 'in_use', message: 'boot profile default is used by 3 host(s)' } }, 409) : undefined,
    )
    const row = wrapper.get('[data-luna="luna-rack1"]').text()
    expect(row).toContain('SHA256:abc')
    expect(row).toContain('not connected')
    expect(row).toContain('never')
    expect(row).toContain('7')
    expect(wrapper.get('[data-profile="default"]').text()).toContain('console=ttyS0')

    await wrapper.get('[data-profile="default"]').findAll('button').find((b) => b.text().startsWith('Delete'))!.trigger('click')
    await wrapper.findAll('.modal-footer button').find((b) => b.text() === 'Delete')!.trigger('click')
    await flushPromises()
    expect(wrapper.get('.alert-danger').text()).toContain('used by 3 host(s)')
    wrapper.unmount()
  })

  it('edits a profile with PUT and shows the field Sparkle refused next to it', async () => {
    let put: { url: string; body: unknown } | null = null
    const { wrapper } = await mountPage((url, init) => {
      if (init?.method !== 'PUT') return undefined
      put = { url, body: JSON.parse(init.body as string) }
      return json({ error: { code: 'invalid_field', message: "cmdline must not contain '$'", field: 'cmdline' } }, 400)
    })
    await wrapper.get('[data-profile="default"]').findAll('button').find((b) => b.text().startsWith('Edit'))!.trigger('click')
    expect((wrapper.get('#bp-name').element as HTMLInputElement).value).toBe('default')
    expect(wrapper.get('#bp-name').attributes('readonly')).toBeDefined()
    await wrapper.get('#bp-cmdline').setValue('console=$x')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(put).toEqual({ url: '/clouds/c1/api/v1/boot-profiles/default', body: { kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: 'console=$x' } })
    expect(wrapper.get('#bp-cmdline-error').text()).toBe("cmdline must not contain '$'")
    wrapper.unmount()
  })

  it('refuses a new profile name the URL cannot carry before asking Sparkle', async () => {
    const { wrapper, fetchMock } = await mountPage(() => undefined)
    const calls = fetchMock.mock.calls.length
    await wrapper.get('#bp-name').setValue('Bad Name')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(wrapper.get('#bp-name-error').text()).toContain('lowercase')
    expect(fetchMock.mock.calls.length).toBe(calls)
    wrapper.unmount()
  })
})
