from villages.scope import scope_of


def scope(request):
    """The signed-in user's scope, for menus that show only what the user may use."""
    return {"scope": scope_of(getattr(request, "user", None))}
