"""`onegrid webhooks`: the outbox from the command line: subscriptions, dead letters, replay, a deliverer."""

from __future__ import annotations

import argparse
import json
import time

import sqlalchemy as sa

from gis_core.channels import webhooks
from gis_core.platform.db import make_engine
from gis_core.platform.settings import get_settings


def run(args: argparse.Namespace) -> int:
    """One `onegrid webhooks` action, printed for the operator."""
    engine = make_engine()
    settings = get_settings()
    if args.action == "deliver":  # a deliverer of its own, for a host that runs no API process
        try:
            while True:
                if not webhooks.deliver_due(engine, settings):
                    if args.once and not _pending(engine):
                        return 0
                    time.sleep(max(settings.webhook_poll_s, 0.1))
        except KeyboardInterrupt:
            return 0
    with engine.begin() as conn:
        if args.action == "list":
            for s in webhooks.subscriptions(conn):
                events = ",".join(s.events) or "全部事件"
                sources = ",".join(s.sources) or "全部来源"
                print(f"{s.id}\t{s.name}\t{s.url}\t{events}\t{sources}\t{'启用' if s.active else '停用'}")
        elif args.action == "dead":
            for d in webhooks.dead_letters(conn):
                print(json.dumps(d, ensure_ascii=False, default=str))
        elif args.action == "replay":
            ids = None if args.all else [int(i) for i in args.ids]
            if ids == []:
                print("name the dead deliveries to replay (ids from `onegrid webhooks dead`), or --all")
                return 2
            print(f"requeued {webhooks.replay(conn, ids)}")
    return 0


_PENDING = sa.text("SELECT count(*) FROM webhook_delivery WHERE delivered_at IS NULL AND dead_at IS NULL")


def _pending(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(_PENDING).scalar_one())
