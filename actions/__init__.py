"""rasa-sdk action server (runs in the app environment: ``python -m rasa_sdk --actions actions``).

Importing this package registers every custom action with rasa-sdk.
"""

from actions.session import ActionDisclosure, ActionSessionStart

__all__ = ["ActionDisclosure", "ActionSessionStart"]
