"""The layer version description: one format, written by the layer template and the deployer,
parsed by the local Lambda service (infra/layerdescription.py)."""

from __future__ import annotations

import pytest

from infra import layerdescription
from infra.deploy import templates


def test_the_layer_template_writes_the_format_that_is_parsed():
    _, layer = templates.load("layer")
    assert layer["Resources"]["Layer"]["Properties"]["Description"] == {
        "Fn::Sub": layerdescription.TEMPLATE_SUB
    }
    # What CloudFormation makes of that Sub is what describe() writes.
    packages, key = "pandas==2.3.3, numpy==2.3.4", "layers/pandas/" + "ab" * 32 + ".zip"
    substituted = layerdescription.TEMPLATE_SUB.replace("${Packages}", packages).replace(
        "${ContentKey}", key
    )
    assert substituted == layerdescription.describe(packages, key)
    assert layerdescription.content_key(substituted) == key


@pytest.mark.parametrize(
    "description",
    ["", "pandas==2.3.3", "made by hand (not/a/layer.zip)", "x (layers/a.zip) trailing"],
)
def test_a_description_written_elsewhere_names_no_content(description):
    assert layerdescription.content_key(description) is None
