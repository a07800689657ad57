"""Bulletins (通报): composing, issuing (a frozen snapshot), acknowledging and following up."""
