"""An edge cache for tiles in front of the API (issue 25): nginx from Debian, configured and purged here.

The edge learns a reader's *class* by asking the API once per token every few seconds (nginx's
`auth_request`, its answer cached by the Authorization header) and caches a tile under class and
URL. A class is a role for the district-wide roles (every commander sees the same tile) and one
person otherwise, so a tile is never shared between readers who could see it differently; the
API lets the edge keep a tile (`X-Accel-Expires`) only when its layers are the slowly changing,
cached kind and it carries no personal field unmasked for that reader. Each API process
remembers the tiles it let the edge keep and, when a change notice touches one, purges exactly
that key (`ngx_cache_purge`, Debian's libnginx-mod-http-cache-purge); a key a process forgot
(restarted) lives at most the edge's TTL.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from gis_core.platform.auth import DISTRICT_WIDE, User
from gis_core.publishing.tiles import tile_bounds_lonlat

log = logging.getLogger(__name__)
NGINX = "/usr/sbin/nginx"
PURGE_MODULE = "/usr/lib/nginx/modules/ngx_http_cache_purge_module.so"
#: how long the edge keeps a tile no notice has purged (a purge a restarted process forgot)
TTL_S = 600
#: how long the edge trusts a token's class (a revoked token's cached tiles, at most this long)
CLASS_TTL_S = 5


def reader_class(user: User) -> str:
    """The edge's cache class of `user`: the role for district-wide roles, the person otherwise."""
    who = user.role if user.role in DISTRICT_WIDE else f"{user.role}:{user.id}"
    return hashlib.blake2b(who.encode(), digest_size=8).hexdigest()


def shared_within_class(user: User, view_keys: list[tuple[object, ...]]) -> bool:
    """Whether every reader of `user`'s class sees these layers as `user` does (the tile may be shared)."""
    return user.role not in DISTRICT_WIDE or all(len(k) == 1 for k in view_keys)


@dataclass(frozen=True)
class Kept:
    """A tile this process let the edge keep: its cache key's parts, and what it shows."""

    cls: str
    path: str
    query: str
    tables: tuple[str, ...]
    z: int
    x: int
    y: int


class EdgeRegistry:
    """The tiles this process let the edge keep, and their purge when a change notice touches them."""

    def __init__(self, purge_url: str, max_entries: int = 200_000):
        self.purge_url = purge_url.rstrip("/")
        self.max_entries = max_entries
        self._kept: OrderedDict[tuple[str, str, str], Kept] = OrderedDict()
        self._lock = threading.Lock()
        self.purged = 0

    def keep(self, kept: Kept) -> None:
        """Remember a tile the edge may now hold."""
        with self._lock:
            self._kept[(kept.cls, kept.path, kept.query)] = kept
            while len(self._kept) > self.max_entries:  # the oldest ages out at the edge by its TTL
                self._kept.popitem(last=False)

    def touched(self, table: str | None, bbox: tuple[float, float, float, float] | None) -> list[Kept]:
        """Forget and return the kept tiles of `table` touching `bbox` (with a margin); None: all."""
        west, south, east, north = bbox or (-180.0, -90.0, 180.0, 90.0)
        out = []
        with self._lock:
            for key, k in list(self._kept.items()):
                if table is not None and table not in k.tables:
                    continue
                w, s, e, n = tile_bounds_lonlat(k.z, k.x, k.y, margin=1 / 16)
                if w <= east and west <= e and s <= north and south <= n:
                    out.append(self._kept.pop(key))
        return out

    def on_notice(self, table: str | None, bbox: tuple[float, float, float, float] | None) -> int:
        """Purge at the edge every kept tile a change touches; how many (blocking: one request each)."""
        done = 0
        with httpx.Client(timeout=5) as client:
            for k in self.touched(table, bbox):
                try:
                    query = f"?{k.query}" if k.query else ""
                    for gz in ("", "gz"):  # the copies for clients without gzip and with it
                        client.request("PURGE", f"{self.purge_url}/_purge/{k.cls}{gz}{quote(k.path)}{query}")
                    done += 1
                except httpx.HTTPError as exc:  # the edge down: its copy ages out by TTL_S
                    log.warning("edge purge of %s failed: %s", k.path, exc)
        self.purged += done
        return done


def nginx_conf(
    edge_dir: Path, listen: int, upstreams: list[str], cert: str | None = None, key: str | None = None
) -> str:
    """The edge's nginx.conf: tiles cached per reader class, everything else passed through."""
    tls = (
        f"listen {listen} ssl;\n        ssl_certificate {cert};\n        ssl_certificate_key {key};"
        if cert
        else f"listen {listen};"
    )
    servers = "\n".join(f"        server {u};" for u in upstreams)
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    proxy = (
        'proxy_pass http://onegrid; proxy_http_version 1.1; proxy_set_header Connection "";\n'
        "            proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr;"
    )
    return f"""# written by `onegrid edge config` (gis_core/publishing/edge.py): tiles kept per reader class
load_module {PURGE_MODULE};
{user}worker_processes auto;
pid {edge_dir}/nginx.pid;
error_log {edge_dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {edge_dir}/tmp/body;
    proxy_temp_path {edge_dir}/tmp/proxy;
    fastcgi_temp_path {edge_dir}/tmp/fastcgi;
    uwsgi_temp_path {edge_dir}/tmp/uwsgi;
    scgi_temp_path {edge_dir}/tmp/scgi;
    proxy_cache_path {edge_dir}/cache levels=1:2 keys_zone=tiles:64m max_size=4g inactive={TTL_S}s
                     use_temp_path=off;
    proxy_cache_path {edge_dir}/classes levels=1 keys_zone=classes:8m inactive=60s use_temp_path=off;
    map $http_accept_encoding $gz {{
        ~gzip gz;
        default "";
    }}
    upstream onegrid {{
{servers}
        keepalive 64;
    }}
    server {{
        {tls}
        client_max_body_size 100m;
        location /tiles/ {{
            auth_request /_class;
            auth_request_set $reader_class $upstream_http_x_reader_class;
            proxy_cache tiles;
            # a gzip body only to who asked for one; the class stands for the Authorization the API varies on
            proxy_cache_key "$reader_class$gz$request_uri";
            # kept only when the API says so (X-Accel-Expires); otherwise its Cache-Control: private holds
            proxy_ignore_headers Vary Set-Cookie;
            proxy_cache_lock on;
            add_header X-Edge-Cache $upstream_cache_status always;
            {proxy}
        }}
        location = /_class {{
            internal;
            proxy_pass http://onegrid/api/v1/auth/reader-class;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_cache classes;
            proxy_cache_key $http_authorization;
            proxy_cache_valid 200 204 {CLASS_TTL_S}s;
            proxy_ignore_headers Cache-Control Expires Vary Set-Cookie;
        }}
        location ~ ^/_purge/(.*)$ {{
            allow 127.0.0.1;
            allow ::1;
            deny all;
            proxy_cache_purge tiles "$1$is_args$args";
        }}
        location /api/v1/events {{
            proxy_buffering off;
            proxy_read_timeout 1h;
            {proxy}
        }}
        location / {{
            {proxy}
        }}
    }}
}}
"""


def write_conf(
    edge_dir: Path, listen: int, upstreams: list[str], cert: str | None = None, key: str | None = None
) -> Path:
    """Write the edge's configuration under `edge_dir` (with its cache and temp folders); its path."""
    for d in ("cache", "classes", "tmp"):
        (edge_dir / d).mkdir(parents=True, exist_ok=True)
    conf = edge_dir / "nginx.conf"
    conf.write_text(nginx_conf(edge_dir.resolve(), listen, upstreams, cert, key))
    return conf


def start(edge_dir: Path) -> None:
    """Check and start nginx on the written configuration (it daemonises)."""
    conf = str((edge_dir / "nginx.conf").resolve())
    subprocess.run([NGINX, "-t", "-q", "-c", conf, "-p", str(edge_dir.resolve())], check=True)
    subprocess.run([NGINX, "-c", conf, "-p", str(edge_dir.resolve())], check=True)


def stop(edge_dir: Path) -> None:
    """Stop the edge's nginx, if it runs."""
    conf = str((edge_dir / "nginx.conf").resolve())
    if (edge_dir / "nginx.pid").exists():
        subprocess.run([NGINX, "-c", conf, "-p", str(edge_dir.resolve()), "-s", "stop"], check=False)


def command(args: Any, edge_dir: Path) -> int:
    """`onegrid edge config|start|stop`, printed for the operator."""
    if args.action == "config":
        conf = write_conf(edge_dir, args.listen, args.upstream.split(","), args.tls_cert, args.tls_key)
        print(f"{conf}: tiles kept per reader class on :{args.listen}, the API at {args.upstream}")
        print(
            f"start it with `onegrid edge start`; the API needs ONEGRID_EDGE_PURGE_URL=http://127.0.0.1:{args.listen}"
        )
    elif args.action == "start":
        if not (edge_dir / "nginx.conf").exists():
            print("write the configuration first: onegrid edge config", file=sys.stderr)
            return 2
        start(edge_dir)
        print(f"edge running ({edge_dir / 'nginx.conf'})")
    else:
        stop(edge_dir)
    return 0
