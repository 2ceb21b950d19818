"""The rules: one `txlNNN_*.py` module each, whose name carries its rule's code."""

# The opt-in rules (the `strict` profile), known without importing a rule: a run that the
# cache answers imports none. `txlint.registry.all_rules` checks it against each rule's `opt_in`.
OPT_IN = frozenset({"TXL204", "TXL303"})
