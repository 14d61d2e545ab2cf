"""What the export tests share: the zz content with the exercise lesson, exported once."""

from __future__ import annotations

import pytest

from imaginecole.exports.selection import choose
from imaginecole.exports.site import export_site


@pytest.fixture(scope="session")
def site(exercises_app, tmp_path_factory):
    """The whole zz catalogue written as a folder."""
    out = tmp_path_factory.mktemp("site") / "zz"
    with exercises_app.app_context():
        export_site(choose("zz"), out)
    return out
