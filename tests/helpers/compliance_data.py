"""Compliance test data shared by several test directories: the Redis URL, the blind-index key and
the base rules file (the gate's and the dialler's tests)."""

REDIS_URL = "redis://127.0.0.1:6379/0"
INDEX_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
BASE_RULES = """
version: "t-1"
effective_from: "2020-01-01T00:00:00+08:00"
default_zone: Asia/Shanghai
purposes:
  marketing:
    window: {start: "08:00", end: "22:00"}
    daily_cap: 3
    consent: in_call
    consent_valid_days: 30
  service:
    daily_cap: 3
    consent: none
  loans:
    window: {start: "08:00", end: "22:00"}
    daily_cap: 3
    consent: before_dial
    consent_valid_days: 30
  bulk:
    daily_cap: 100
    consent: none
consent_policy:
  yes_intents: [affirm]
  no_intents: [deny]
  refusal_intents: [refuse_contact]
  unclassified_intents: [nlu_fallback]
  min_confidence: {intent: 0.5, consent: 0.7, refusal: 0.5, refusal_confirm: 0.3}
  questions:
    consent_question:
      yes_means: consent
      no_means: refusal
      dtmf: {"1": consent, "2": refusal}
      unclassified: confirm_consent
    after_marketing: {no_means: refusal, unclassified: not_an_answer}
    confirm_refusal: {yes_means: refusal, dtmf: {"1": refusal, "2": none}}
    marketing_other: {no_means: refusal}
    menu: {}
    other: {}
  unclear: {leaning_yes: confirm_consent, leaning_no: confirm_refusal}
"""
