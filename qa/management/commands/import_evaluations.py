from __future__ import annotations

import csv
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ValidationFailed
from qa.csv_import import COLUMNS, import_csv

# Exit statuses: 0 all imported; 1 nothing imported (a bad header or rejected rows);
# 2 with --skip-invalid: the valid rows imported, the others rejected.
NOTHING_IMPORTED, SOME_REJECTED = 1, 2


class Command(BaseCommand):
    help = (
        "Import QA evaluations from a CSV file (UTF-8, header row). Columns: "
        f"{', '.join(COLUMNS)}: source_id, score (0-100), evaluated_at (ISO 8601 with offset), "
        "the agent by agent_id and/or agent_username, the area by coaching_area_id and/or "
        "coaching_area (its name), optionally the case by case_id and/or case (its number). "
        "Checked as the API checks a batch; a source id already stored is updated. Every row "
        "is checked before anything is written: one rejected row and nothing is imported "
        "(exit status 1), unless --skip-invalid (the valid rows are imported, exit status 2). "
        "Progress goes to stderr."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="the CSV file, or - for standard input")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid rows and report the others (exit status 2 if any)",
        )
        parser.add_argument(
            "--max-errors",
            type=int,
            default=100,
            help="how many rejected rows' problems to list (default 100; all are counted)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: str = options["file"]
        quiet = options["verbosity"] == 0
        last = [0.0]

        def progress(line: str) -> None:
            # At most a line a second (the last one always comes with the summary).
            if not quiet and time.monotonic() - last[0] >= 1:
                last[0] = time.monotonic()
                self.stderr.write(line)

        try:
            # Closed in the `finally` below (a `with` would also close standard input).
            stream = sys.stdin if path == "-" else open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.", returncode=1) from None
        started = time.monotonic()
        try:
            report = import_csv(
                stream,
                skip_invalid=options["skip_invalid"],
                max_errors=options["max_errors"],
                progress=progress,
            )
        except ValidationFailed as exc:
            raise CommandError(f"{path}: {exc.message}", returncode=NOTHING_IMPORTED) from None
        except csv.Error as exc:
            message = f"{path} is not well-formed CSV ({exc}); nothing was imported."
            raise CommandError(message, returncode=NOTHING_IMPORTED) from None
        except UnicodeDecodeError as exc:
            message = f"{path} is not UTF-8 text ({exc}); nothing was imported."
            raise CommandError(message, returncode=NOTHING_IMPORTED) from None
        finally:
            if stream is not sys.stdin:
                stream.close()
        elapsed = time.monotonic() - started
        if not quiet:
            self.stderr.write(
                f"{report.rows:,} rows read, checked and "
                f"{'written' if report.written else 'not written'} in {elapsed:.1f}s "
                f"({report.rows / max(elapsed, 1e-6):,.0f} rows/s overall), "
                f"{report.rejected_rows:,} rejected"
            )
        for error in report.errors:
            self.stderr.write(str(error))
        if len(report.errors) < report.rejected_rows:
            self.stderr.write(
                f"... {report.rejected_rows - len(report.errors):,} more rejected rows"
            )
        if report.rejected_rows and not report.written:
            raise CommandError(
                f"{report.rejected_rows:,} of {report.rows:,} rows rejected; nothing was imported.",
                returncode=NOTHING_IMPORTED,
            )
        summary = (
            f"Imported {report.created + report.updated:,} of {report.rows:,} rows: "
            f"{report.created:,} created, {report.updated:,} updated."
        )
        self.stdout.write(summary)
        if report.rejected_rows:
            raise CommandError(f"{report.rejected_rows:,} rows rejected.", returncode=SOME_REJECTED)
