"""`rigging-indexer admin`: what an operator does before anyone can sign in — a first (admin)
user, a namespace assigned to someone (one a crawled registry already holds packages in cannot be
claimed through the API), a token for a service account. Everything else goes through the API.

    rigging-indexer admin user add alice [--admin]
    rigging-indexer admin namespace assign acme --owner alice [--private]
    rigging-indexer admin namespace moderation acme flagged   (none|flagged|all, or default: the instance's)
    rigging-indexer admin token create --user alice --scope read,publish [--namespace acme] [--days 30]
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from rigging.errors import RiggingError, UsageError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rigging_indexer.models import Namespace, User

LOCAL_ISSUER = "rigging-indexer:admin"  # users made here, not by an identity provider


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_subparsers(dest="admin_command", required=True, metavar="WHAT")
    user = what.add_parser("user", help="users").add_subparsers(dest="action", required=True, metavar="ACTION")
    add = user.add_parser("add", help="add a local account (service accounts, bootstrapping); people sign in instead")
    add.add_argument("username")
    add.add_argument("--admin", action="store_true", help="sees every namespace and the crawl problems")
    namespace = what.add_parser("namespace", help="namespaces").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    assign = namespace.add_parser("assign", help="give a namespace to a user (claimed or not)")
    assign.add_argument("name")
    assign.add_argument("--owner", required=True, metavar="USERNAME")
    assign.add_argument("--private", action="store_true")
    moderation = namespace.add_parser("moderation", help="a namespace's moderation, overriding the instance's")
    moderation.add_argument("name")
    moderation.add_argument("mode", choices=("none", "flagged", "all", "default"))
    token = what.add_parser("token", help="access tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = token.add_parser("create", help="make a token and print it (once)")
    create.add_argument("--user", required=True, metavar="USERNAME")
    create.add_argument("--name", default="admin-issued")
    create.add_argument("--scope", default="read", help="read, publish or read,publish")
    create.add_argument("--namespace", action="append", help="narrow the token to this namespace (repeatable)")
    create.add_argument("--days", type=int, default=90)


def run(args: argparse.Namespace, factory: sessionmaker[Session]) -> int:
    with factory() as s:
        if args.admin_command == "user":
            line = _add_user(s, args.username, args.admin)
        elif args.admin_command == "namespace" and args.action == "moderation":
            line = _moderation(s, args.name, args.mode)
        elif args.admin_command == "namespace":
            line = _assign(s, args.name, args.owner, args.private)
        else:
            line = _token(s, args)
        s.commit()
    print(line)
    return 0


def _user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise UsageError(f"no user {username!r}; add one with `rigging-indexer admin user add {username}`")
    return user


def _add_user(s: Session, username: str, admin: bool) -> str:
    from rigging_indexer.auth.namespaces import valid_name

    if not valid_name(username):
        raise UsageError(f"user name {username!r}: use lowercase a-z, 0-9 and single '-' between them")
    found = s.scalar(select(User).where(User.username == username))
    if found is not None:
        found.admin = found.admin or admin
        return f"user {username} exists" + (" (now an admin)" if admin else "")
    s.add(User(issuer=LOCAL_ISSUER, subject=username, username=username, admin=admin))
    return f"added user {username}" + (" (admin)" if admin else "")


def _assign(s: Session, name: str, owner: str, private: bool) -> str:
    from rigging_indexer.auth.namespaces import valid_name

    if not valid_name(name):
        raise UsageError(f"namespace {name!r}: use lowercase a-z, 0-9 and single '.', '_' or '-' between them")
    user = _user(s, owner)
    namespace = s.scalar(select(Namespace).where(Namespace.name == name))
    if namespace is None:
        namespace = Namespace(name=name)
        s.add(namespace)
    namespace.owner_user_id, namespace.owner_organisation_id, namespace.private = user.id, None, private
    return f"namespace {name} belongs to {owner} ({'private' if private else 'public'})"


def _moderation(s: Session, name: str, mode: str) -> str:
    """Moderation applies to versions indexed from now on; those already held stay for a reviewer."""
    namespace = s.scalar(select(Namespace).where(Namespace.name == name))
    if namespace is None:
        raise UsageError(f"no namespace {name!r}; assign it first (`rigging-indexer admin namespace assign`)")
    namespace.moderation = None if mode == "default" else mode
    return f"namespace {name}: moderation {mode}"


def _token(s: Session, args: argparse.Namespace) -> str:
    from rigging_indexer.auth.tokens import MAX_DAYS, issue

    scopes = sorted({part.strip() for part in args.scope.split(",") if part.strip()})
    if not scopes or set(scopes) - {"read", "publish"}:
        raise UsageError(f"--scope {args.scope!r}: use read, publish or read,publish")
    if not 1 <= args.days <= MAX_DAYS:
        raise UsageError(f"--days {args.days}: between 1 and {MAX_DAYS}")
    user = _user(s, args.user)
    if user.disabled:
        raise RiggingError(f"user {args.user} is disabled")
    _, plaintext = issue(
        s,
        user_id=user.id,
        name=args.name,
        scopes=scopes,
        namespaces=args.namespace,
        lifetime=timedelta(days=args.days),
    )
    return plaintext
