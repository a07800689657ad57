"""People and their roles (人员管理): the task force adds people, gives and takes roles,
deactivates accounts and resets passwords in the app, or imports the staff roster (花名册).
Who may do which is villages.access (people.manage, ROLE_RANK); every change of a role or of an
account's active state is audited (villages.models.MembershipChange)."""
