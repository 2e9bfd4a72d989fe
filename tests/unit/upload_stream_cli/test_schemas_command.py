"""`upload-stream schemas export DIR`."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.export import render_all
from upload_stream_cli.main import run


def test_export_writes_every_file_and_prints_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "nested"
    assert run(["schemas", "export", str(target)]) == 0
    rendered = render_all()
    assert sorted(p.name for p in target.iterdir()) == sorted(rendered)
    for name, text in rendered.items():
        assert (target / name).read_text(encoding="utf-8") == text
    printed = capsys.readouterr().out.splitlines()
    assert sorted(printed) == sorted(str(target / name) for name in rendered)


def test_export_overwrites_existing_files(tmp_path: Path) -> None:
    (tmp_path / "upload-request.v1.schema.json").write_text("stale", encoding="utf-8")
    assert run(["schemas", "export", str(tmp_path)]) == 0
    assert (tmp_path / "upload-request.v1.schema.json").read_text(encoding="utf-8") == (
        render_all()["upload-request.v1.schema.json"]
    )


@pytest.mark.parametrize("below", ["", "sub"])
def test_export_into_a_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], below: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    target = blocker / below if below else blocker
    assert run(["schemas", "export", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("upload-stream schemas: ")
    assert err.count("\n") == 1


def test_export_needs_a_directory(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(["schemas", "export"])
    assert caught.value.code == 2
    assert "DIR" in capsys.readouterr().err
