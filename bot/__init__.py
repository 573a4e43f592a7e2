"""Dialogue bot: Rasa training data (``bot/data``), voice directives and the app's Rasa client."""
