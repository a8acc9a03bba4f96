"""`onegrid user`: accounts from the command line, each change in the admin log as `cli:<login>`."""

from __future__ import annotations

import argparse
import getpass
import sys

from gis_core.platform import accounts
from gis_core.platform.db import make_engine
from gis_core.platform.errors import OneGridError


def run(args: argparse.Namespace) -> int:
    """`onegrid user …` on a migrated database: one account action, printed for the operator."""
    engine = make_engine()
    actor = f"cli:{getpass.getuser()}"
    place = {
        "jurisdiction_code": args.jurisdiction,
        "department_code": args.department,
        "worker_code": args.worker,
    }
    try:
        with engine.begin() as conn:
            if args.action == "list":
                for a in accounts.accounts(conn):
                    flags = ("" if a["active"] else " 已停用") + (
                        " 待改密码" if a["must_change_password"] else ""
                    )
                    where = a["jurisdiction_code"] or a["department_code"] or a["worker_code"] or ""
                    print(f"{a['username']:<20} {a['role']:<20} {where:<16} {a['display_name']}{flags}")
                return 0
            if not args.username:
                print("a username is required", file=sys.stderr)
                return 2
            if args.action == "add":
                if not (args.name and args.role):
                    print("add needs --name and --role", file=sys.stderr)
                    return 2
                acc, password = accounts.add(
                    conn, actor, accounts.Account(args.username, args.name, args.role, **place)
                )
                print(
                    f"{acc['username']} created; one-time password (changed at the first login): {password}"
                )
            elif args.action == "reset-password":
                acc, password = accounts.reset_password(conn, actor, args.username)
                print(f"{acc['username']}: new one-time password: {password}")
            elif args.action in ("disable", "enable"):
                accounts.set_active(conn, actor, args.username, args.action == "enable")
                print(f"{args.username} {args.action}d")
            elif args.action == "set-role":
                acc = accounts.account(conn, args.username)
                accounts.set_role(
                    conn,
                    actor,
                    accounts.Account(args.username, acc["display_name"], args.role or acc["role"], **place),
                )
                print(f"{args.username} is now {args.role or acc['role']}")
    except OneGridError as exc:
        print(f"refused: {exc.detail} ({exc.where})", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0
