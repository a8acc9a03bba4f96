"""QGIS as a planner runs it: every collection over OGC API Features, the grids as vector tiles, one map.

Run by `tests/test_qgis.py` with Debian's python3 (which has `python3-qgis`), not the project's
venv: `python3 tests/qgis_client.py BASE USERNAME KEY PNG`. It stores the credentials as a QGIS
Basic authentication configuration (what a user does in Settings › Authentication), opens each
collection the landing page lists through QGIS's OAPIF provider and the grid layer through its
vector tile provider, reads the features, renders a map to PNG, and prints what it saw as JSON.
"""

import base64
import json
import os
import sys
import tempfile
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp(prefix="qgis-auth-")

from qgis.core import (  # noqa: E402 - Qt's platform must be chosen before QGIS loads
    QgsApplication,
    QgsAuthMethodConfig,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileBasicRenderer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def main(base: str, username: str, key: str, png: str) -> None:
    app = QgsApplication([], False, tempfile.mkdtemp(prefix="qgis-profile-"))
    app.initQgis()
    auth = QgsApplication.authManager()
    auth.setMasterPassword("onegrid-test-master", True)
    cfg = QgsAuthMethodConfig("Basic")
    cfg.setName("OneGrid")
    cfg.setConfig("username", username)
    cfg.setConfig("password", key)
    ok, cfg = auth.storeAuthenticationConfig(cfg)
    assert ok, "QGIS did not store the Basic authentication configuration"
    authcfg = cfg.id()

    request = urllib.request.Request(f"{base}/collections")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode())
    collections = [c["id"] for c in json.load(urllib.request.urlopen(request))["collections"]]

    seen: dict[str, object] = {"collections": {}}
    layers = {}
    for cid in collections:
        uri = (
            f"url='{base}' typename='{cid}' authcfg={authcfg} restrictToRequestBBOX='0' pagingEnabled='true'"
        )
        layer = QgsVectorLayer(uri, cid, "OAPIF")
        features = list(layer.getFeatures()) if layer.isValid() else []
        seen["collections"][cid] = {
            "valid": layer.isValid(),
            "features": len(features),
            "fields": [f.name() for f in layer.fields()],
            "first": {k: str(v) for k, v in zip([f.name() for f in layer.fields()], features[0].attributes())}
            if features
            else None,
        }
        layers[cid] = layer

    tiles = QgsVectorTileLayer(
        f"type=xyz&url={base}/tiles/grid/{{z}}/{{x}}/{{y}}.pbf&zmin=10&zmax=20&authcfg={authcfg}",
        "网格 (tiles)",
    )
    renderer = QgsVectorTileBasicRenderer()
    edge = QColor(192, 57, 43)
    renderer.setStyles(QgsVectorTileBasicRenderer.simpleStyle(
        QColor(245, 203, 167), edge, 0.3, edge, 0.3, edge, edge, 2.0
    ))  # fmt: skip
    tiles.setRenderer(renderer)
    seen["tiles_valid"] = tiles.isValid()

    district = layers.get("district")
    extent = district.extent() if district is not None and district.isValid() else QgsRectangle()
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    to_mercator = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), mercator, QgsProject.instance()
    )
    settings = QgsMapSettings()
    settings.setDestinationCrs(mercator)
    settings.setOutputSize(QSize(900, 900))
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setExtent(to_mercator.transformBoundingBox(extent))
    drawn = [lyr for lyr in (layers.get("roads"), tiles) if lyr is not None and lyr.isValid()]
    settings.setLayers(drawn)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(png, "PNG")
    seen["rendered"] = [lyr.name() for lyr in drawn]
    seen["errors"] = [e.message for e in job.errors()]
    print(json.dumps(seen, ensure_ascii=False), flush=True)
    # QGIS crashes when Python frees its layers after exitQgis(); what was seen is printed, so
    # leave at once rather than tear the application down
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:5])
