// The phone app's and the console's maps, loaded after the page is usable: MapLibre is ~300 KB
// over the wire, seconds on a slow network, and a worker can read their tasks before the map
// arrives. OneGrid's own style and tiles (the wall's); on the phone my grid, my key points,
// where I am and the route to a call; on the console the incident's place.
import { session } from "/static/shared/session.js";

const EMPTY = { type: "FeatureCollection", features: [] };
let library = null;

function loadLibrary() {
  if (library) return library;
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/vendor/maplibre-gl/maplibre-gl.css";
  document.head.append(css);
  library = new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "/vendor/maplibre-gl/maplibre-gl.js";
    s.onload = () => resolve(window.maplibregl);
    s.onerror = reject;
    document.head.append(s);
  });
  return library;
}

async function style() {
  const r = await fetch("/styles/wall.json", { headers: { Authorization: `Bearer ${session.token}` } });
  return r.json();
}

function bounds(fc) {
  let w = 180, s = 90, e = -180, n = -90;
  const visit = (c) => { if (typeof c[0] === "number") { w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]); } else c.forEach(visit); };
  for (const f of fc.features) visit(f.geometry.coordinates);
  return [[w, s], [e, n]];
}

async function make(container, options) {
  const maplibregl = await loadLibrary();
  const map = new maplibregl.Map({
    container, style: await style(), attributionControl: false, ...options,
    localIdeographFontFamily: "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', sans-serif",
    transformRequest: (url) => (url.startsWith(location.origin) ? { url, headers: { Authorization: `Bearer ${session.token}` } } : { url }),
  });
  await new Promise((resolve) => map.on("load", resolve));
  return { map, maplibregl };
}

// Home: my grid's outline, my key points, me and (after a call is accepted) the route.
export async function homeMap(container, field) {
  const { map } = await make(container, { bounds: bounds(field.grids), fitBoundsOptions: { padding: 24 } });
  const points = { type: "FeatureCollection", features: field.key_points.map((k) => ({ type: "Feature", geometry: { type: "Point", coordinates: [k.lon, k.lat] }, properties: { name: k.name } })) };
  map.addSource("mine", { type: "geojson", data: field.grids });
  map.addLayer({ id: "mine-line", type: "line", source: "mine", paint: { "line-color": "#1d6b4f", "line-width": 3 } });
  map.addSource("key-points", { type: "geojson", data: points });
  map.addLayer({ id: "key-points", type: "circle", source: "key-points", paint: { "circle-radius": 7, "circle-color": "#b7791f", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
  map.addSource("route", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "route", type: "line", source: "route", paint: { "line-color": "#c0392b", "line-width": 5, "line-opacity": 0.85 } });
  map.addSource("me", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "me", type: "circle", source: "me", paint: { "circle-radius": 8, "circle-color": "#1f6feb", "circle-stroke-color": "#fff", "circle-stroke-width": 3 } });
  return {
    map,
    here(lon, lat) { map.getSource("me").setData({ type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] }, properties: {} }); },
    route(feature) {
      map.getSource("route").setData(feature || EMPTY);
      this.routed = Boolean(feature);
      if (feature) map.fitBounds(bounds({ features: [feature] }), { padding: 40, maxZoom: 17 });
    },
  };
}

// The report's pin: a draggable marker where I am; moving it tells `moved` the new place.
export async function pinMap(container, lon, lat, moved) {
  const { map, maplibregl } = await make(container, { center: [lon, lat], zoom: 16 });
  const marker = new maplibregl.Marker({ draggable: true, color: "#c0392b" }).setLngLat([lon, lat]).addTo(map);
  marker.on("dragend", () => { const p = marker.getLngLat(); moved(p.lng, p.lat); });
  return { map, move(x, y) { marker.setLngLat([x, y]); map.setCenter([x, y]); } };
}

// The console's look at one place: a marker where the incident is, the grids around it on the tiles.
export async function pointMap(container) {
  const { map, maplibregl } = await make(container, { center: [0, 0], zoom: 15 });
  const marker = new maplibregl.Marker({ color: "#c0392b" }).setLngLat([0, 0]).addTo(map);
  return { map, show(lon, lat) { marker.setLngLat([lon, lat]); map.jumpTo({ center: [lon, lat], zoom: 16 }); } };
}
