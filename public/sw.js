// Tequio's service worker: keeps the app shell so the app opens and works offline after one
// visit. The build (scripts/post-build.mjs) fills in VERSION and SHELL; a new deployment is a new
// worker, which waits until the page asks it to take over (the page tells the person first).
const VERSION = '__VERSION__'
const SHELL = __SHELL__
const CACHE = `tequio-shell-${VERSION}`

self.addEventListener('install', event => {
  event.waitUntil(caches.open(CACHE).then(cache => cache.addAll(SHELL)))
})

self.addEventListener('activate', event => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('tequio-shell-') && key !== CACHE) await caches.delete(key)
    }
    await self.clients.claim()
  })())
})

self.addEventListener('message', event => {
  if (event.data === 'take-over') self.skipWaiting()
})

self.addEventListener('fetch', event => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== 'GET' || url.origin !== self.location.origin) return
  const scope = new URL(self.registration.scope)
  if (!url.pathname.startsWith(scope.pathname)) return
  const relative = url.pathname.slice(scope.pathname.length)
  if (relative === 'config.json') {
    // The deployment's network settings: fresh when online, the last copy when not.
    event.respondWith((async () => {
      const cache = await caches.open(CACHE)
      try {
        const response = await fetch(request)
        if (response.ok) await cache.put('./config.json', response.clone())
        return response
      } catch {
        return (await cache.match('./config.json')) ?? Response.error()
      }
    })())
    return
  }
  // Everything else in the shell comes from this version's cache: the page and its assets always
  // match, and a new version arrives as a new worker.
  event.respondWith((async () => {
    const cache = await caches.open(CACHE)
    const key = request.mode === 'navigate' || relative === '' ? './index.html' : request
    return (await cache.match(key, { ignoreSearch: true })) ?? fetch(request)
  })())
})

// A reminder shown through the worker (browsers that allow no other way) opens the app at what
// it is about: an open window is brought forward, or a new one opened there.
self.addEventListener('notificationclick', event => {
  event.notification.close()
  const link = new URL(event.notification.data?.link ?? '', self.registration.scope).href
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window' })
    if (windows.length > 0) return windows[0].focus()
    return self.clients.openWindow(link)
  })())
})

// No `periodicsync` handler: catching up with the room from relays is not yet something this
// worker can do (it runs in the page, in Rust), so no periodic background sync is registered.
