"""loanflow's AWS bill per N applications (``loanflow cost``): see ``costmodel.model`` and docs/cost.md."""

from costmodel.model import Bill, Line, estimate, load_prices

__all__ = ["Bill", "Line", "estimate", "load_prices"]
