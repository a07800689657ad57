"""An index that covers its `include` columns on every database.

PostgreSQL stores them with INCLUDE (in the leaf pages, not the key). SQLite has no INCLUDE, and
Django leaves the columns out there without a word: the index no longer covers, and a sum over
it reads every row from the table too (a county's counts per state from the rollups: 8,726 rows,
4 ms instead of ~1 ms at 1,000,000 tickets). There the columns become the key's last ones,
which covers the same queries; the index is then updated when they change, as INCLUDE's is.
"""

from __future__ import annotations

from django.db import models


class CoveringIndex(models.Index):
    def create_sql(self, model, schema_editor, using="", **kwargs):
        covers = schema_editor.connection.features.supports_covering_indexes
        if covers or not self.include or self.expressions or self.opclasses:
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        keyed = models.Index(
            fields=[*self.fields, *self.include],
            name=self.name,
            db_tablespace=self.db_tablespace,
            condition=self.condition,
        )
        return keyed.create_sql(model, schema_editor, using=using, **kwargs)
