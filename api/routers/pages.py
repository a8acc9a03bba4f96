"""Web pages served by the app, with front-end libraries from node_modules (installed at set-up)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from gis_core.platform.settings import PROJECT_ROOT

WEB = PROJECT_ROOT / "web"
NODE_MODULES = PROJECT_ROOT / "node_modules"
#: URL prefix → folder inside node_modules, for each library a page imports.
VENDOR = {"idb": "idb/build", "maplibre-gl": "maplibre-gl/dist"}

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/report")
def report_page() -> FileResponse:
    """随手拍: the grid workers' and citizens' phone page."""
    return FileResponse(WEB / "report" / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/me")
def me_page() -> FileResponse:
    """我的诉求: residents' requests, their timelines and ratings; from a service card, its worker."""
    return FileResponse(WEB / "me" / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/desk")
def desk_page() -> FileResponse:
    """部门处置台: the departments' and officers' inbox of dispatched incidents, and their actions."""
    return FileResponse(WEB / "desk" / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/wall")
def wall_page() -> FileResponse:
    """指挥大屏: the command centre's map wall."""
    return FileResponse(WEB / "wall" / "index.html", headers={"Cache-Control": "no-cache"})


def mount_static(app: FastAPI) -> None:
    """Serve our own page assets and the npm-installed libraries they import."""
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    for name, folder in VENDOR.items():
        path = NODE_MODULES / folder
        if not Path(path).is_dir():
            raise RuntimeError(f"{path} is missing: run `make setup` (npm ci) to install front-end libraries")
        app.mount(f"/vendor/{name}", StaticFiles(directory=path), name=f"vendor-{name}")
