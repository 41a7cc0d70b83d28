"""Permissions per action and the roles that grant them; every route declares one."""

from __future__ import annotations

from enum import StrEnum
from typing import Callable

from app.auth.models import Role


class Permission(StrEnum):
    """One action a user or token may take."""

    public = "public"  # no sign-in needed (login page, health, acknowledgement links)
    datamap_read = "datamap:read"
    datamap_write = "datamap:write"
    incident_read = "incident:read"
    incident_write = "incident:write"
    obligation_decide = "obligation:decide"  # mark "not required", approve risk decisions
    assessment_decide = "assessment:decide"  # record a risk assessment and its notify / do-not-notify decision
    notification_draft = "notification:draft"
    notification_approve = "notification:approve"
    users_manage = "users:manage"


_ROLE_GRANTS: dict[Role, set[Permission]] = {
    Role.viewer: {Permission.datamap_read, Permission.incident_read},
    Role.responder: {Permission.incident_write, Permission.notification_draft},
    Role.lead: {Permission.datamap_write, Permission.obligation_decide, Permission.notification_approve,
                Permission.assessment_decide},
    Role.admin: {Permission.users_manage},
}


def permissions_of(role: Role | str) -> set[Permission]:
    """All permissions a role has, including those of the roles below it."""
    role = Role(role)
    granted = {Permission.public}
    for r in Role:
        if role.at_least(r):
            granted |= _ROLE_GRANTS[r]
    return granted


def is_write(permission: Permission) -> bool:
    """True for permissions that change state (API tokens need the write scope)."""
    return permission.value.split(":")[-1] in {"write", "decide", "draft", "approve", "manage"}


def declare(permission: Permission) -> Callable:
    """Mark a view function with the permission it needs (read by the auth checks and by tests)."""

    def mark(view: Callable) -> Callable:
        view.permission = permission
        return view

    return mark
