"""Namespaces and organisations (/api/v1): claim a namespace, make it private or public, create an
organisation and manage its members' roles.

A namespace is claimed by a user for themselves or for an organisation they own; its first claim
wins, except that a namespace the index already holds packages in (from a crawled registry) is
assigned by an admin, so nobody claims someone else's published name. Owners change visibility;
owners and maintainers publish; readers read a private namespace; reviewers moderate (later).

A private namespace answers exactly as an unclaimed one does to anyone who may not read it
(404, the same words), so its existence does not leak.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from rigging.names import name_problem
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rigging_indexer.access import Viewer
from rigging_indexer.auth.tokens import account_holder, caller, csrf_checked, may_change, presenting_token
from rigging_indexer.models import Membership, Namespace, Organisation, Package, User

MAX_NAME = 64
NAME_RULE = "lowercase a-z and 0-9, with single '.', '_', '__' or '-' between them, at most 64 characters"


def valid_name(name: str) -> bool:
    """A namespace or organisation name: one component of a package name."""
    return len(name) <= MAX_NAME and "/" not in name and name_problem(f"{name}/x") is None


class NewNamespace(BaseModel):
    name: str = Field(max_length=MAX_NAME)
    organisation: str | None = Field(None, description="claim it for this organisation (you must own it)")
    private: bool = False


class NamespaceChange(BaseModel):
    private: bool


class NewOrganisation(BaseModel):
    name: str = Field(max_length=MAX_NAME)


class MemberRole(BaseModel):
    role: Literal["owner", "maintainer", "reader", "reviewer"]


def _hidden(name: str) -> HTTPException:
    return HTTPException(404, f"namespace {name} is not claimed")


def _owner(s: Session, namespace: Namespace) -> dict[str, str]:
    if namespace.owner_user_id is not None:
        user = s.get(User, namespace.owner_user_id)
        return {"kind": "user", "name": user.username if user else ""}
    organisation = s.get(Organisation, namespace.owner_organisation_id)
    return {"kind": "organisation", "name": organisation.name if organisation else ""}


def _account_wide(s: Session, viewer: Viewer) -> None:
    """Claims and organisations are the whole account's business: a token narrowed to some
    namespaces may not do them."""
    token = presenting_token(s, viewer)
    if token is not None and token.namespaces is not None:
        raise HTTPException(403, "this token is limited to some namespaces; use an unrestricted token or sign in")


def _naming(s: Session, request: Request, name: str, what: str) -> Viewer:
    """The caller about to give `name` to a new namespace or organisation: a user, with the whole
    account's authority; and the name, checked."""
    viewer = account_holder(request, change=True)
    _account_wide(s, viewer)
    if not valid_name(name):
        raise HTTPException(400, f"{what} name is {NAME_RULE}")
    return viewer


def _organisation_role(s: Session, organisation: Organisation, user_id: int | None) -> str | None:
    return s.scalar(
        select(Membership.role).where(Membership.organisation_id == organisation.id, Membership.user_id == user_id)
    )


def router(settings: Any, session: Callable[[], Iterator[Session]]) -> APIRouter:
    routes = APIRouter()
    del settings  # the session dependency carries all this module needs

    @routes.post("/namespaces", status_code=201, dependencies=[Depends(csrf_checked)])
    def claim(body: NewNamespace, request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        """Claim a namespace for yourself or for an organisation you own."""
        viewer = _naming(s, request, body.name, "a namespace")
        namespace = Namespace(name=body.name, private=body.private)
        if body.organisation is None:
            namespace.owner_user_id = viewer.user_id
        else:
            organisation = s.scalar(select(Organisation).where(Organisation.name == body.organisation))
            role = _organisation_role(s, organisation, viewer.user_id) if organisation else None
            if organisation is None or role is None:
                raise HTTPException(404, f"you are not a member of an organisation {body.organisation}")
            if role != "owner":
                raise HTTPException(403, f"only owners of {organisation.name} may claim namespaces for it")
            namespace.owner_organisation_id = organisation.id
        if s.scalar(select(Namespace.id).where(Namespace.name == body.name)) is not None:
            raise HTTPException(409, f"namespace {body.name} is claimed already")
        published = s.scalar(select(func.count()).select_from(Package).where(Package.namespace == body.name))
        if published and not viewer.admin:
            raise HTTPException(
                409, f"the index already holds packages in {body.name}; an admin assigns such a namespace"
            )
        s.add(namespace)
        try:
            s.commit()
        except IntegrityError:  # claimed at the same moment by another request
            raise HTTPException(409, f"namespace {body.name} is claimed already") from None
        return {"name": namespace.name, "owner": _owner(s, namespace), "private": namespace.private}

    @routes.get("/namespaces/{name}")
    def show(name: str, request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        """A claimed namespace: its owner, visibility and your role in it."""
        viewer = request.app.state.viewer(request)
        namespace = s.scalar(select(Namespace).where(Namespace.name == name))
        if namespace is None or not viewer.may_read(name, namespace.private):
            raise _hidden(name)
        return {
            "name": namespace.name,
            "owner": _owner(s, namespace),
            "private": namespace.private,
            "role": viewer.roles.get(name),
        }

    @routes.patch("/namespaces/{name}", dependencies=[Depends(csrf_checked)])
    def change(name: str, body: NamespaceChange, request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        """Make a namespace private or public (its owners only)."""
        viewer = caller(request, change=True)
        namespace = s.scalar(select(Namespace).where(Namespace.name == name))
        if namespace is None or not viewer.may_read(name, namespace.private):
            raise _hidden(name)
        if viewer.roles.get(name) != "owner" and not viewer.admin:
            raise HTTPException(403, f"only owners of {name} may change its visibility")
        namespace.private = body.private
        s.commit()
        return {"name": namespace.name, "owner": _owner(s, namespace), "private": namespace.private}

    @routes.post("/organisations", status_code=201, dependencies=[Depends(csrf_checked)])
    def create_organisation(body: NewOrganisation, request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        """A new organisation; you are its first owner."""
        viewer = _naming(s, request, body.name, "an organisation")
        organisation = Organisation(name=body.name)
        s.add(organisation)
        try:
            s.flush()
        except IntegrityError:
            raise HTTPException(409, f"organisation {body.name} exists already") from None
        s.add(Membership(organisation_id=organisation.id, user_id=viewer.user_id, role="owner"))
        s.commit()
        return {"name": organisation.name, "members": [{"username": viewer.username, "role": "owner"}]}

    def _organisation(s: Session, name: str, viewer: Viewer) -> tuple[Organisation, str]:
        """The organisation and the caller's role in it; 404 for outsiders, as for a missing one."""
        organisation = s.scalar(select(Organisation).where(Organisation.name == name))
        role = _organisation_role(s, organisation, viewer.user_id) if organisation else None
        if organisation is None or role is None:
            raise HTTPException(404, f"you are not a member of an organisation {name}")
        return organisation, role

    def _members(s: Session, organisation: Organisation) -> dict[str, Any]:
        rows = s.execute(
            select(User.username, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organisation_id == organisation.id)
            .order_by(User.username)
        )
        namespaces = s.scalars(
            select(Namespace.name).where(Namespace.owner_organisation_id == organisation.id).order_by(Namespace.name)
        )
        return {
            "name": organisation.name,
            "members": [{"username": u, "role": r} for u, r in rows],
            "namespaces": list(namespaces),
        }

    @routes.get("/organisations/{name}")
    def show_organisation(name: str, request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        """An organisation's members and namespaces (for its members)."""
        organisation, _ = _organisation(s, name, account_holder(request))
        return _members(s, organisation)

    @routes.put("/organisations/{name}/members/{username}", dependencies=[Depends(csrf_checked)])
    def set_member(
        name: str, username: str, body: MemberRole, request: Request, s: Session = Depends(session)
    ) -> dict[str, Any]:
        """Add a member or change their role (owners only)."""
        viewer = account_holder(request, change=True)
        _account_wide(s, viewer)
        organisation, role = _organisation(s, name, viewer)
        if role != "owner":
            raise HTTPException(403, f"only owners of {name} manage its members")
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise HTTPException(404, f"no user {username} has signed in here")
        membership = s.scalar(
            select(Membership).where(Membership.organisation_id == organisation.id, Membership.user_id == user.id)
        )
        if membership is None:
            s.add(Membership(organisation_id=organisation.id, user_id=user.id, role=body.role))
        else:
            if membership.role == "owner" and body.role != "owner":
                _keep_an_owner(s, organisation)
            membership.role = body.role
        s.commit()
        return _members(s, organisation)

    @routes.delete("/organisations/{name}/members/{username}", status_code=204, dependencies=[Depends(csrf_checked)])
    def remove_member(name: str, username: str, request: Request, s: Session = Depends(session)) -> Response:
        """Remove a member (owners), or leave (anyone, for themselves)."""
        viewer = account_holder(request)
        _account_wide(s, viewer)
        organisation, role = _organisation(s, name, viewer)
        if username != viewer.username:
            may_change(viewer)
            if role != "owner":
                raise HTTPException(403, f"only owners of {name} manage its members")
        membership = s.scalar(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organisation_id == organisation.id, User.username == username)
        )
        if membership is None:
            raise HTTPException(404, f"{username} is not a member of {name}")
        if membership.role == "owner":
            _keep_an_owner(s, organisation)
        s.delete(membership)
        s.commit()
        return Response(status_code=204)

    def _keep_an_owner(s: Session, organisation: Organisation) -> None:
        owners = s.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organisation_id == organisation.id, Membership.role == "owner")
        )
        if (owners or 0) <= 1:
            raise HTTPException(409, f"{organisation.name} would have no owner left; make someone else owner first")

    return routes
