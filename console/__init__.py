"""The web console: JSON API under /api/v1, sign-in and roles, the flow designer, the pages.

``console.permissions`` (the one permission table) and ``console.identity`` (who is at the CLI)
import no web framework, so any package's CLI can use them.
"""
