from villages import access


def scope(request):
    """The signed-in user's scope, and `can.<permission>` for menus that show only what the user
    may use (villages.access)."""
    user = getattr(request, "user", None)
    return {"scope": access.scope_of(user), "can": access.Can(user)}
