"""The README's API examples, run as written by bash and curl against a real server.

A reader copies these lines; each must answer as the comment above it says. Run here, they
caught a form body decoded as Latin-1 (Open311's example stored mojibake), a logout in the
middle that revoked the token every later line used, and actions on hard-coded ids.
"""

import re
import subprocess

import sqlalchemy as sa

from gis_core.platform.settings import PROJECT_ROOT
from tests.live import live_server
from tests.photos import jpeg

README = PROJECT_ROOT / "README.md"
DEMO_BASE = "http://127.0.0.1:8000"
#: Every curl call reports its status on stderr; the live feed is cut after a few seconds.
PRELUDE = r"""
curl() { command curl --max-time 4 -w '%{stderr}@@ %{http_code} %{method} %{url_effective}\n' "$@"; }
"""


def api_block() -> str:
    """The README's first bash block of curl examples (the API overview)."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(b for b in blocks if f"curl -s {DEMO_BASE}/healthz" in b)


def curl_calls(block: str) -> int:
    """How many curl commands the block runs (comment lines do not count)."""
    code = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("#"))
    return len(re.findall(r"(?<![\w-])curl ", code))


def test_every_readme_api_example_answers_2xx(settings, engine, tmp_path):
    block = api_block()
    (tmp_path / "photo.jpg").write_bytes(jpeg())
    # a served demo raises warnings on its first rules tick; the tests' server runs no rules
    with engine.begin() as c:
        planted = c.execute(
            sa.text(
                "INSERT INTO warning (rule, cause_key, subject_type, level, message, raised_at, geom) "
                "SELECT 'camera_offline', 'readme-example', 'camera', 'yellow', '探头离线', now(), "
                "ST_PointOnSurface(geom) FROM grid ORDER BY code LIMIT 1 RETURNING id"
            )
        ).scalar_one()
    with live_server(settings) as base:
        script = PRELUDE + block.replace(DEMO_BASE, base)
        run = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=180
        )
    calls = [line.split(" ", 3)[1:] for line in run.stderr.splitlines() if line.startswith("@@ ")]
    assert len(calls) == curl_calls(block), run.stderr
    failed = [c for c in calls if not c[0].startswith("2")]
    assert not failed, (failed, run.stdout[-3000:])
    # the Open311 example's raw UTF-8 form body is stored as the reader typed it
    with engine.connect() as c:
        stored = c.execute(sa.text("SELECT description FROM incident ORDER BY id DESC LIMIT 5")).scalars()
        assert "路灯不亮" in list(stored)
    assert (tmp_path / "grid.pbf.gz").stat().st_size > 0
    with engine.begin() as c:
        assert c.execute(sa.text("SELECT state FROM warning WHERE id = :i"), {"i": planted}).scalar() == (
            "acknowledged"
        )
        c.execute(sa.text("DELETE FROM warning_event WHERE warning_id = :i"), {"i": planted})
        c.execute(sa.text("DELETE FROM warning WHERE id = :i"), {"i": planted})


def test_every_setting_is_in_the_configuration_table():
    """A setting the README does not name is one an operator cannot find."""
    from gis_core.platform.settings import Settings

    section = README.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    missing = [n for n in Settings.model_fields if f"ONEGRID_{n.upper()}" not in section]
    assert missing == [], f"settings missing from the README's configuration table: {missing}"
