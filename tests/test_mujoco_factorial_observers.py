"""E2's observers (logel.experiments.mujoco_factorial_observers): one observer per learner cell on
the cell's LOGEL reward, paired with the cell's learner."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

from logel import artifacts  # noqa: E402
from logel.experiments import mujoco_factorial_observers as fo  # noqa: E402
from logel.experiments import mujoco_learners as mjl  # noqa: E402
from logel.experiments.mujoco import experiment_config  # noqa: E402
from logel.learners.ppo import SB3_HEAD_GAIN  # noqa: E402

pytestmark = pytest.mark.mujoco
ENV = "Reacher-v5"


@pytest.fixture(scope="module")
def smoke_tree(tmp_path_factory):
    """E2 and its observers at the smoke budget, seed 0."""
    root = tmp_path_factory.mktemp("factorial_observers")
    assert mjl.run("factorial", ENV, [0], "smoke", root) == {0: "done"}
    assert fo.run(ENV, [0], "smoke", root) == {0: "done"}
    return root


def test_cell_observer_takes_the_cells_learner_settings_and_the_observer_seed():
    observer = experiment_config(ENV, "paper").observer
    sb3 = fo.cell_observer(observer, fo.SB3_CELL, 3)
    assert sb3.head_gain_used() == SB3_HEAD_GAIN and not sb3.raw_control_used()
    assert sb3.seed == 10_003 and not sb3.record and sb3.n_updates == observer.n_updates
    paper = fo.cell_observer(observer, fo.PAPER_CELL, 3)
    assert paper.raw_control_used() and paper.head_gain_used() == observer.head_gain_used()
    with pytest.raises(ValueError, match="cell must be one of"):
        fo.cell_observer(observer, "gain 2", 0)


def test_smoke_run_observes_each_cells_weights_and_is_resumable(smoke_tree):
    res = fo.load_results(ENV, "smoke", smoke_tree)[0]
    e2 = mjl.load_results("factorial", ENV, "smoke", smoke_tree)[0]
    assert set(res) == set(mjl.FACTORIAL)
    for cell, obs in res.items():
        np.testing.assert_array_equal(obs["weights"], e2["variants"][cell]["weights"])
        assert len(obs["curve"]) == 3 and "final_distance" in obs["episode_stats"]
    folder = fo.output_dir(ENV, "smoke", 0, smoke_tree)
    manifest = artifacts.read_manifest(folder)
    assert manifest["observer_seed"] == 10_000
    assert manifest["source"] == "mujoco_factorial_smoke/Reacher-v5/seed_0"  # relative
    assert str(smoke_tree) not in json.dumps(manifest)
    assert fo.check_provenance(ENV, "smoke", smoke_tree) == [0]
    assert fo.run(ENV, [0], "smoke", smoke_tree) == {0: "skipped"}


def test_merge_table_and_claims(smoke_tree):
    merged = fo.merge(mjl.load_results("factorial", ENV, "smoke", smoke_tree),
                      fo.load_results(ENV, "smoke", smoke_tree))
    assert set(merged) == set(mjl.FACTORIAL) and all(list(m) == [0] for m in merged.values())
    cell = merged[fo.PAPER_CELL][0]
    assert len(cell["learner"]["curve"]) == 3 and len(cell["observer_logel"]["curve"]) == 3


def _synthetic(finals: dict[str, list[float]]) -> dict[str, dict[int, dict]]:
    """:func:`fo.merge`'s layout: every learner goes from 0 to 10; observers end at ``finals``."""
    stats = {"episode_length": [50.0, 50.0], "episode_final_distance": [0.2, 0.1]}
    return {cell: {s: {"learner": {"curve": [0.0, 10.0], **stats},
                       "observer_logel": {"curve": [0.0, v], **stats}}
                   for s, v in enumerate(values)} for cell, values in finals.items()}


def test_table_and_claims_judge_normalised_returns():
    finals = {cell: [1.0, 0.0, -1.0, 0.5, -0.5] for cell in mjl.FACTORIAL}
    finals[fo.PAPER_CELL] = [10.0, 9.9, 10.1, 10.0, 10.2]
    merged = _synthetic(finals)
    table = fo.summary_table(merged, ENV)
    assert all(c in table for c in mjl.FACTORIAL) and "1.00 0.99 1.01 1.00 1.02" in table
    claims = fo.claims(merged, ENV, n_resamples=500)
    paper = list(mjl.FACTORIAL).index(fo.PAPER_CELL)
    assert claims[f"reaches_{paper}"].verdict == "holds"
    assert claims[f"reaches_{list(mjl.FACTORIAL).index(fo.SB3_CELL)}"].verdict == "fails"
    assert claims["paper_beats_sb3_diff"].verdict == "holds"
    one = fo.claims(_synthetic({c: v[:1] for c, v in finals.items()}), ENV, n_resamples=50)
    assert all(c.verdict == "inconclusive" for c in one.values())  # one seed: no interval


def test_missing_e2_folder_fails_before_training(tmp_path):
    with pytest.raises(artifacts.ArtifactError, match="mujoco_learners --experiment factorial"):
        fo.run(ENV, [0, 1], "smoke", tmp_path)
    assert not (tmp_path / "mujoco_factorial_observers_smoke").exists()


def test_provenance_catches_a_rewritten_source(smoke_tree, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(smoke_tree, root)
    manifest = json.loads((fo.output_dir(ENV, "smoke", 0, root) / "manifest.json").read_text())
    assert manifest["source_manifest_sha256"]
    src = fo.source_dir(ENV, "smoke", 0, root)
    mjl.run("factorial", ENV, [0], "smoke", root, force=True)  # rewritten: new manifest
    assert artifacts.is_complete(src)
    with pytest.raises(artifacts.ArtifactError, match="rewritten"):
        fo.check_provenance(ENV, "smoke", root)
