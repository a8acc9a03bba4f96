// The grid worker app's service worker: the app opens with no network at all. The app's own
// files and its libraries are kept at install (this file's version changes whenever any of them
// does, so an update replaces them); other GETs (the API's answers, tiles, the style) go to the
// network first and fall back to the last answer kept. Writes are never handled here: the
// page's outbox keeps them in IndexedDB and sends each once, in order.
const VERSION = "__VERSION__";
const SHELL = `onegrid-app-${VERSION}`;
const RUNTIME = "onegrid-app-runtime";
const FILES = __FILES__;

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith("onegrid-app-") && name !== SHELL && name !== RUNTIME) await caches.delete(name);
    await self.clients.claim();
  })());
});

async function networkFirst(request) {
  const cache = await caches.open(RUNTIME);
  try {
    const answer = await fetch(request);
    if (answer.ok) cache.put(request, answer.clone());
    return answer;
  } catch (e) {
    const kept = await cache.match(request, { ignoreVary: true });
    if (kept) return kept;
    throw e;
  }
}

self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== location.origin || url.pathname === "/api/v1/events") return;
  const shell = url.pathname === "/app/" ? "/app/" : FILES.includes(url.pathname) ? url.pathname : null;
  if (shell) {
    ev.respondWith(caches.match(shell).then((kept) => kept || fetch(ev.request)));
    return;
  }
  ev.respondWith(networkFirst(ev.request));
});

self.addEventListener("notificationclick", (ev) => {
  ev.notification.close();
  ev.waitUntil(self.clients.matchAll({ type: "window" }).then((list) => (list[0] ? list[0].focus() : self.clients.openWindow("/app/"))));
});
