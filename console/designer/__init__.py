"""The flow designer's server side: documents (drafts, versions, four-eyes changes) of flows,
the prompt table and the rules; checks by the product's own validators; publishing; simulation."""
