"""Deploy checks of the settings this app's secrets depend on (`manage.py check --deploy`, which
README § Production runs at every deploy and which must report no issues). The digest itself
refuses to work without its key in production (villages.models.id_number_digest), so nothing is
ever stored keyed by the wrong secret."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

ID_DIGEST_KEY_MIN_LENGTH = 32


@register(Tags.security, deploy=True)
def id_digest_key_check(app_configs, **kwargs) -> list[Error]:
    """In production ID_DIGEST_KEY must be set, long, and not the SECRET_KEY: the embedded setup
    keeps SECRET_KEY in a file next to the database, and a copy of both would let anyone test
    every ID number against the stored digests (README § Security)."""
    if not settings.ID_DIGEST_KEY_REQUIRED:  # DEBUG=1: the demo and the suite
        return []
    key = settings.ID_DIGEST_KEY
    if not key:
        why = "ID_DIGEST_KEY is not set."
    elif len(key) < ID_DIGEST_KEY_MIN_LENGTH:
        why = f"ID_DIGEST_KEY is shorter than {ID_DIGEST_KEY_MIN_LENGTH} characters."
    elif key == settings.SECRET_KEY:
        why = "ID_DIGEST_KEY is the SECRET_KEY."
    else:
        return []
    return [
        Error(
            why,
            hint=(
                'Set ID_DIGEST_KEY to a random secret of its own (e.g. `python -c "import '
                'secrets; print(secrets.token_urlsafe(48))"`), kept outside the data directory '
                "and never changed (README § Security)."
            ),
            id="villages.E001",
        )
    ]
