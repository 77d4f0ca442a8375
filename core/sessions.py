"""The browser session, read with one plain statement.

Every page a signed-in user opens reads their session row first. Django's database engine reads
it through the ORM (`Session.objects.get(...)`: a queryset built and compiled per request, about
0.4 ms of every page on top of the statement itself); this engine sends the same statement
directly. Writing, expiring and clearing sessions are Django's own (`SESSION_ENGINE`)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.db.models import Field
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        """The current (unexpired) session row with this key, else None with the key dropped,
        as Django's engine does; only the columns `load` reads."""
        model = self.model
        conn = connections[router.db_for_read(model)]
        qn, fields = conn.ops.quote_name, model._meta

        def column(name: str) -> str:
            return qn(str(cast("Field[Any, Any]", fields.get_field(name)).column))

        sql = (
            f"SELECT {column('session_data')} FROM {qn(fields.db_table)} "
            f"WHERE {column('session_key')} = %s AND {column('expire_date')} > %s"
        )
        with conn.cursor() as cursor:
            cursor.execute(
                sql, [self.session_key, conn.ops.adapt_datetimefield_value(timezone.now())]
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key or "", session_data=row[0])
