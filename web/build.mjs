// Builds the worker app's page for phones on slow networks: its CSS and every module it imports
// (OneGrid's own and idb) bundled by esbuild and written into the page itself, so a phone needs
// one round trip for a working app instead of one per import level (2 s each on a slow 3G
// network). Run by the server when the sources are newer than var/web/app/index.html
// (api/routers/pages.py), and by hand with `npm run build`. MapLibre stays a separate file,
// loaded after the app is usable.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
// the URLs the pages import from, as files (what api/routers/pages.py serves under each)
const served = { "/static/": `${root}web/`, "/vendor/idb/": `${root}node_modules/idb/build/` };
const urls = {
  name: "onegrid-urls",
  setup(build) {
    build.onResolve({ filter: /^\/(static|vendor)\// }, (args) => {
      for (const [prefix, dir] of Object.entries(served)) if (args.path.startsWith(prefix)) return { path: dir + args.path.slice(prefix.length) };
      return { errors: [{ text: `${args.path} is not served from a folder the build knows` }] };
    });
  },
};

const common = { bundle: true, minify: true, write: false, target: "es2022", logLevel: "warning" };
const [js] = (await esbuild.build({ ...common, entryPoints: [`${root}web/app/app.js`], format: "esm", plugins: [urls] })).outputFiles;
const [css] = (await esbuild.build({ ...common, entryPoints: [`${root}web/app/app.css`] })).outputFiles;
if (/<\/script/i.test(js.text)) throw new Error("the bundle holds </script: it cannot be written into the page");

const page = readFileSync(`${root}web/app/index.html`, "utf8");
const built = page
  .replace('<link rel="stylesheet" href="/static/app/app.css">', () => `<style>${css.text}</style>`)
  .replace('<script type="module" src="/static/app/app.js"></script>', () => `<script type="module">${js.text}</script>`);
if (built.includes('src="/static/app/app.js"') || built.includes('href="/static/app/app.css"')) throw new Error("web/app/index.html no longer names app.js and app.css as the build expects");
mkdirSync(`${root}var/web/app`, { recursive: true });
const temp = `${root}var/web/app/index.html.${process.pid}`;
writeFileSync(temp, built);
renameSync(temp, `${root}var/web/app/index.html`);  // whole or not at all: servers may be reading it
console.log(`var/web/app/index.html: ${built.length} bytes (script ${js.text.length}, style ${css.text.length})`);
