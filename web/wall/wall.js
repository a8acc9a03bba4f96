// The command wall: OneGrid's own style and tiles in MapLibre, the live feed, and the five
// functions (全区巡游, 轨迹查看, 热点追踪, 多人点调 via the API, 预警查看) as panels.
// State the browser tests read is on `window.wall`.
import { STATE_ZH } from "/static/shared/states.js";
import { onLogin, session } from "/static/shared/session.js";

const TOKEN_KEY = "onegrid.token";
const params = new URLSearchParams(location.search);
const DWELL_MS = Number(params.get("dwell") || 8) * 1000;
const $ = (id) => document.getElementById(id);
const wall = (window.wall = { map: null, events: [], changes: [], tour: { index: -1, playing: false, stops: [] }, trajectory: { index: 0, times: [] } });
let token = localStorage.getItem(TOKEN_KEY);

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${token}` };
  const r = await fetch(path, { ...options, headers });
  if (r.status === 401) { logout(); throw new Error("登录已过期"); }
  if (!r.ok) throw new Error((await r.json()).detail || r.statusText);
  return r.json();
}

function show(view) {
  $("login-view").hidden = view !== "login";
  $("wall-view").hidden = view !== "wall";
  $("logout").hidden = view !== "wall";
}

function logout() {
  localStorage.removeItem(TOKEN_KEY);
  token = null;
  show("login");
}

onLogin(() => { token = session.token; start(); });
$("logout").addEventListener("click", logout);
setInterval(() => { $("clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false }); }, 1000);

const EMPTY = { type: "FeatureCollection", features: [] };
// hotspots are painted onto the grid tiles by grid code (feature state): no polygons are downloaded
// the hotspot layer of each unit, and the tile source (and source layer) its bins are painted onto
const HOTSPOT_LAYERS = { hotspots: "grid", "hotspots-hex": "hexagons" };
const HOT = ["match", ["coalesce", ["feature-state", "bin"], 0], 3, "#b2182b", 2, "#ef8a62", 1, "#fddbc7", -1, "#d1e5f0", -2, "#67a9cf", -3, "#2166ac", "rgba(0,0,0,0)"];

async function start() {
  show("wall");
  const style = await api("/styles/wall.json");
  // open on the whole district, however large the screen (the style's centre/zoom suit a laptop)
  const bounds = Object.values(style.sources).map((s) => s.bounds).find(Boolean);
  const map = new maplibregl.Map({
    container: "map",
    style,
    ...(bounds ? { bounds, fitBoundsOptions: { padding: 40 } } : {}),
    attributionControl: false,
    // CJK names are drawn with the wall's own font; only Latin, digits and punctuation come from /fonts
    localIdeographFontFamily: "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', sans-serif",
    transformRequest: (url) => (url.startsWith(location.origin) ? { url, headers: { Authorization: `Bearer ${token}` } } : { url }),
  });
  wall.map = map;
  map.addControl(new maplibregl.NavigationControl(), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.on("load", () => {
    for (const [id, source] of Object.entries(HOTSPOT_LAYERS)) {
      if (!map.getSource(source)) continue;
      map.addLayer({ id, type: "fill", source, "source-layer": source, layout: { visibility: "none" },
                     paint: { "fill-color": HOT, "fill-opacity": 0.6, "fill-outline-color": "#ffffff" } },
                   map.getLayer("place_names") ? "place_names" : undefined);  // names stay on top
    }
    map.addSource("circles", { type: "geojson", data: EMPTY });
    map.addLayer({ id: "circles", type: "fill", source: "circles", layout: { visibility: "none" },
                   paint: { "fill-color": ["match", ["get", "level"], "district", "#8e44ad", "street", "#2980b9", "#16a085"],
                            "fill-opacity": 0.25, "fill-outline-color": "#ffffff" } });
    map.addSource("trajectory", { type: "geojson", data: EMPTY });
    map.addLayer({ id: "trajectory", type: "line", source: "trajectory", paint: { "line-color": "#00e5ff", "line-width": 3 } });
    map.addSource("trajectory-head", { type: "geojson", data: EMPTY });
    map.addLayer({ id: "trajectory-head", type: "circle", source: "trajectory-head",
                   paint: { "circle-radius": 9, "circle-color": "#ffeb3b", "circle-stroke-color": "#000", "circle-stroke-width": 2 } });
    map.addSource("live", { type: "geojson", data: EMPTY });
    map.addLayer({ id: "live", type: "circle", source: "live",
                   paint: { "circle-radius": 11, "circle-color": "#ff1744", "circle-stroke-color": "#fff", "circle-stroke-width": 3 } });
    layerSwitcher(style);
    cameraViews(map);
    drillDown(map);
    wall.loaded = true;
  });
  loadWarnings();
  connect();
}

// ---------------------------------------------------------------- layers and legend
function layerSwitcher(style) {
  const ul = $("layers");
  ul.innerHTML = "";
  for (const layer of style.layers) {
    const meta = layer.metadata || {};
    if (!meta["onegrid:title_zh"]) continue;
    const li = document.createElement("li");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = (layer.layout || {}).visibility !== "none";
    box.dataset.layer = layer.id;
    box.addEventListener("change", () => {
      for (const id of [layer.id, `${layer.id}-label`]) {  // a layer's names go with it
        if (wall.map.getLayer(id)) wall.map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none");
      }
    });
    const label = document.createElement("label");  // the title names the box, and a click on it toggles
    label.append(box, ` ${meta["onegrid:title_zh"]} `);
    // swatches coloured through the style object, not a style attribute: the CSP allows no inline style
    const legend = document.createElement("span");
    legend.className = "hint";
    for (const l of meta["onegrid:legend"] || []) {
      const swatch = document.createElement("span");
      swatch.className = "legend-swatch";
      swatch.style.background = l.color;
      legend.append(swatch, `${l.label_zh} `);
    }
    li.append(label, legend);
    ul.append(li);
  }
}

// A camera point opens its field of view (the wedge layer, filtered to that camera).
function cameraViews(map) {
  if (!map.getLayer("cameras") || !map.getLayer("camera_fov")) return;
  map.on("click", "cameras", (e) => {
    const f = e.features[0];
    map.setFilter("camera_fov", ["==", ["get", "code"], f.properties.code]);
    map.setLayoutProperty("camera_fov", "visibility", "visible");
    map.flyTo({ center: e.lngLat, zoom: Math.max(map.getZoom(), 17) });
    new maplibregl.Popup().setLngLat(e.lngLat).setHTML(`探头 ${f.properties.code}`).addTo(map);
  });
}

// ---------------------------------------------------------------- live feed (SSE)
function connect() {
  const source = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(token)}`);
  source.onopen = () => { $("live-status").textContent = "实时连接"; $("live-status").classList.add("on"); };
  source.onerror = () => { $("live-status").textContent = "重连中…"; $("live-status").classList.remove("on"); };
  source.addEventListener("incident.new", (e) => {
    onIncident(JSON.parse(e.data), e.lastEventId);
    refreshCounters();
    reloadLayers(INCIDENT_LAYERS);
  });
  source.addEventListener("incident.state", (e) => { onChange(JSON.parse(e.data)); refreshCounters(); reloadLayers(INCIDENT_LAYERS); });
  source.addEventListener("worker.position", () => reloadLayers(WORKER_LAYERS));
  source.addEventListener("call.task", (e) => onCallTask(JSON.parse(e.data)));
  source.addEventListener("warning", () => loadWarnings());
  source.addEventListener("reset", () => location.reload());
  wall.source = source;
}

// the tile layers a live event changes, reloaded at most every RELOAD_MS (a busy district sends
// many events a second; the tiles answer 304 when nothing in them changed)
const INCIDENT_LAYERS = ["incidents_open", "grid_load"];
const WORKER_LAYERS = ["workers"];
const RELOAD_MS = 3000;
wall.reload = { due: new Set(), timer: null, last: 0 };
function reloadLayers(ids) {
  const r = wall.reload;
  ids.forEach((id) => r.due.add(id));
  if (r.timer) return;
  const wait = Math.max(0, r.last + RELOAD_MS - Date.now());
  r.timer = setTimeout(() => {
    r.timer = null;
    r.last = Date.now();
    for (const id of r.due) {
      const src = wall.map && wall.map.getSource(id);
      if (src && src.setTiles) src.setTiles(src.tiles);  // same URLs: MapLibre fetches them again
    }
    r.due.clear();
  }, wait);
}

// Each step of the loop as it happens: the event list says which incident moved to what.
function onChange(d) {
  wall.changes.unshift(d);
  wall.changes.length = Math.min(wall.changes.length, 500);
  const li = document.createElement("li");
  li.dataset.id = d.id;
  li.textContent = `${d.code} ${d.from === d.state ? "有新进展" : `→ ${STATE_ZH[d.state] || d.state}`}`;
  li.addEventListener("click", () => wall.map.flyTo({ center: [d.lon, d.lat], zoom: 17 }));
  $("events").prepend(li);
  while ($("events").children.length > 200) $("events").lastChild.remove();
}

function onIncident(d, id) {
  wall.events.unshift(d);
  const li = document.createElement("li");
  li.className = "new";
  li.dataset.id = d.id;
  li.textContent = `新事件 ${d.code} · ${d.category_code} · ${new Date(d.reported_at).toLocaleTimeString("zh-CN", { hour12: false })}`;
  li.addEventListener("click", () => wall.map.flyTo({ center: [d.lon, d.lat], zoom: 17 }));
  $("events").prepend(li);
  $("event-count").textContent = wall.events.length;
  const src = wall.map && wall.map.getSource("live");
  if (src) {
    src.setData({ type: "FeatureCollection", features: wall.events.slice(0, 200).map((x) => ({
      type: "Feature", id: x.id, geometry: { type: "Point", coordinates: [x.lon, x.lat] }, properties: { id: x.id, code: x.code } })) });
  }
}

// ---------------------------------------------------------------- warnings
async function loadWarnings() {
  const body = await api("/api/v1/warnings?limit=100");
  const ul = $("warnings");
  ul.innerHTML = "";
  for (const f of body.features) {
    const p = f.properties;
    const li = document.createElement("li");
    li.className = `level-${p.level}`;
    li.textContent = `${p.message}${p.state === "acknowledged" ? "（已确认）" : ""}`;
    li.addEventListener("click", () => {
      const c = f.geometry.type === "Point" ? f.geometry.coordinates : null;
      if (c) wall.map.flyTo({ center: c, zoom: 16 });
    });
    ul.append(li);
  }
  $("warning-count").textContent = body.numberMatched;
  // the list holds the newest 100; say so when there are more
  $("warning-more").textContent = body.numberMatched > body.numberReturned
    ? `显示最新 ${body.numberReturned} 条，共 ${body.numberMatched} 条` : "";
}

// ---------------------------------------------------------------- 辖区态势: district → street → community → grid
wall.drill = { path: [{ code: null, name: "全区", level: "district" }], stats: null };

function drillDown(map) {
  map.on("click", async (e) => {
    if (wall.call.picking) return pickCallPoint(e.lngLat);
    if (map.getLayer("cameras") && map.queryRenderedFeatures(e.point, { layers: ["cameras"] }).length) return;
    let found;
    try { found = await api(`/api/v1/lookup?lon=${e.lngLat.lng}&lat=${e.lngLat.lat}`); } catch { return; }  // outside
    drillTo([wall.drill.path[0], ...["street", "community", "grid"].map((level) => ({ ...found[level], level }))]);
  });
  drillTo(wall.drill.path);
}

function drillTo(path) {
  wall.drill.path = path;
  const nav = $("drill-path");
  nav.innerHTML = "";
  path.forEach((p, k) => {
    const a = document.createElement("a");
    a.textContent = p.name;
    a.dataset.code = p.code || "";
    a.addEventListener("click", () => drillTo(path.slice(0, k + 1)));
    if (k) nav.append(" › ");
    nav.append(a);
  });
  refreshCounters();
}

async function refreshCounters() {
  const here = wall.drill.path[wall.drill.path.length - 1];
  const s = await api(`/api/v1/incidents/stats${here.code ? `?area=${here.code}` : ""}`);
  const open = s.open; // the server's one definition of open (gis_core.incidents.workflow)
  const pct = (x) => (x == null ? "—" : `${(x * 100).toFixed(1)}%`);
  $("drill-stats").innerHTML = [
    ["在办", open], ["待评价", s.awaiting_rating], ["超时", s.overdue], ["办结率", pct(s.completion_rate)], ["满意率", pct(s.satisfaction_rate)],
  ].map(([k, v]) => `<div class="counter"><b>${v}</b><span>${k}</span></div>`).join("");
  wall.drill.stats = { code: here.code, open, ...s };
}

// ---------------------------------------------------------------- 多人点调
wall.call = { picking: false, point: null, workers: [], call: null };
const TASK_ZH = { called: "已呼叫", acknowledged: "已响应", arrived: "已到达" };

$("call-pick").addEventListener("click", () => {
  wall.call.picking = true;
  $("call-point").textContent = "请点击地图…";
  wall.map.getCanvas().style.cursor = "crosshair";
});

async function pickCallPoint(ll) {
  const c = wall.call;
  c.picking = false;
  wall.map.getCanvas().style.cursor = "";
  c.point = [ll.lng, ll.lat];
  $("call-point").textContent = `${ll.lng.toFixed(5)}, ${ll.lat.toFixed(5)}`;
  const body = await api(`/api/v1/workers/nearby?lon=${ll.lng}&lat=${ll.lat}&radius=2000`);
  c.workers = body.workers;
  const ul = $("call-workers");
  ul.innerHTML = "";
  for (const w of body.workers) {
    const li = document.createElement("li");
    const walk = w.walk_s == null ? "无路可达" : `步行约 ${Math.ceil(w.walk_s / 60)} 分钟`;
    li.innerHTML = `<label><input type="checkbox" value="${w.worker_id}" ${w.walk_s == null ? "" : "checked"}> ${w.name}（${walk}，直线 ${Math.round(w.straight_m)} 米）</label>`;
    ul.append(li);
  }
  if (!body.workers.length) ul.innerHTML = "<li>附近没有在岗网格员</li>";
  $("call-send").disabled = !body.workers.length;
}

$("call-send").addEventListener("click", async () => {
  const c = wall.call;
  const ids = [...document.querySelectorAll("#call-workers input:checked")].map((i) => Number(i.value));
  if (!ids.length || !c.point) return;
  c.call = await api("/api/v1/calls", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
    body: JSON.stringify({ lon: c.point[0], lat: c.point[1], message: $("call-message").value, worker_ids: ids }),
  });
  renderTasks();
});

function onCallTask(d) {
  const c = wall.call.call;
  if (!c || c.id !== d.call_id) return;
  const t = c.tasks.find((x) => x.worker_id === d.worker_id);
  if (!t) return;
  Object.assign(t, d, { state: d.arrived_at ? "arrived" : d.acknowledged_at ? "acknowledged" : "called" });
  renderTasks();
}

function renderTasks() {
  $("call-tasks").innerHTML = wall.call.call.tasks
    .map((t) => `<li data-worker="${t.worker_id}" data-state="${t.state}">${t.name}：${TASK_ZH[t.state]}</li>`).join("");
}

// ---------------------------------------------------------------- 全区巡游
$("tour-play").addEventListener("click", async () => {
  const t = wall.tour;
  if (t.playing) { t.playing = false; clearTimeout(t.timer); $("tour-play").textContent = "继续巡游"; return; }
  if (!t.stops.length || t.level !== $("tour-level").value) {
    t.level = $("tour-level").value;
    t.stops = (await api(`/api/v1/patrol/tour?level=${t.level}`)).stops;
    t.index = -1;
  }
  t.playing = true;
  $("tour-play").textContent = "暂停";
  next();
});

function next() {
  const t = wall.tour;
  if (!t.playing || !t.stops.length) return;
  t.index = (t.index + 1) % t.stops.length;
  const s = t.stops[t.index];
  const [minx, miny, maxx, maxy] = s.extent;
  wall.map.fitBounds([[minx, miny], [maxx, maxy]], { padding: 60, duration: Math.min(1500, DWELL_MS / 2), maxZoom: 17 });
  const m = s.summary;
  const lines = "open_incidents" in m
    ? `在办事件 ${m.open_incidents} · 超时 ${m.overdue_incidents} · 预警 ${m.active_warnings} · 在岗网格员 ${m.workers_on_duty} · 探头在线 ${m.cameras_online}/${m.cameras}`
    : `${m.overdue ? "超时未巡查" : "按时巡查"} · 距上次巡查 ${m.hours_since_patrol ?? "—"} 小时`;
  const cams = s.cameras.map((c) => `${c.code}${c.online ? "" : "（离线）"} ${c.distance_m} 米`).join("，");
  const card = $("tour-stop");
  card.hidden = false;
  card.innerHTML = `<b>${t.index + 1}/${t.stops.length} ${s.name}</b><br>${lines}<br><span class="hint">附近探头：${cams}</span>`;
  t.timer = setTimeout(next, DWELL_MS);
}

// ---------------------------------------------------------------- 轨迹查看
function localInput(d) { return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); }
$("traj-from").value = params.get("traj_from") || localInput(new Date(Date.now() - 86400000));
$("traj-to").value = params.get("traj_to") || localInput(new Date());

$("traj-load").addEventListener("click", async () => {
  const w = $("traj-worker").value;
  const from = new Date($("traj-from").value).toISOString();
  const to = new Date($("traj-to").value).toISOString();
  const f = await api(`/api/v1/workers/${w}/trajectory?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&simplify=3`);
  const coords = f.geometry ? f.geometry.coordinates.flat() : [];
  const times = (f.properties.times || []).flat();
  wall.trajectory = { index: 0, coords, times, playing: false };
  $("traj-time").textContent = "";  // not the previous worker's time
  wall.map.getSource("trajectory").setData(f.geometry ? f : EMPTY);
  const slider = $("traj-slider");
  slider.max = Math.max(0, coords.length - 1);
  slider.value = 0;
  slider.disabled = $("traj-play").disabled = coords.length === 0;
  $("traj-stats").textContent = coords.length
    ? `里程 ${(f.properties.distance_m / 1000).toFixed(1)} 公里 · 停留 ${f.properties.stops.length} 处 · 离开本网格 ${Math.round(f.properties.outside_own_grid_s / 60)} 分钟`
    : "该时段没有轨迹";
  if (coords.length) {
    const lons = coords.map((c) => c[0]), lats = coords.map((c) => c[1]);
    wall.map.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]], { padding: 60, duration: 800 });
    head(0);
  }
});

function head(i) {
  const t = wall.trajectory;
  t.index = i;
  $("traj-slider").value = i;
  $("traj-time").textContent = t.times[i] ? new Date(t.times[i]).toLocaleString("zh-CN", { hour12: false }) : "";
  wall.map.getSource("trajectory-head").setData({ type: "Feature", geometry: { type: "Point", coordinates: t.coords[i] }, properties: {} });
}
$("traj-slider").addEventListener("input", (e) => head(Number(e.target.value)));
$("traj-play").addEventListener("click", () => {
  const t = wall.trajectory;
  t.playing = !t.playing;
  $("traj-play").textContent = t.playing ? "暂停" : "播放";
  const step = () => {
    if (!t.playing) return;
    if (t.index >= t.coords.length - 1) { t.playing = false; $("traj-play").textContent = "播放"; return; }
    head(t.index + 1);
    setTimeout(step, 50);
  };
  step();
});

// ---------------------------------------------------------------- 热点追踪
// an overlay drawn from one API answer: its checkbox shows it (fetched afresh) and hides it;
// drawn as the layer's own GeoJSON source
function overlay(toggle, layer, path, describe) {
  $(toggle).addEventListener("change", async (e) => {
    const map = wall.map;
    if (!e.target.checked) { map.setLayoutProperty(layer, "visibility", "none"); return; }
    const body = await api(path());
    map.getSource(layer).setData(body);
    map.setLayoutProperty(layer, "visibility", "visible");
    describe(body);
  });
}

// each unit's Gi* bin painted onto the tiles the wall already has (grids, or 250 m hexagons),
// keyed by the unit's code: the answer carries no polygon
async function showHotspots() {
  const map = wall.map;
  const unit = $("hotspot-unit").value;
  const layer = unit === "hex" ? "hotspots-hex" : "hotspots";
  for (const id of Object.keys(HOTSPOT_LAYERS)) if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", "none");
  if (!$("hotspot-toggle").checked) return;
  const to = new Date();
  const from = new Date(to.getTime() - 90 * 86400000);
  const size = unit === "hex" ? "&hex_size=250" : "";
  const body = await api(`/api/v1/hotspots?unit=${unit}${size}&geometry=false&from=${from.toISOString()}&to=${to.toISOString()}`);
  const target = { source: HOTSPOT_LAYERS[layer], sourceLayer: HOTSPOT_LAYERS[layer] };
  map.removeFeatureState(target);
  for (const f of body.features) map.setFeatureState({ ...target, id: f.id }, { bin: f.properties.bin ?? 0 });
  map.setLayoutProperty(layer, "visibility", "visible");
  const hot = body.features.filter((f) => f.properties.kind === "hot").length;
  $("hotspot-stats").textContent = `共 ${body.total} 起事件 · 热点${unit === "hex" ? "六边形" : "网格"} ${hot} 个（90% 以上置信）`;
  wall.hotspots = body;
}
$("hotspot-toggle").addEventListener("change", showHotspots);
$("hotspot-unit").addEventListener("change", showHotspots);

// ---------------------------------------------------------------- 服务圈: service centres' walking circles
overlay("circle-toggle", "circles", () => {
  $("circle-stats").textContent = "计算中…";
  return "/api/v1/service-circles";
}, (body) => {
  const o = body.outside;
  $("circle-stats").textContent =
    `服务圈 ${body.features.length} 个 · 圈外 ${o.households} / ${o.households_total} 户 · 圈外特殊人群 ${o.special_care} 人`;
  wall.circles = body;
});

if (token) start(); else show("login");
