"""JSON Schema files for the events, exported from the models.

The repository carries the exported files in `schemas/jsonschema/`; a test fails when
they drift from the models, so the files other teams read are always the code's truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from schemas.examples import example_request, example_result
from schemas.request import BlobRef, UploadRequest
from schemas.result import UploadResult

BUNDLED_DIR = Path(__file__).parent / "jsonschema"

# Requests are documented as producers may send them, results as the consumer writes them.
EXPORTS: dict[str, tuple[type[BaseModel], JsonSchemaMode]] = {
    "upload-request.v1.schema.json": (UploadRequest, "validation"),
    "blob-ref.v1.schema.json": (BlobRef, "validation"),
    "upload-result.v1.schema.json": (UploadResult, "serialization"),
}
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "upload-request.v1.schema.json": [example_request()],
    "blob-ref.v1.schema.json": [example_request()["files"]["passport"]],
    "upload-result.v1.schema.json": [example_result()],
}


def render_all() -> dict[str, str]:
    """File name -> file text, deterministic (sorted keys, trailing newline)."""
    rendered: dict[str, str] = {}
    for name, (model, mode) in EXPORTS.items():
        schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://upload-stream.dev/schemas/{name}",
            **model.model_json_schema(mode=mode),
            "examples": EXAMPLES[name],
        }
        rendered[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def export_to(directory: Path) -> list[Path]:
    """Write every file of `render_all()` into `directory` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
