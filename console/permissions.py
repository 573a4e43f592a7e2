"""The console's view of the one permission table (:mod:`ivr.permissions`, the kernel module
that the console, the recording vault and every CLI share): re-exported here so console code
keeps importing ``console.permissions``."""

from __future__ import annotations

from ivr.permissions import TABLE, P, Permission, Role, allowed, parse_role, roles_with

__all__ = ["TABLE", "P", "Permission", "Role", "allowed", "parse_role", "roles_with"]
