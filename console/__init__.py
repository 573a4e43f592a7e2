"""Web console (FastAPI): flow designer, DNC, consents, campaigns, recordings search, QA, rules."""
