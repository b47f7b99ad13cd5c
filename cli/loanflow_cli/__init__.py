"""The ``loanflow`` console script: local cloud, model, reconcile and operations commands."""
