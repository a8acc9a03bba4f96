"""Web pages served by the app, with front-end libraries from node_modules (installed at set-up)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from gis_core.platform.settings import PROJECT_ROOT

WEB = PROJECT_ROOT / "web"
NODE_MODULES = PROJECT_ROOT / "node_modules"
#: URL prefix → folder inside node_modules, for each library a page imports.
VENDOR = {"idb": "idb/build", "maplibre-gl": "maplibre-gl/dist", "swagger-ui": "swagger-ui-dist"}

router = APIRouter(tags=["pages"], include_in_schema=False)

#: Every page's Content-Security-Policy: its own origin only (libraries come from node_modules
#: through /vendor, never a CDN), no inline script or style (the worker app's, built into its page,
#: are allowed by their hashes), MapLibre's blob: workers, no framing by other sites.
CSP = (
    "default-src 'self'; script-src 'self'{inline}; style-src 'self'{inline}; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def page(path: Path, inline: tuple[str, ...] = ()) -> FileResponse:
    """A page with its security headers and no caching (a new release shows at the next load)."""
    hashes = "".join(f" '{h}'" for h in inline)
    return FileResponse(
        path,
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CSP.format(inline=hashes),
            "Referrer-Policy": "same-origin",
            "X-Frame-Options": "DENY",
        },
    )


def inline_hashes(html: str) -> tuple[str, ...]:
    """CSP hashes of the inline scripts and styles of a built page."""
    found = re.findall(r"<script[^>]*>(.*?)</script>|<style>(.*?)</style>", html, flags=re.S)
    return tuple(
        "sha256-" + base64.b64encode(hashlib.sha256((a or b).encode()).digest()).decode() for a, b in found
    )


@router.get("/report")
def report_page() -> FileResponse:
    """随手拍: the grid workers' and citizens' phone page."""
    return page(WEB / "report" / "index.html")


@router.get("/me")
def me_page() -> FileResponse:
    """我的诉求: residents' requests, their timelines and ratings; from a service card, its worker."""
    return page(WEB / "me" / "index.html")


@router.get("/desk")
def desk_page() -> FileResponse:
    """部门处置台: the departments' and officers' inbox of dispatched incidents, and their actions."""
    return page(WEB / "desk" / "index.html")


@router.get("/admin")
def admin_page() -> FileResponse:
    """账号管理: the admin's accounts, one-time passwords, roles and the admin log."""
    return page(WEB / "admin" / "index.html")


@router.get("/console")
def console_page() -> FileResponse:
    """指挥调度台: the command centre's queue, dispatch, split, merge, urge and SLA board."""
    return page(WEB / "console" / "index.html")


@router.get("/app")
def app_redirect() -> RedirectResponse:
    """The worker app lives under /app/, the scope its service worker controls."""
    return RedirectResponse("/app/", status_code=308)


@router.get("/app/")
def app_page() -> FileResponse:
    """网格员: the grid worker's phone app (installable, works offline), its script and style inside."""
    return page(APP_PAGE, app_inline())


@router.get("/app/sw.js")
def app_service_worker() -> Response:
    """The app's service worker, with the files it keeps and a version that changes with any of them."""
    version, files = app_shell()
    body = (
        (WEB / "app" / "sw.js")
        .read_text()
        .replace("__VERSION__", version)
        .replace("__FILES__", json.dumps(files))
    )
    return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/app/manifest.webmanifest")
def app_manifest() -> JSONResponse:
    """Web app manifest: the app installs on a phone's home screen and opens full screen."""
    return JSONResponse(
        {
            "name": "OneGrid 网格员",
            "short_name": "网格员",
            "lang": "zh-CN",
            "start_url": "/app/",
            "scope": "/app/",
            "display": "standalone",
            "background_color": "#f2f4f3",
            "theme_color": "#1d6b4f",
            "icons": [
                {"src": "/static/app/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}
            ],
        },
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


#: What the worker app's service worker keeps at install: the page (the whole app inside) and
#: the map library it loads once usable.
APP_SHELL = (
    "/app/",
    "/app/manifest.webmanifest",
    "/static/app/icon.svg",
    "/vendor/maplibre-gl/maplibre-gl.js",
    "/vendor/maplibre-gl/maplibre-gl.css",
)
#: The app's page as built by web/build.mjs (esbuild): its sources' script and style written in.
APP_PAGE = PROJECT_ROOT / "var" / "web" / "app" / "index.html"


def app_sources() -> list[Path]:
    """What the built page is made of: a change to any of them calls for a new build."""
    return [
        *sorted((WEB / "app").glob("*.*")),
        *sorted((WEB / "shared").glob("*.js")),
        WEB / "build.mjs",
        NODE_MODULES / "idb" / "package.json",
    ]


def build_app_page() -> None:
    """Build the app's page unless it is newer than every source (esbuild takes ~0.1 s)."""
    newest = max(p.stat().st_mtime for p in app_sources())
    if APP_PAGE.exists() and APP_PAGE.stat().st_mtime >= newest:
        return
    if shutil.which("node") is None:
        raise RuntimeError("node is missing: run `make setup` to install it (it builds the app's page)")
    subprocess.run(["node", str(WEB / "build.mjs")], cwd=PROJECT_ROOT, check=True, capture_output=True)
    app_shell.cache_clear()
    app_inline.cache_clear()


@lru_cache(maxsize=1)
def app_inline() -> tuple[str, ...]:
    """The built app page's inline script and style, as CSP hashes (rebuilt with the page)."""
    return inline_hashes(APP_PAGE.read_text())


@lru_cache(maxsize=1)
def app_shell() -> tuple[str, list[str]]:
    """The shell's files and a digest of their contents (the service worker's version)."""
    digest = hashlib.sha256(APP_PAGE.read_bytes())
    for url in APP_SHELL:
        if url.startswith(("/static/", "/vendor/")):
            digest.update(_shell_file(url).read_bytes())
    digest.update((WEB / "app" / "sw.js").read_bytes())
    return digest.hexdigest()[:16], list(APP_SHELL)


def _shell_file(url: str) -> Path:
    if url.startswith("/static/"):
        return WEB / url.removeprefix("/static/")
    name, rest = url.removeprefix("/vendor/").split("/", 1)
    return NODE_MODULES / VENDOR[name] / rest


@router.get("/docs")
def api_docs() -> HTMLResponse:
    """The interactive API documentation (Swagger UI from node_modules: no CDN, works offline)."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="OneGrid API",
        swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/vendor/swagger-ui/favicon-32x32.png",
    )


@router.get("/wall")
def wall_page() -> FileResponse:
    """指挥大屏: the command centre's map wall."""
    return page(WEB / "wall" / "index.html")


def mount_static(app: FastAPI) -> None:
    """Serve our own page assets and the npm-installed libraries they import; build the app's page."""
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    for name, folder in VENDOR.items():
        path = NODE_MODULES / folder
        if not Path(path).is_dir():
            raise RuntimeError(f"{path} is missing: run `make setup` (npm ci) to install front-end libraries")
        app.mount(f"/vendor/{name}", StaticFiles(directory=path), name=f"vendor-{name}")
    build_app_page()
