"""Every GraphQL document a client is shown validates against the exported schema: the trusted
documents, the ```graphql blocks of the docs and the README, the README's curl examples, and
the operations inside the docs' JavaScript snippets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = build_schema((ROOT / "graphql_schema" / "schema.graphql").read_text(encoding="utf-8"))
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documents() -> list[tuple[str, str]]:
    found = [
        (str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "graphql_schema" / "documents").glob("*.graphql"))
    ]
    for path in MARKDOWN:
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        for i, block in enumerate(re.findall(r"```graphql\n(.*?)```", text, flags=re.S)):
            found.append((f"{name} graphql block {i + 1}", block))
        # JavaScript snippets: the template literals that hold an operation
        for i, block in enumerate(re.findall(r"```js\n(.*?)```", text, flags=re.S)):
            for j, literal in enumerate(
                re.findall(r"`\s*((?:query|subscription|mutation)\b[^`]*)`", block)
            ):
                found.append((f"{name} js block {i + 1} operation {j + 1}", literal))
        # curl ... -d '{"query": "..."}': the JSON body between single quotes
        for i, body in enumerate(re.findall(r"-d '(\{\"query\".*?\})'", text, flags=re.S)):
            found.append((f"{name} curl example {i + 1}", json.loads(body)["query"]))
    # the pages' own scripts: every operation in a string or template literal
    for path in sorted((ROOT / "app" / "web" / "static" / "pages").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        literals = re.findall(
            r"""(?:`|")\s*((?:query|subscription|mutation)\b[^`"]*)(?:`|")""", text
        )
        for j, literal in enumerate(literals):
            found.append((f"{path.relative_to(ROOT)} operation {j + 1}", literal))
    return found


DOCUMENTS = documents()


def test_there_are_documents_to_check() -> None:
    names = [name for name, _ in DOCUMENTS]
    assert any(n.startswith("graphql_schema/documents/") for n in names)
    assert any(n.startswith("README.md curl") for n in names)
    assert any(n.startswith("docs/api.md graphql") for n in names)
    assert any(n.startswith("docs/subscriptions.md js") for n in names)
    assert any(n.startswith("app/web/static/pages/ops.js") for n in names)


@pytest.mark.parametrize(("name", "text"), DOCUMENTS, ids=[n for n, _ in DOCUMENTS])
def test_the_document_validates_against_the_schema(name: str, text: str) -> None:
    errors = validate(SCHEMA, parse(text))
    assert errors == [], f"{name}: {[e.message for e in errors]}"
