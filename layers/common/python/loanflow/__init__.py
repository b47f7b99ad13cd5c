"""loanflow: the domain package of the micro-loan backend, shipped to Lambda as the common layer."""

__version__ = "0.1.0"
