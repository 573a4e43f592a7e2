"""Human agents: their status driven into mod_callcenter, screen pops, work tickets, callback
work, outbound CRM / anti-fraud webhooks and the metrics of the floor (issue 18)."""
