"""manage.py import_evaluations: a good file, rejected rows by row and column with nothing
written, --skip-invalid, updates on a second run, progress on stderr, the engine told after
commit."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command

from directory.models import Evaluation

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def run(tmp_path: Path, text: str, *args: str) -> tuple[str, str]:
    path = tmp_path / "evaluations.csv"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_evaluations", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    path = tmp_path / "evaluations.csv"
    path.write_text(text, encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_evaluations", str(path), *args, stdout=io.StringIO(), stderr=err)
    return exc.value.returncode, err.getvalue() + str(exc.value)


def stored() -> list[tuple[str, int, str, int, int | None]]:
    return list(
        Evaluation.objects.filter(source_id__startswith="csv-")
        .order_by("source_id")
        .values_list("source_id", "agent_id", "coaching_area__name", "score", "case_id")
    )


GOOD = """source_id,agent_username,coaching_area,score,evaluated_at,case
csv-1,alice.agent,Empathy,71,2026-11-30T09:00:00+01:00,CASE-1001
csv-2,dan.agent,Compliance,55,2026-11-29T10:00:00Z,
csv-3,bob.agent,Call Handling,90,2026-11-28T10:00:00-05:00,CASE-1001
"""


def test_a_good_file_is_imported_by_names_and_the_engine_hears_of_its_pairs(
    org, tmp_path, arrivals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        out, err = run(tmp_path, GOOD)
    assert "Imported 3 of 3 rows: 3 created, 0 updated." in out
    assert "read 3 rows" in err
    assert stored() == [
        ("csv-1", org.alice.pk, "Empathy", 71, org.case1001.pk),
        ("csv-2", org.dan.pk, "Compliance", 55, None),
        ("csv-3", org.bob.pk, "Call Handling", 90, org.case1001.pk),
    ]
    assert Evaluation.objects.get(source_id="csv-3").evaluated_at == datetime(
        2026, 11, 28, 15, 0, tzinfo=UTC
    )
    area = {name: a.pk for name, a in org.areas.items()}
    assert arrivals == [
        sorted(
            [
                (org.alice.pk, area["Empathy"]),
                (org.dan.pk, area["Compliance"]),
                (org.bob.pk, area["Call Handling"]),
            ]
        )
    ]


def test_ids_work_too_and_a_second_run_updates(org, tmp_path, arrivals):
    empathy = org.areas["Empathy"].pk
    text = (
        "source_id,agent_id,coaching_area_id,score,evaluated_at,case_id\n"
        f"csv-1,{org.alice.pk},{empathy},40,2026-11-30T09:00:00Z,{org.case1002.pk}\n"
    )
    run(tmp_path, text)
    out, _ = run(tmp_path, text.replace(",40,", ",45,"))
    assert "0 created, 1 updated" in out
    assert stored() == [("csv-1", org.alice.pk, "Empathy", 45, org.case1002.pk)]


BAD = """source_id,agent_username,coaching_area,score,evaluated_at,case
csv-1,alice.agent,Empathy,71,2026-11-30T09:00:00+01:00,CASE-1001
csv-2,nobody,Empathy,71,2026-11-30T09:00:00+01:00,
csv-3,alice.agent,Empathy,71.5,2026-11-30T09:00:00+01:00,
csv-4,alice.agent,Empathy,70,2026-12-02T09:00:00+01:00,CASE-9999
csv-1,bob.agent,Empathy,70,2026-11-30T09:00:00Z,
csv-6,cora.coach,Nope,70,2026-11-30 09:00,
csv-7,alice.agent,Empathy,70,2026-11-30T09:00:00Z,,extra
"""


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_written(org, tmp_path, arrivals):
    code, text = refused(tmp_path, BAD)
    assert code == 1
    lines = [line for line in text.splitlines() if line.startswith("row ")]
    assert lines == [
        "row 3, column agent_username: There is no user with username 'nobody'. (unknown_id)",
        "row 4, column score: Input should be a valid integer (invalid)",
        "row 5, column case: There is no case with number 'CASE-9999'. (unknown_id)",
        "row 5, column evaluated_at: evaluated_at is in the future. (in_future)",
        "row 6, column source_id: The source id 'csv-1' is also given in row 2. (duplicate)",
        "row 7, column agent_username: cora.coach is not an agent (only users with the Agent "
        "role are evaluated). (invalid)",
        "row 7, column coaching_area: There is no coaching area with name 'Nope'. (unknown_id)",
        "row 7, column evaluated_at: Give evaluated_at with its offset, e.g. "
        "2026-11-30T14:05:00+01:00. (invalid)",
        "row 8: The row has more cells than the header. (invalid)",
    ]
    assert "6 of 7 rows rejected; nothing was imported." in text
    assert stored() == []
    assert arrivals == []


def test_skip_invalid_imports_the_valid_rows_and_reports_the_rest(
    org, tmp_path, arrivals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        code, text = refused(tmp_path, BAD, "--skip-invalid")
    assert code == 2
    assert "6 rows rejected." in text
    assert [s for s, *_ in stored()] == ["csv-1"]
    assert arrivals == [[(org.alice.pk, org.areas["Empathy"].pk)]]


def test_duplicates_across_chunks_are_found(org, tmp_path, monkeypatch):
    from qa import csv_import

    monkeypatch.setattr(csv_import, "CHUNK", 2)
    rows = [f"csv-{n},alice.agent,Empathy,70,2026-11-30T09:00:00Z" for n in (1, 2, 3, 1, 4)]
    text = "source_id,agent_username,coaching_area,score,evaluated_at\n" + "\n".join(rows) + "\n"
    code, err = refused(tmp_path, text)
    assert "row 5, column source_id: The source id 'csv-1' is also given in row 2." in err
    assert "5 rows read, checked and not written in" in err and "1 rejected" in err
    assert stored() == []
    out, _ = run(
        tmp_path, text.replace("csv-1,alice.agent,Empathy,70,2026-11-30T09:00:00Z\ncsv-4", "csv-4")
    )
    assert "4 created" in out


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("source_id,agent_username,coaching_area,score", "evaluated_at"),
        ("source_id,agent,coaching_area,score,evaluated_at", "Unknown column(s) 'agent'"),
        ("source_id,coaching_area,score,evaluated_at", "agent_id or agent_username"),
        ("source_id,source_id,agent_id,coaching_area,score,evaluated_at", "given twice"),
    ],
)
def test_a_bad_header_is_refused_before_any_row(org, tmp_path, header, expected):
    code, text = refused(tmp_path, header + "\ncsv-1,alice.agent,Empathy,70,2026-11-30T09:00:00Z\n")
    assert code == 1
    assert expected in text
    assert stored() == []


def test_an_empty_file_and_a_missing_file(org, tmp_path):
    code, text = refused(tmp_path, "")
    assert code == 1 and "empty" in text
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_evaluations", str(tmp_path / "missing.csv"), stderr=io.StringIO())
