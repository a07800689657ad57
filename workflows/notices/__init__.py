"""Overdue and SLA notices, the user's notifications, the outbox that delivers them, and the record
of scheduled job runs."""
