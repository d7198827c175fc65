"""Licences issued over the in-process API: the templates' example data and one POST.

The API, enterprise and OFD licence tests issue the same business licence of the same
department; one builder keeps them asking for the same thing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.api_calls import ZZ_D26, bearer

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld


TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
MARKET = ZZ_D26  # 郑州市市场监督管理局 issues business licences


def template_example(name: str) -> dict:
    """The example data shipped with template ``name``: valid by construction."""
    return json.loads((TEMPLATES / name / "example.json").read_text(encoding="utf-8"))


def issue_licence(world: ApiWorld, token: str, **overrides) -> tuple[int, dict]:
    """POST a B-T business licence sealed by MARKET; ``overrides`` replace body fields."""
    body = {
        "template": "business_licence",
        "data": template_example("business_licence"),
        "seals": [world.demo_seal(MARKET).code],
        "level": "B-T",
    }
    body.update(overrides)
    response = world.client.post("/v1/licences", json=body, headers=bearer(token))
    return response.status_code, response.json()
