"""rasa-sdk action server (runs in the app environment: ``python -m shell.action_server
--actions actions``, rasa-sdk plus ``/metrics``).

Importing this package registers every custom action with rasa-sdk.
"""

from actions.dialogue import (
    ActionAffirm,
    ActionAskPurpose,
    ActionCallback,
    ActionDeny,
    ActionEscalate,
    ActionGoodbye,
    ActionIdentity,
    ActionNoInput,
    ActionOutOfScope,
    ActionProductQuestion,
    ActionRefuseContact,
    ActionResume,
    ActionRiskClarification,
    ActionServiceRequest,
    ActionWrongNumber,
)
from actions.session import ActionDisclosure, ActionSessionStart

__all__ = [
    "ActionAffirm",
    "ActionAskPurpose",
    "ActionCallback",
    "ActionDeny",
    "ActionDisclosure",
    "ActionEscalate",
    "ActionGoodbye",
    "ActionIdentity",
    "ActionNoInput",
    "ActionOutOfScope",
    "ActionProductQuestion",
    "ActionRefuseContact",
    "ActionResume",
    "ActionRiskClarification",
    "ActionServiceRequest",
    "ActionSessionStart",
    "ActionWrongNumber",
]
