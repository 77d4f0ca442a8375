"""On PostgreSQL, trigram indexes make the typeahead's "contains" search fast on 50,000 users,
thousands of groups and hundreds of thousands of cases. SQLite has no such index; it scans."""

from django.db import migrations

INDEXES = [
    ("directory_user", "user_display_name_trgm", "display_name"),
    ("directory_user", "user_username_trgm", "username"),
    ("directory_usergroup", "usergroup_name_trgm", "name"),
    ("directory_case", "case_number_trgm", "number"),
    ("directory_case", "case_subject_trgm", "subject"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, name, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (UPPER({column}) gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, name, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
