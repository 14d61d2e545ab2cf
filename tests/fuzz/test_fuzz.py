"""A short fuzzing run of every parser of outside input: only its documented errors come out.

Each target gets Hypothesis's random bytes, structured values where the format is JSON or TOML,
and a bounded run of mutations of valid inputs. ``bench/fuzz.py`` runs the same targets for as
long as one likes (coverage-guided with atheris when it is installed).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.names import TARGET_NAMES
from tests.fuzz.targets import Target, make_targets, mutate

JSON_TARGETS = ["signature", "bundle_manifest", "package_manifest", "bundle_signed"]
TOML_TARGETS = ["trust_file", "enrolment_file", "curriculum_file"]
MUTATIONS_PER_TARGET = 200  # a fixed number from a fixed seed: a failure can be replayed
QUICK = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def targets(tmp_path_factory) -> dict[str, Target]:
    return {t.name: t for t in make_targets(tmp_path_factory.mktemp("fuzz"))}


def test_every_target_is_run(targets):
    assert sorted(targets) == sorted(TARGET_NAMES)


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_random_bytes(targets, name):
    @QUICK
    @given(st.binary(max_size=2048))
    def check(data):
        targets[name].check(data)

    check()


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_mutations_of_valid_inputs(targets, name):
    target = targets[name]
    rng = random.Random(name)
    for _ in range(MUTATIONS_PER_TARGET):
        target.check(mutate(rng.choice(target.seeds), rng, target.seeds))


@pytest.mark.parametrize("name", JSON_TARGETS)
def test_any_json_value(targets, name):
    @QUICK
    @given(JSON_VALUES)
    def check(value):
        targets[name].check(json.dumps(value).encode())

    check()


# Each opening nests inside itself, so the parser goes ever deeper instead of stopping at once.
NESTINGS = {
    "json array": ("", "["),
    "json object": ("", '{"a":'),
    "toml array": ("a = ", "["),
    "toml inline table": ("a = ", "{b = "),
    "block quote": ("", "> "),
    "list": ("", "- "),
}


@pytest.mark.parametrize("name", JSON_TARGETS + TOML_TARGETS + ["markdown", "upload_zip"])
@pytest.mark.parametrize("nesting", NESTINGS)
def test_deep_nesting(targets, name, nesting):
    # Ten thousand levels: past the recursion limit of any recursive parser.
    prefix, opening = NESTINGS[nesting]
    targets[name].check(prefix.encode() + opening.encode() * 10_000)


REGRESSIONS = sorted((Path(__file__).parent / "regressions").iterdir())


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_inputs_that_once_crashed_a_parser(targets, path):
    # Named <target>-<number>: the inputs bench/fuzz.py found, kept so they stay fixed.
    targets[path.name.rsplit("-", 1)[0]].check(path.read_bytes())
