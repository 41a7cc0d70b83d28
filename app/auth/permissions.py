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
    incident_restrict = "incident:restrict"  # make an incident need-to-know and manage its members
    obligation_decide = "obligation:decide"  # mark "not required", approve risk decisions
    assessment_decide = "assessment:decide"  # record a risk assessment and its notify / do-not-notify decision
    notification_draft = "notification:draft"
    notification_approve = "notification:approve"
    audit_read = "audit:read"  # the security audit log (sign-ins, token use, exports, denials)
    users_manage = "users:manage"
    subjects_manage = "subjects:manage"  # issue 10: affected-subject lists, access and erasure requests, retention


_ROLE_GRANTS: dict[Role, set[Permission]] = {
    Role.viewer: {Permission.datamap_read, Permission.incident_read},
    Role.responder: {Permission.incident_write, Permission.notification_draft},
    Role.lead: {Permission.datamap_write, Permission.obligation_decide, Permission.notification_approve,
                Permission.assessment_decide, Permission.incident_restrict,
                Permission.subjects_manage},  # subjects_manage: issue 10
    Role.admin: {Permission.users_manage, Permission.audit_read},
}

# Verbs that change state: an API token needs the write scope for them.
_WRITE_VERBS = {"write", "decide", "draft", "approve", "manage", "restrict"}


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
    return permission.value.split(":")[-1] in _WRITE_VERBS


def declare(permission: Permission) -> Callable:
    """Mark a view function with the permission it needs (read by the auth checks and by tests)."""

    def mark(view: Callable) -> Callable:
        view.permission = permission
        return view

    return mark
