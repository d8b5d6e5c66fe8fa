"""Administration: people's accounts. The list with each account's state and last
sign-in, making one (its password shown once), and on an account's own page
disabling it (after a confirmation: its sessions end at once), enabling it again,
resetting its password (shown once; its sessions end) and changing its role (its
token row stays, so the access audit keeps naming the person)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession
from api.limits import GatedRoute
from registry.accounts import create_user, reset_password
from registry.administration.accounts import (
    account_views,
    change_role,
    disable_account,
    enable_user,
    find_user,
)
from registry.errors import Conflict, InvalidInput, NotFound
from registry.storage.models import UserAccount
from web.render import page
from web.routes._admin import (
    Admin,
    confirm_page,
    field,
    missing,
    problems,
    role_choices,
    role_names,
    show_once,
)
from web.security import CheckedForm

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)
_log = logging.getLogger("registry.admin")
_NEW_FIELDS = ("username", "display_name", "role", "company_code", "company_name")


def _users_page(
    request: Request,
    session: DbSession,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    *,
    status: int = 200,
) -> Response:
    return page(
        request,
        "admin/users.html",
        {
            "section": "users",
            "accounts": account_views(session),
            "choices": role_choices(session, people=True),
            "role_names": role_names(session),
            "values": values or {},
            "errors": errors or {},
        },
        status=status,
    )


@router.get("/admin/users")
def users(request: Request, user: Admin, session: DbSession) -> Response:
    """Every account with its state and last sign-in, and the form to make one."""
    return _users_page(request, session)


@router.post("/admin/users")
def user_create(request: Request, user: Admin, session: DbSession, form: CheckedForm) -> Response:
    """Make an account and show its password, once; a bad form is shown again with
    each problem beside its field, and nothing is made."""
    values = {name: field(form, name) for name in _NEW_FIELDS}
    role = values["role"]
    try:
        made, password = create_user(
            session,
            values["username"],
            role=role,
            display_name=values["display_name"] or None,
            company_code=(values["company_code"] or None) if role == "verifier" else None,
            company_name=(values["company_name"] or None) if role == "verifier" else None,
        )
    except (InvalidInput, NotFound, Conflict) as exc:
        session.rollback()
        return _users_page(request, session, values, problems(request, exc, "username"), status=422)
    _log.info("%s made the account %s (%s)", user.username, made.username, made.role)
    return show_once(request, user, _shown("new-user", made, password))


def _shown(kind: str, account: UserAccount, password: str) -> dict[str, str]:
    """What the page that shows a password once says: whose it is, and the password."""
    return {
        "kind": kind,
        "secret": password,
        "username": account.username,
        "display_name": account.display_name,
    }


def _account_page(
    request: Request,
    session: DbSession,
    username: str,
    errors: dict[str, list[str]] | None = None,
    *,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    try:
        account = find_user(session, username)
    except NotFound:
        return missing(request)
    view = next(v for v in account_views(session) if v.user.id == account.id)
    return page(
        request,
        "admin/user.html",
        {
            "section": "users",
            "view": view,
            "choices": role_choices(session, people=True),
            "role_names": role_names(session),
            "values": values or {},
            "errors": errors or {},
            "done": request.query_params.get("done", ""),
        },
        status=status,
    )


@router.get("/admin/users/{username}")
def user_page(request: Request, username: str, user: Admin, session: DbSession) -> Response:
    """One account: who, role, state, last sign-in, and what may be done with it."""
    return _account_page(request, session, username)


def _confirm(request: Request, session: DbSession, username: str, what: str) -> Response:
    try:
        account = find_user(session, username)
    except NotFound:
        return missing(request)
    return confirm_page(
        request,
        {
            "section": "users",
            "what": what,
            "account": account,
            "action": f"/admin/users/{account.username}/{what}",
            "back": f"/admin/users/{account.username}",
        },
    )


@router.get("/admin/users/{username}/disable")
def disable_confirm(request: Request, username: str, user: Admin, session: DbSession) -> Response:
    """Whether to disable the account: what it does, and the button."""
    return _confirm(request, session, username, "disable")


@router.post("/admin/users/{username}/disable")
def disable(
    request: Request, username: str, user: Admin, session: DbSession, form: CheckedForm
) -> Response:
    """Disable the account: it can no longer sign in and its sessions end now. Not
    one's own account, nor the last active administrator (409, nothing changed)."""
    try:
        done = disable_account(session, username, by=user.username)
    except NotFound:
        return missing(request)
    except Conflict as exc:
        session.rollback()
        return _account_page(
            request, session, username, problems(request, exc, "state"), status=409
        )
    _log.info("%s disabled the account %s", user.username, done.username)
    return RedirectResponse(f"/admin/users/{done.username}?done=disabled", status_code=303)


@router.post("/admin/users/{username}/enable")
def enable(
    request: Request, username: str, user: Admin, session: DbSession, form: CheckedForm
) -> Response:
    """Let a disabled account sign in again, with the password it had."""
    try:
        done = enable_user(session, username)
    except NotFound:
        return missing(request)
    except Conflict as exc:
        session.rollback()
        return _account_page(
            request, session, username, problems(request, exc, "state"), status=409
        )
    _log.info("%s enabled the account %s", user.username, done.username)
    return RedirectResponse(f"/admin/users/{done.username}?done=enabled", status_code=303)


@router.get("/admin/users/{username}/reset")
def reset_confirm(request: Request, username: str, user: Admin, session: DbSession) -> Response:
    """Whether to reset the account's password: what it does, and the button."""
    return _confirm(request, session, username, "reset")


@router.post("/admin/users/{username}/reset")
def reset(
    request: Request, username: str, user: Admin, session: DbSession, form: CheckedForm
) -> Response:
    """Make a new password, shown once; the account's sessions end and a lock-out is
    lifted."""
    try:
        done, password = reset_password(session, username)
    except NotFound:
        return missing(request)
    _log.info("%s reset the password of %s", user.username, done.username)
    return show_once(request, user, _shown("reset", done, password))


@router.post("/admin/users/{username}/role")
def role(
    request: Request, username: str, user: Admin, session: DbSession, form: CheckedForm
) -> Response:
    """Give the account another role (an employer's names its company); the form is
    shown again with its problems, nothing changed, if it cannot be."""
    values = {name: field(form, name) for name in ("role", "company_code", "company_name")}
    try:
        done = change_role(
            session,
            username,
            role=values["role"],
            by=user.username,
            company_code=values["company_code"] or None,
            company_name=values["company_name"] or None,
        )
    except NotFound:
        return missing(request)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        # A clash is about the account, not a field: shown above, as disabling's is.
        errors = problems(request, exc, "state" if isinstance(exc, Conflict) else "role")
        return _account_page(request, session, username, errors, values=values, status=422)
    _log.info("%s gave the account %s the role %s", user.username, done.username, done.role)
    return RedirectResponse(f"/admin/users/{done.username}?done=role", status_code=303)
