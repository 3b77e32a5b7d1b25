// The benchmarks' 5,000-post room: built by examples/bench_room.rs and put into a device's
// IndexedDB exactly as the app stores rooms.
import { execFileSync } from 'node:child_process'

/** The room: { id, name, secret, doc } (doc: the saved document, base64url). */
export function benchRoom (posts = 5000) {
  return JSON.parse(execFileSync('cargo', ['run', '--quiet', '--release', '--example', 'bench_room', '--', String(posts)], { maxBuffer: 1 << 28 }))
}

/** Stores `room` in the IndexedDB of `page`'s origin, as one saved chunk with its record. */
export async function storeRoom (page, room) {
  await page.evaluate(async ({ id, name, secret, doc }) => {
    const b64 = doc.replace(/-/g, '+').replace(/_/g, '/')
    const bin = Uint8Array.from(atob(b64 + '='.repeat((4 - b64.length % 4) % 4)), c => c.charCodeAt(0))
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('tequio', 1); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error)
    })
    await new Promise((resolve, reject) => {
      const tx = db.transaction(['rooms', 'chunks'], 'readwrite')
      const now = Date.now()
      tx.objectStore('rooms').put(JSON.stringify({ id, name, secret, joined_at: now, last_opened: now }), id)
      tx.objectStore('chunks').put(bin, `${id}/bench`)
      tx.oncomplete = resolve; tx.onerror = () => reject(tx.error)
    })
    db.close()
  }, room)
}
