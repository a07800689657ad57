"""Rectification tickets (整改单) and toilet service tickets (管护工单): models, their action
tables, services (writes), selectors (reads), pages, ledgers."""
