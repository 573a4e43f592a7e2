"""IVR flows: designer-editable YAML (``ivr_flows/``), its model, validator and interpreter.

Core (pure): :mod:`flows.model`, :mod:`flows.validate` (schema, graph and compliance checks; YAML
with line numbers from :mod:`ivr.yaml_lines`), :mod:`flows.interpreter` (step machine). IO lives in
:mod:`flows.registry` (versioned hot reload) and :mod:`flows.orchestrator` (drives a call).
"""
