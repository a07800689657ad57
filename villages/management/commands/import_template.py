from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from villages.import_templates import TEMPLATES, template_get, template_xlsx


class Command(BaseCommand):
    help = (
        "Write the blank .xlsx an import reads (导入模板): the header row, an example row and a "
        "sheet 说明 explaining each column."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(TEMPLATES), help="which import's template")
        parser.add_argument(
            "-o", "--output", type=Path, help="the file to write (default: its title, .xlsx)"
        )

    def handle(self, *args, kind: str, output: Path | None, **options):
        template = template_get(kind)
        path = output or Path(template.filename)
        try:
            path.write_bytes(template_xlsx(template))
        except OSError as exc:
            raise CommandError(
                _("Cannot write %(file)s: %(error)s") % {"file": path, "error": exc.strerror}
            ) from None
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(_("Written: %(file)s") % {"file": path}))
