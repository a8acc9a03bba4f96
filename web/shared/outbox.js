// A phone's writes survive a bad network: each goes into an IndexedDB queue with its own
// Idempotency-Key before any network is touched, and is sent from there once, in the order it
// was made, when the network allows. A transient failure (offline, 5xx, 408, 429) stops the
// queue where it is and retries later with the same key, so nothing overtakes what came
// first; a 4xx problem is final for that item, which is kept and marked with the server's
// words (a 409 with the incident's current state) for the worker to see; the next one goes on.
import { openDB } from "/vendor/idb/index.js";

const db = await openDB("onegrid-outbox", 1, {
  upgrade(d) { d.createObjectStore("items", { keyPath: "seq", autoIncrement: true }); },
});
const listeners = new Set();
let flushing = null;
let timer = null;
let backoff = 2000;

export function onChange(fn) { listeners.add(fn); }
function changed(detail) { for (const fn of listeners) fn(detail); }

// Queue a write. body: a JSON-able object (sent as JSON), or { fields, photos: [{name, type, data}] }
// sent as multipart/form-data. Returns the stored item (with its key and seq).
export async function enqueue({ kind, url, method = "POST", headers = {}, json, form, label, ref }) {
  const item = {
    key: crypto.randomUUID(), kind, url, method, headers, json, form, label, ref,
    createdAt: Date.now(), status: "pending", error: null, answer: null,
  };
  item.seq = await db.add("items", item);
  changed({ item });
  flush();
  return item;
}

export async function items() { return db.getAll("items"); }
export async function pending() { return (await db.getAll("items")).filter((i) => i.status === "pending"); }
export async function forget(seq) { await db.delete("items", seq); changed({}); }

function request(item, token) {
  const headers = { ...item.headers, "Idempotency-Key": item.key, ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  let body;
  if (item.form) {
    body = new FormData();
    for (const [k, v] of Object.entries(item.form.fields || {})) if (v !== undefined && v !== null) body.append(k, v);
    for (const p of item.form.photos || []) body.append("photos", new Blob([p.data], { type: p.type }), p.name);
  } else if (item.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(item.json);
  }
  return fetch(item.url, { method: item.method, headers, body });
}

async function sendAll(token) {
  if (!navigator.onLine) return false;  // no signal: wait for the "online" event (or the next try)
  for (const item of await db.getAll("items")) {
    if (item.status !== "pending") continue;
    let r;
    try { r = await request(item, token()); } catch (e) { return false; }  // the network is down
    if (r.ok) {
      const answer = await r.json().catch(() => null);
      await db.delete("items", item.seq);
      changed({ item, sent: true, answer, status: r.status });
      continue;
    }
    if (r.status === 401) return false;  // signed out: keep everything for after the login
    if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
      const problem = await r.json().catch(() => ({}));
      await db.put("items", { ...item, status: "failed", error: problem.detail || `错误 ${r.status}`, answer: problem, code: r.status });
      changed({ item, failed: true, problem, status: r.status });
      continue;
    }
    return false;  // the server is struggling: later, in the same order
  }
  return true;
}

// Send what is pending, in order; one flush at a time. `token` is read per request.
export function flush(token = () => localStorage.getItem("onegrid.token")) {
  if (flushing) return flushing;
  clearTimeout(timer);
  flushing = (async () => {
    try {
      let done = await sendAll(token);
      while (done && (await pending()).length) done = await sendAll(token);  // queued while we sent
      if (done) backoff = 2000;
      else { timer = setTimeout(() => flush(token), backoff); backoff = Math.min(backoff * 2, 60000); }
      return done;
    } finally {
      flushing = null;
    }
  })();
  return flushing;
}

window.addEventListener("online", () => { backoff = 2000; flush(); });
