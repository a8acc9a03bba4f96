// 巡查: where I am, and while on patrol my fixes, uploaded in batches through the outbox (so a
// walk without signal is sent once, in order, when the signal returns); 打卡 at key points,
// which the server accepts from my uploaded track, not from what the phone says.
import * as outbox from "/static/shared/outbox.js";

// fixes go up every 30 s (`?batch=N` seconds: a drill, or a test that cannot wait)
const BATCH_MS = Number(new URLSearchParams(location.search).get("batch") || 30) * 1000;
const state = { watching: null, on: localStorage.getItem("onegrid.patrol") === "on", buffer: [], timer: null, here: null, listeners: new Set() };

export const patrol = {
  get on() { return state.on; },
  get here() { return state.here; },
  onFix(fn) { state.listeners.add(fn); },
};

function fix(p) {
  // when the fix was taken, by the app's clock: a position handed over again from the cache
  // (maximumAge) keeps its older time, and none is dated after now
  const t = Math.min(p.timestamp, Date.now());
  state.here = { lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy, t };
  if (state.on) {
    state.buffer.push({ t: new Date(t).toISOString(), lon: state.here.lon, lat: state.here.lat,
                        accuracy: p.coords.accuracy, ...(p.coords.speed != null ? { speed: p.coords.speed } : {}) });
  }
  for (const fn of state.listeners) fn(state.here);
}

// Where I am, always while the app is open (the map, the report's pin, the route's start).
export function watch() {
  if (state.watching !== null || !navigator.geolocation) return;
  state.watching = navigator.geolocation.watchPosition(fix, () => {}, { enableHighAccuracy: true, maximumAge: 5000 });
  if (state.on) schedule();
}

function schedule() {
  clearInterval(state.timer);
  state.timer = setInterval(() => upload(), BATCH_MS);
}

// Move the buffered fixes into the outbox (they are then sent in order with everything else).
export async function upload() {
  if (!state.buffer.length) return null;
  const fixes = state.buffer.splice(0);
  return outbox.enqueue({ kind: "track", url: "/api/v1/tracks", json: { fixes }, label: `轨迹 ${fixes.length} 个点` });
}

export async function start() {
  state.on = true;
  localStorage.setItem("onegrid.patrol", "on");
  watch();
  if (state.here) fix({ coords: { longitude: state.here.lon, latitude: state.here.lat, accuracy: state.here.accuracy }, timestamp: Date.now() });
  schedule();
}

export async function stop() {
  await upload();
  state.on = false;
  localStorage.setItem("onegrid.patrol", "off");
  clearInterval(state.timer);
}

// 打卡: my fixes so far go first, then the check-in, so the server has the fix that shows I am here.
export async function checkIn(point) {
  await upload();
  return outbox.enqueue({ kind: "check-in", url: `/api/v1/key-points/${encodeURIComponent(point.code)}/check-ins`,
                          label: `打卡 ${point.name}`, ref: point.code });
}

export function metres(a, b) {
  const r = 6371008.8, rad = Math.PI / 180;
  const dlat = (b.lat - a.lat) * rad, dlon = (b.lon - a.lon) * rad;
  const h = Math.sin(dlat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
}
