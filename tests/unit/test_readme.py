"""The README must never drift from the code: its settings table is checked against SPECS."""

import re
from pathlib import Path

from csv_sentiment import metrics
from csv_sentiment.settings import SPECS

README = Path(__file__).resolve().parents[2] / "README.md"


def settings_table() -> dict[str, str]:
    text = README.read_text()
    block = text.split("<!-- settings-table")[1].split("<!-- /settings-table -->")[0]
    rows = {}
    for line in block.splitlines():
        m = re.match(r"\| `([A-Z_]+)` \| (.+?) \| (.+) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def documented_default(spec) -> str:
    if spec.default is None:
        return "*(required)*"
    return f"`{spec.default}`" if spec.default else "*(empty)*"


def test_readme_settings_table_lists_every_setting_with_its_default():
    assert settings_table() == {s.env: documented_default(s) for s in SPECS}


def test_readme_names_every_metric():
    text = README.read_text()
    for name in metrics.ALL:
        assert f"`{name}`" in text
