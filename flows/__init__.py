"""IVR flows: designer-editable YAML (``ivr_flows/``), its model, validator and interpreter.

Core (pure): :mod:`flows.model`, :mod:`flows.loader` (YAML with line numbers), :mod:`flows.validate`
(schema, graph and compliance checks), :mod:`flows.interpreter` (step machine). IO lives in
:mod:`flows.registry` (versioned hot reload) and :mod:`flows.orchestrator` (drives a call).
"""
