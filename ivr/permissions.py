"""The one permission table: which role may do what. Pure data and one check, no IO.

Every console API route declares the single :class:`Permission` it needs
(``console.api.deps.require``), every CLI command that acts for a person checks the same table
(``console.identity.cli_principal`` then :func:`allowed`), and the recording vault and the
callback desk check their actors against it too (``records.access.may``), so a role's rights
are read and changed in one place: :data:`TABLE`. A kernel module: it imports nothing but the
standard library, so every package (``console``, ``records``, ``campaigns``) can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    """The console's roles (a user has exactly one)."""

    ADMIN = "admin"
    DESIGNER = "designer"
    COMPLIANCE_OFFICER = "compliance_officer"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    AUDITOR = "auditor"
    CAMPAIGN_MANAGER = "campaign_manager"


class Permission(StrEnum):
    """One capability × action. Names are ``capability.action``."""

    DASHBOARD_VIEW = "dashboard.view"
    USERS_READ = "users.read"
    USERS_MANAGE = "users.manage"
    FLOWS_READ = "flows.read"
    FLOWS_EDIT = "flows.edit"  # save drafts, submit them for publishing
    FLOWS_SIMULATE = "flows.simulate"
    FLOWS_ROLLBACK = "flows.rollback"
    PROMPTS_EDIT = "prompts.edit"  # ordinary wording
    PROMPTS_EDIT_REGULATED = "prompts.edit_regulated"  # disclosure and risk-warning wording
    CHANGES_READ = "changes.read"
    CHANGES_APPROVE = "changes.approve"  # four-eyes approval of flow, prompt and rules changes
    RULES_READ = "rules.read"
    RULES_EDIT = "rules.edit"
    RULES_RELOAD = "rules.reload"
    GATE_CHECK = "gate.check"
    DNC_CHECK = "dnc.check"
    DNC_LIST = "dnc.list"
    DNC_ADD = "dnc.add"
    DNC_REMOVE = "dnc.remove"
    CONSENT_READ = "consent.read"
    CONSENT_GRANT = "consent.grant"
    CONSENT_REVOKE = "consent.revoke"
    RECORDINGS_SEARCH = "recordings.search"
    RECORDINGS_PLAY = "recordings.play"
    RECORDINGS_EXPORT = "recordings.export"
    RECORDINGS_MAINTAIN = "recordings.maintain"  # purge past retention, rewrap data keys
    RECORDINGS_DELETE = "recordings.delete"  # delete one recording past retention (the vault)
    NUMBERS_UNMASK = "numbers.unmask"
    EVIDENCE_READ = "evidence.read"
    EVIDENCE_VERIFY = "evidence.verify"
    CAMPAIGNS_READ = "campaigns.read"  # campaigns, their status and masked results
    CAMPAIGNS_MANAGE = "campaigns.manage"  # create, import lists, start/pause/resume/stop
    QA_READ = "qa.read"  # per-call QA results and their hits
    QA_ALERTS = "qa.alerts"  # the live alert stream (supervisor view)
    QA_REPORTS = "qa.reports"  # daily/weekly QA reports (HTML, PDF)
    QA_BATCH = "qa.batch"  # start batch QA of stored recordings
    AGENT_DESK = "agents.desk"  # one's own desk: status, screen pops
    AGENTS_READ = "agents.read"
    AGENTS_MANAGE = "agents.manage"  # bind users to mod_callcenter agents
    CALLER_UNMASK = "calls.unmask"  # the clear number of a screen pop (audited)
    TICKETS_READ = "tickets.read"
    TICKETS_WORK = "tickets.work"
    CALLBACKS_WORK = "callbacks.work"  # claim a callback ticket, place the gated call back
    WEBHOOKS_READ = "webhooks.read"  # the outbox and its dead letters
    WEBHOOKS_RETRY = "webhooks.retry"


P = Permission
_EVERYONE = frozenset({P.DASHBOARD_VIEW})

TABLE: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        # runs the system and its users; sees no customer data
        Role.ADMIN: _EVERYONE
        | {
            P.USERS_READ,
            P.USERS_MANAGE,
            P.FLOWS_READ,
            P.CHANGES_READ,
            P.RULES_READ,
            P.RULES_RELOAD,
            P.RECORDINGS_MAINTAIN,
            P.EVIDENCE_VERIFY,
            P.CAMPAIGNS_READ,
            P.CAMPAIGNS_MANAGE,
            P.AGENTS_READ,
            P.AGENTS_MANAGE,
            P.WEBHOOKS_READ,
            P.WEBHOOKS_RETRY,
        },
        # draws flows and ordinary prompts; publishing regulated parts needs an officer
        Role.DESIGNER: _EVERYONE
        | {
            P.FLOWS_READ,
            P.FLOWS_EDIT,
            P.FLOWS_SIMULATE,
            P.FLOWS_ROLLBACK,
            P.PROMPTS_EDIT,
            P.CHANGES_READ,
            P.RULES_READ,
            P.GATE_CHECK,
        },
        Role.COMPLIANCE_OFFICER: _EVERYONE
        | {
            P.FLOWS_READ,
            P.FLOWS_EDIT,
            P.FLOWS_SIMULATE,
            P.FLOWS_ROLLBACK,
            P.PROMPTS_EDIT,
            P.PROMPTS_EDIT_REGULATED,
            P.CHANGES_READ,
            P.CHANGES_APPROVE,
            P.RULES_READ,
            P.RULES_EDIT,
            P.RULES_RELOAD,
            P.GATE_CHECK,
            P.DNC_CHECK,
            P.DNC_LIST,
            P.DNC_ADD,
            P.DNC_REMOVE,
            P.CONSENT_READ,
            P.CONSENT_GRANT,
            P.CONSENT_REVOKE,
            P.RECORDINGS_SEARCH,
            P.RECORDINGS_PLAY,
            P.RECORDINGS_EXPORT,
            P.RECORDINGS_MAINTAIN,
            P.RECORDINGS_DELETE,
            P.NUMBERS_UNMASK,
            P.EVIDENCE_READ,
            P.EVIDENCE_VERIFY,
            P.QA_READ,
            P.QA_ALERTS,
            P.QA_REPORTS,
            P.QA_BATCH,
            P.TICKETS_READ,
            P.WEBHOOKS_READ,
        },
        # runs the floor: listens to calls, sees masked data
        Role.SUPERVISOR: _EVERYONE
        | {
            P.FLOWS_READ,
            P.CHANGES_READ,
            P.RULES_READ,
            P.GATE_CHECK,
            P.DNC_CHECK,
            P.DNC_LIST,
            P.DNC_ADD,
            P.CONSENT_READ,
            P.CONSENT_REVOKE,
            P.RECORDINGS_SEARCH,
            P.RECORDINGS_PLAY,
            P.CAMPAIGNS_READ,
            P.CAMPAIGNS_MANAGE,
            P.QA_READ,
            P.QA_ALERTS,
            P.QA_REPORTS,
            P.QA_BATCH,
            P.AGENT_DESK,
            P.AGENTS_READ,
            P.AGENTS_MANAGE,
            P.CALLER_UNMASK,
            P.TICKETS_READ,
            P.TICKETS_WORK,
            P.CALLBACKS_WORK,
            P.WEBHOOKS_READ,
        },
        # talks to customers: records what they say (DNC, consent), nothing more
        Role.AGENT: _EVERYONE
        | {
            P.DNC_CHECK,
            P.DNC_ADD,
            P.CONSENT_READ,
            P.CONSENT_GRANT,
            P.CONSENT_REVOKE,
            P.AGENT_DESK,
            P.TICKETS_READ,
            P.TICKETS_WORK,
            P.CALLBACKS_WORK,
        },
        # reads everything that is evidence, changes nothing
        Role.AUDITOR: _EVERYONE
        | {
            P.FLOWS_READ,
            P.CHANGES_READ,
            P.RULES_READ,
            P.GATE_CHECK,
            P.DNC_CHECK,
            P.DNC_LIST,
            P.CONSENT_READ,
            P.RECORDINGS_SEARCH,
            P.RECORDINGS_PLAY,
            P.RECORDINGS_EXPORT,
            P.EVIDENCE_READ,
            P.EVIDENCE_VERIFY,
            P.CAMPAIGNS_READ,
            P.QA_READ,
            P.QA_REPORTS,
            P.TICKETS_READ,
            P.WEBHOOKS_READ,
        },
        # runs outbound campaigns: lists, the dialler's controls, masked results; checks a
        # number against DNC; no recordings, no clear numbers, no flows or rules to change
        Role.CAMPAIGN_MANAGER: _EVERYONE
        | {
            P.DNC_CHECK,
            P.CAMPAIGNS_READ,
            P.CAMPAIGNS_MANAGE,
        },
    }
)


def parse_role(text: str) -> Role:
    """The role named ``text``; ``ValueError`` naming the valid ones otherwise."""
    try:
        return Role(text)
    except ValueError:
        raise ValueError(
            f"unknown role {text!r}; roles: {', '.join(r.value for r in Role)}"
        ) from None


def allowed(role: Role | str, permission: Permission) -> bool:
    """May ``role`` do ``permission``? Unknown roles may do nothing."""
    try:
        return permission in TABLE[Role(role)]
    except ValueError:
        return False


def roles_with(permission: Permission) -> frozenset[Role]:
    """Every role that holds ``permission`` (for help texts and the role matrix test)."""
    return frozenset(role for role, perms in TABLE.items() if permission in perms)
