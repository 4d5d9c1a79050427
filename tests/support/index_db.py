"""A fresh index database per test, on PostgreSQL or SQLite.

Only a PostgreSQL server that does not answer skips (through `unavailable`, so CI fails); a
migration that breaks is an error in the test, never a skip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker


@contextlib.contextmanager
def fresh_index(dialect: str, tmp_path: Path, revision: str = "head") -> Iterator[tuple[str, sessionmaker[Session]]]:
    """A new index (SQLite file or throw-away PostgreSQL database) at schema `revision`: an earlier
    one makes an index as an older release left it, for migration tests."""
    from rigging_indexer.db import make_engine, migrate, sessions

    with contextlib.ExitStack() as stack:
        if dialect == "sqlite":
            url = f"sqlite:///{tmp_path / 'index.db'}"
        else:
            from tests.support.postgres import required_database

            url = stack.enter_context(required_database())
        engine = make_engine(url)
        stack.callback(engine.dispose)
        migrate(engine, revision)
        yield url, sessions(engine)


def index_version(
    sessions: sessionmaker[Session],
    name: str,
    version: str = "1.0.0",
    *,
    description: str = "",
    keywords: tuple[str, ...] | list[str] = (),
    readme: str = "",
    signed: bool = False,
    downloads: int = 0,
    targets: tuple[str, ...] | list[str] = (),
    dependencies: dict[str, str] | None = None,
    source: str = "http://registry.test",
) -> str:
    """A version written as the crawler writes one (no registry behind it); its manifest digest."""
    from rigging_indexer import store
    from rigging_indexer.models import Package

    digest = "sha256:" + f"{abs(hash((name, version))):064x}"[-64:]
    with sessions() as s:
        repo = store.repository(s, store.source(s, source), name)
        row = store.upsert_version(
            s,
            repo,
            store.IndexedVersion(
                name=name,
                version=version,
                manifest_digest=digest,
                content_digest=digest.replace("sha256:", "sha256:c")[:71],
                content_size=1,
                config={
                    "name": name,
                    "version": version,
                    "description": description,
                    "keywords": list(keywords),
                    "targets": list(targets),
                    "dependencies": dict(dependencies or {}),
                },
                readme=readme,
                signed_by=["bundle"] if signed else [],
            ),
        )
        store.set_tag(s, repo, version, digest)
        package = s.get(Package, row.package_id)
        assert package is not None
        package.downloads = downloads
        store.refresh_latest(s, {row.package_id})
        s.commit()
        return digest


# -- accounts, as rows: what sign-in and the token pages would have written -----------------------


def add_user(sessions: sessionmaker[Session], username: str, *, admin: bool = False) -> int:
    from rigging_indexer.models import User

    with sessions() as s:
        user = User(issuer="https://issuer.test", subject=username, username=username, admin=admin)
        s.add(user)
        s.commit()
        return user.id


def add_namespace(
    sessions: sessionmaker[Session], name: str, *, owner: int, private: bool, members: dict[int, str] | None = None
) -> None:
    """A namespace owned by user `owner`, or, with `members` ({user id: role}), by an organisation
    of the same name that `owner` owns and they belong to."""
    from rigging_indexer.models import Membership, Namespace, Organisation

    with sessions() as s:
        if members is None:
            s.add(Namespace(name=name, owner_user_id=owner, private=private))
        else:
            org = Organisation(name=name)
            s.add(org)
            s.flush()
            for user_id, role in {owner: "owner", **members}.items():
                s.add(Membership(organisation_id=org.id, user_id=user_id, role=role))
            s.add(Namespace(name=name, owner_organisation_id=org.id, private=private))
        s.commit()


def add_token(
    sessions: sessionmaker[Session],
    user_id: int,
    *,
    expires_in: float = 3600,
    revoked: bool = False,
    scopes: tuple[str, ...] = ("read",),
) -> str:
    """A token's plaintext (`rig_` + random); the index keeps only its hash, as the token page does."""
    import secrets
    from datetime import timedelta

    from rigging_indexer.access import TOKEN_PREFIX, hash_token, now
    from rigging_indexer.models import AccessToken

    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with sessions() as s:
        s.add(
            AccessToken(
                user_id=user_id,
                name="test",
                hash=hash_token(plaintext),
                hint=plaintext[:8],
                scopes=list(scopes),
                expires=now() + timedelta(seconds=expires_in),
                revoked=now() if revoked else None,
            )
        )
        s.commit()
    return plaintext
