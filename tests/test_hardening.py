"""Property-based hardening suite (issue 17): malformed inputs across the public API, traces,
artifacts, the command lines and the gymnasium env give a clear error naming the argument or
file, or a correct result -- never NaN and never an unrelated exception.

Each class of the issue has its own section: scalar options, scale, masks and dtypes, trace
files, artifacts, command lines, env. Examples are few per property (``max_examples``) and
undeadlined, so the whole file runs in seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import gymnasium
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logel import artifacts, cli
from logel.envs.gridworld import ColourGridEnv, Gridworld
from logel.estimators import (
    TrajectoryLayout,
    gpomdp_jacobian,
    gpomdp_jacobian_covariance,
    gpomdp_jacobian_stderr,
    reinforce_jacobian,
)
from logel.irl.logel import fit, identifiability, solve_weights
from logel.traces import LearnerTrace, TraceError

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
CLEAR = (ValueError, TypeError)

# values a user may pass where a number is expected
MALFORMED_SCALARS = st.one_of(
    st.none(), st.text(max_size=4), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-10**4, 10**4), st.lists(st.floats(-2, 2), min_size=0, max_size=3),
    st.complex_numbers(max_magnitude=2, allow_nan=False, allow_infinity=False),
    st.just(np.array([0.5, 0.5])), st.just(np.float32(0.5)), st.just(np.int64(3)),
    st.just(object()), st.just("0.9"))


def _check_outcome(call, name):
    """Run ``call``: a clear error naming ``name``, or a finite result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", RuntimeWarning)  # numpy overflow / invalid values
        try:
            out = call()
        except CLEAR as err:
            assert name in str(err), (name, str(err))
            return None
    return out


def _fit_problem(seed=0, m=4, d=6, q=3, noise=0.01):
    rng = np.random.default_rng(seed)
    J = rng.normal(size=(m, d, q))
    omega = np.array([1.0, -2.0, 0.5])[:q]
    alpha = rng.uniform(0.2, 0.6, size=m)
    D = np.einsum("mdq,q->md", J, omega) * alpha[:, None] + noise * rng.normal(size=(m, d))
    return D, J, alpha


def _estimator_inputs(seed=0, N=6, T=4, d=3, q=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, T, d)), rng.uniform(size=(N, T, q))


# ------------------------------------------------------------------------- scalar options


@FAST
@given(value=MALFORMED_SCALARS, which=st.sampled_from(["gamma", "baseline_eps"]),
       estimator=st.sampled_from([gpomdp_jacobian, reinforce_jacobian, gpomdp_jacobian_stderr]))
def test_estimator_scalar_options(value, which, estimator):
    scores, features = _estimator_inputs()
    kwargs = {"gamma": 0.9, "baseline_eps": 1e-3, which: value}
    out = _check_outcome(lambda: estimator(scores, features, **kwargs), which)
    if out is not None:
        assert np.all(np.isfinite(out))


@FAST
@given(value=MALFORMED_SCALARS,
       which=st.sampled_from(["tol", "max_iter", "alpha_min", "alpha_init", "convergence",
                              "step_sizes"]))
def test_fit_scalar_options(value, which):
    D, J, _ = _fit_problem()
    if which == "max_iter" and isinstance(value, int) and not isinstance(value, bool):
        value = min(value, 200)
    out = _check_outcome(lambda: fit(D, J, **{which: value}), which)
    if out is not None:
        assert np.all(np.isfinite(out.weights)) and np.all(np.isfinite(out.learning_rates))
        assert np.all(out.learning_rates > 0)


@FAST
@given(value=MALFORMED_SCALARS)
def test_solve_weights_learning_rates(value):
    D, J, _ = _fit_problem(m=2)
    out = _check_outcome(lambda: solve_weights(D, J, value), "learning_rates")
    if out is not None:
        assert np.all(np.isfinite(out))


@FAST
@given(value=MALFORMED_SCALARS, which=st.sampled_from(["slip", "gamma", "horizon", "variant"]))
def test_gridworld_options(value, which):
    out = _check_outcome(lambda: Gridworld(**{which: value}), which)
    if out is not None:
        assert 0 <= out.slip <= 1 and 0 <= out.gamma <= 1 and isinstance(out.horizon, int)


def test_fit_alpha_init_wrong_length_or_type_is_named():
    D, J, _ = _fit_problem()
    for bad in ([0.1, 0.2], "a", None, [[0.1] * 4], [0.1, 0.1, 0.1, np.nan], [0.1, 0.1, 0.1, 0.0]):
        with pytest.raises(CLEAR, match="alpha_init"):
            fit(D, J, alpha_init=bad)
    assert fit(D, J, alpha_init=[0.1, 0.2, 0.3, 0.4]).weights.shape == (3,)


# --------------------------------------------------------------------------------- scale


@FAST
@given(k=st.integers(-150, 300), j=st.integers(-150, 150))
def test_fit_is_equivariant_to_scaling_deltas_and_jacobians(k, j):
    """omega scales as deltas / jacobians, the learning rates not at all, from 1e-150 to
    1e300 (the official loop returned the first omega-step at 1e300)."""
    if abs(k - j) > 290:
        return
    D, J, _ = _fit_problem()
    base = fit(D, J, convergence="direction")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no misleading 'J_t omega = 0' warning
        scaled = fit(D * 10.0**k, J * 10.0**j, convergence="direction")
    ratio = 10.0 ** (k - j)
    np.testing.assert_allclose(scaled.weights / ratio, base.weights, rtol=1e-6)
    np.testing.assert_allclose(scaled.learning_rates, base.learning_rates, rtol=1e-6)
    assert scaled.identifiability.condition_number == pytest.approx(
        base.identifiability.condition_number, rel=1e-9)


@FAST
@given(k=st.integers(-1000, 1000), j=st.integers(-500, 500))
def test_fit_is_bit_identical_under_power_of_two_scaling(k, j):
    D, J, _ = _fit_problem()
    base = fit(D, J)
    scaled = fit(np.ldexp(D, k), np.ldexp(J, j))
    np.testing.assert_array_equal(np.ldexp(base.weights, k - j), scaled.weights)
    np.testing.assert_array_equal(base.learning_rates, scaled.learning_rates)
    assert scaled.n_iter == base.n_iter


@FAST
@given(k=st.integers(-150, 300), j=st.integers(-150, 150))
def test_solve_weights_and_identifiability_are_scale_free(k, j):
    if abs(k - j) > 290:
        return
    D, J, alpha = _fit_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = solve_weights(D * 10.0**k, J * 10.0**j, alpha)
        diag = identifiability(J * 10.0**j)
    np.testing.assert_allclose(w / 10.0 ** (k - j), solve_weights(D, J, alpha), rtol=1e-9)
    np.testing.assert_allclose(diag.singular_values / 10.0**j,
                               identifiability(J).singular_values, rtol=1e-9)


@FAST
@given(k=st.integers(-120, 120), f=st.integers(-150, 150),
       estimator=st.sampled_from([gpomdp_jacobian, reinforce_jacobian, gpomdp_jacobian_stderr]))
def test_estimators_are_equivariant_to_scaling(k, f, estimator):
    """Scaling the scores by c (and baseline_eps, in squared-score units, by c^2) and the
    features by s scales the estimate by c s; squares of 1e120 scores no longer overflow."""
    scores, features = _estimator_inputs()
    c, s = 10.0**k, 10.0**f
    base = estimator(scores, features, 0.9, 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = estimator(scores * c, features * s, 0.9, 1e-3 * c * c)
    np.testing.assert_allclose(scaled / (c * s), base, rtol=1e-9, atol=1e-12 * np.abs(base).max())


@FAST
@given(k=st.integers(-100, 100))
def test_covariance_and_compact_layout_are_scale_free(k):
    scores, features = _estimator_inputs()
    c = 10.0**k
    cov = gpomdp_jacobian_covariance(scores * c, features, 0.9, 1e-3 * c * c)
    np.testing.assert_allclose(cov / c / c, gpomdp_jacobian_covariance(scores, features, 0.9),
                               rtol=1e-8, atol=1e-14)
    layout = TrajectoryLayout.from_episode_starts(np.zeros((6, 4), dtype=bool))
    compact = gpomdp_jacobian((scores * c).reshape(-1, 3), features.reshape(-1, 2), 0.9,
                              1e-3 * c * c, layout=layout)
    np.testing.assert_allclose(compact / c, gpomdp_jacobian(scores, features, 0.9), rtol=1e-9)


def test_overflowing_results_are_named_not_nan():
    scores, features = _estimator_inputs()
    with pytest.raises(ValueError, match="overflow"):
        gpomdp_jacobian(scores * 1e300, features * 1e300, 0.9)
    D, J, _ = _fit_problem()
    with pytest.raises(ValueError, match="weights"):
        fit(D * 1e300, J * 1e-300)


def test_zero_baseline_eps_with_all_zero_scores_is_not_nan():
    scores, features = _estimator_inputs()
    scores[:, :, 0] = 0.0
    for est in (gpomdp_jacobian, reinforce_jacobian):
        assert np.all(np.isfinite(est(scores, features, 0.9, 0.0)))


# ------------------------------------------------------------------------ masks and dtypes


@FAST
@given(mask=st.lists(st.sampled_from([0.0, 1.0, np.nan, 0.5, -1.0, 2.0, True, False]),
                     min_size=24, max_size=24))
def test_masks_are_boolean_or_refused(mask):
    scores, features = _estimator_inputs()
    arr = np.array(mask, dtype=float).reshape(6, 4)
    out = _check_outcome(lambda: gpomdp_jacobian(scores, features, 0.9, mask=arr), "mask")
    if out is not None:
        assert np.isin(arr, (0, 1)).all() and np.all(np.isfinite(out))
        np.testing.assert_allclose(out, gpomdp_jacobian(scores, features, 0.9,
                                                        mask=arr.astype(bool)))


def _trace_parts(rng, K=3, N=2, T=4, q=2, d=3):
    return {"states": rng.integers(0, 5, size=(K, N, T)),
            "actions": rng.integers(0, 4, size=(K, N, T)),
            "features": rng.uniform(size=(K, N, T, q)), "gamma": 0.9,
            "thetas": rng.normal(size=(K, d)), "learning_rates": np.full(K - 1, 0.1),
            "returns": rng.normal(size=(K, N))}


BAD_VALUES = {
    "object": lambda a: a.astype(object),
    "strings": lambda a: a.astype(str),
    "complex": lambda a: a.astype(complex),
    "nan": lambda a: np.where(np.arange(a.size).reshape(a.shape) == 0, np.nan, a.astype(float)),
    "negative": lambda a: -np.abs(a.astype(float)) - 1.0,
    "none-inside": lambda a: np.array([None] * a.size, dtype=object).reshape(a.shape),
}


@FAST
@given(field=st.sampled_from(["states", "actions", "features", "thetas", "learning_rates",
                              "returns", "episode_starts", "rewards"]),
       bad=st.sampled_from(sorted(BAD_VALUES)))
def test_trace_fields_of_bad_dtype_or_value(field, bad):
    rng = np.random.default_rng(0)
    parts = _trace_parts(rng)
    if field == "episode_starts":
        parts[field] = np.zeros((3, 2, 4), dtype=bool)
    elif field == "rewards":
        parts[field] = rng.normal(size=(3, 2, 4))
    parts[field] = BAD_VALUES[bad](np.asarray(parts[field]))
    try:
        trace = LearnerTrace(**parts)
    except CLEAR as err:
        assert field in str(err)
        return
    # accepted: only a negative value of a field where negatives are meaningful
    assert bad == "negative" and field in ("states", "actions", "features", "thetas",
                                           "returns", "rewards")
    with tempfile.TemporaryDirectory() as tmp:
        again = LearnerTrace.load(trace.save(Path(tmp) / "t.npz"))
    np.testing.assert_array_equal(again.features, trace.features)


def test_trace_steps_and_subset_take_integers():
    trace = LearnerTrace(**_trace_parts(np.random.default_rng(0)))
    for bad in (1.5, "1", None, True):
        with pytest.raises(CLEAR, match="m"):
            trace.steps(bad)
    with pytest.raises(CLEAR, match="policies"):
        trace.subset([0, 1.5])
    assert trace.steps(np.int64(1)).n_policies == 2
    assert trace.subset(np.array([0, 2])).n_policies == 2


# ----------------------------------------------------------------------------- trace files


@pytest.fixture(scope="module")
def trace_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "t.npz"
    LearnerTrace(**_trace_parts(np.random.default_rng(1)), metadata={"a": 1}).save(path)
    return path.read_bytes()


@FAST
@given(data=st.data())
def test_corrupt_or_truncated_trace_files_raise_trace_error(trace_bytes, data):
    raw = bytearray(trace_bytes)
    how = data.draw(st.sampled_from(["truncate", "flip", "random", "empty"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 5))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= data.draw(st.integers(1, 255))
    elif how == "random":
        raw = bytearray(data.draw(st.binary(min_size=1, max_size=200)))
    else:
        raw = bytearray()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.npz"
        path.write_bytes(bytes(raw))
        try:
            trace = LearnerTrace.load(path)
        except TraceError as err:
            assert str(path) in str(err)
        else:  # a flip the archive does not depend on (e.g. a timestamp) loads correctly
            assert np.all(np.isfinite(trace.features)) and trace.n_policies == 3


@FAST
@given(meta=st.one_of(st.text(max_size=30), st.just("{}"), st.just('{"gamma": 0.9}'),
                      st.just('{"gamma": "x", "metadata": {}}'),
                      st.just('{"gamma": 0.9, "metadata": []}'), st.just("[1, 2]")))
def test_invalid_trace_metadata_names_the_file(meta):
    rng = np.random.default_rng(0)
    parts = _trace_parts(rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.npz"
        np.savez(path, states=parts["states"], actions=parts["actions"],
                 features=parts["features"], meta_json=np.array(meta))
        try:
            LearnerTrace.load(path)
        except TraceError as err:
            assert str(path) in str(err)
        else:
            assert json.loads(meta)["gamma"] == 0.9


def test_trace_files_of_other_kinds(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    np.savez(tmp_path / "b.npz", x=np.zeros(3))
    np.savez(tmp_path / "c.npz", meta_json=np.array("{}"), features=np.array([None, 1]))
    for name, message in (("a.npy", "not an .npz"), ("b.npz", "no meta_json"),
                          ("c.npz", "pickled")):
        with pytest.raises(TraceError, match=message):
            LearnerTrace.load(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="no such trace"):
        LearnerTrace.load(tmp_path / "missing.npz")
    with pytest.raises(TraceError, match="not a file"):
        LearnerTrace.load(tmp_path)


# ------------------------------------------------------------------------------ artifacts


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("artifact") / "seed_0"
    artifacts.save_json(d / "result.json", {"weights": [1.0, 2.0]})
    artifacts.save_arrays(d / "curve.npz", curve=np.arange(3.0))
    artifacts.write_manifest(d, config={"lr": 0.1}, seeds=[0], wall_time_seconds=1.0)
    return d


def _copy(src: Path, tmp: str) -> Path:
    dst = Path(tmp) / "art"
    shutil.copytree(src, dst)
    return dst


MANIFEST_EDITS = {
    "config": lambda m, v: m.update(config={"lr": v}),
    "seeds": lambda m, v: m.update(seeds=v),
    "drop files": lambda m, v: m.pop("files"),
    "files value": lambda m, v: m.update(files=v),
    "drop sha256": lambda m, v: m["files"]["result.json"].pop("sha256"),
    "sha256 value": lambda m, v: m["files"]["result.json"].update(sha256=v),
    "outside": lambda m, v: m["files"].update({"../outside.json": m["files"]["result.json"]}),
    "absolute": lambda m, v: m["files"].update({"/etc/hostname": m["files"]["result.json"]}),
    "dotdot inside": lambda m, v: m["files"].update(
        {"sub/../../x.json": m["files"]["result.json"]}),
    "bytes": lambda m, v: m["files"]["result.json"].update(bytes=v),
    "whole": lambda m, v: (m.clear(), m.update({"files": v})),
}
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(
                               st.text(max_size=3), c, max_size=3), max_leaves=6)


@FAST
@given(edit=st.sampled_from(sorted(MANIFEST_EDITS)), value=JSON_VALUES,
       reseal=st.booleans())
def test_edited_manifests_are_refused(artifact_dir, edit, value, reseal):
    """An edited manifest fails its digest; with the digest recomputed too (a tool or a person
    who rewrote both), the schema and path checks still refuse what is malformed."""
    with tempfile.TemporaryDirectory() as tmp:
        d = _copy(artifact_dir, tmp)
        (Path(tmp) / "outside.json").write_text((d / "result.json").read_text())
        manifest = json.loads((d / artifacts.MANIFEST).read_text())
        original = json.dumps(manifest, sort_keys=True)
        MANIFEST_EDITS[edit](manifest, value)
        changed = json.dumps(manifest, sort_keys=True) != original
        (d / artifacts.MANIFEST).write_text(json.dumps(manifest))
        if reseal:
            (d / artifacts.DIGEST).unlink()
            with contextlib.suppress(artifacts.ArtifactError, TypeError, ValueError):
                # the digest of a valid-schema manifest (seal refuses the rest)
                digest = artifacts.manifest_digest(manifest)
                (d / artifacts.DIGEST).write_text(f"sha256:{digest}\n")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", artifacts.MissingDigestWarning)
                loaded = artifacts.load(d)
        except artifacts.ArtifactError as err:
            assert str(d) in str(err)
            return
        # loaded: only an unchanged manifest, or a resealed one that is still valid and safe
        assert not changed or reseal
        assert edit in ("config", "seeds", "bytes", "files value", "whole")
        for name in loaded["manifest"]["files"]:
            assert (d / name).resolve().is_relative_to(d.resolve())


def test_manifest_digest_and_paths(artifact_dir, tmp_path):
    d = _copy(artifact_dir, str(tmp_path))
    assert (d / artifacts.DIGEST).is_file() and artifacts.load(d)["result"] == {
        "weights": [1.0, 2.0]}
    manifest = json.loads((d / artifacts.MANIFEST).read_text())
    manifest["config"]["lr"] = 0.2  # an edited configuration, hashes untouched
    (d / artifacts.MANIFEST).write_text(json.dumps(manifest, indent=4))
    with pytest.raises(artifacts.ArtifactError, match="does not match its digest"):
        artifacts.verify(d)
    (d / artifacts.DIGEST).unlink()  # an unsealed (old) folder: warns, then seals
    with pytest.warns(artifacts.MissingDigestWarning, match="logel artifacts seal"):
        artifacts.verify(d)
    artifacts.seal(d)
    artifacts.verify(d)
    (d / artifacts.DIGEST).write_text("sha256:nothex\n")
    with pytest.raises(artifacts.ArtifactError, match="64 hex"):
        artifacts.verify(d)


def test_seed_folders(tmp_path):
    with pytest.raises(artifacts.ArtifactError, match="no such results folder"):
        artifacts.seed_folders(tmp_path / "none")
    with pytest.raises(artifacts.ArtifactError, match="no seed_<n>"):
        artifacts.seed_folders(tmp_path)
    (tmp_path / "seed_2").mkdir()
    (tmp_path / "seed_10").mkdir()
    assert list(artifacts.seed_folders(tmp_path)) == [2, 10]
    (tmp_path / "seed_x").mkdir()
    with pytest.raises(artifacts.ArtifactError, match="seed_x"):
        artifacts.seed_folders(tmp_path)


def test_artifact_folder_errors(tmp_path):
    with pytest.raises(artifacts.ArtifactError, match="no such artifact folder"):
        artifacts.verify(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(artifacts.ArtifactError, match="it is a file"):
        artifacts.verify(tmp_path / "file")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / artifacts.MANIFEST).write_text("{not json")
    with pytest.raises(artifacts.ArtifactError, match="invalid JSON"):
        artifacts.load(tmp_path / "d")


def test_committed_artifacts_are_sealed_and_verify():
    root = artifacts.repository_root() / "artifacts"
    tracked = subprocess.run(["git", "ls-files", "*manifest.json"], cwd=root, text=True,
                             capture_output=True).stdout.split()
    if not tracked:
        pytest.skip("no git checkout")
    for name in tracked[:5]:  # a sample (all are checked by `logel artifacts verify`)
        folder = (root / name).parent
        with warnings.catch_warnings():
            warnings.simplefilter("error", artifacts.MissingDigestWarning)
            artifacts.verify(folder)


# -------------------------------------------------------------------------- command lines


def _main(argv):
    """``cli.main(argv)`` with the experiment's execution stubbed out (parsing and the
    configuration only): (exit status, stderr)."""
    real = cli.load_command

    def stub(name):
        return dataclasses.replace(real(name), execute=lambda config, args: 0)

    err = io.StringIO()
    with mock.patch.object(cli, "load_command", stub), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        try:
            status = cli.main(argv)
        except SystemExit as exc:
            status = exc.code
    return status, err.getvalue()


OPTION_VALUES = st.sampled_from(["-1", "0", "1", "3", "0.5", "1.5", "nan", "inf", "-inf", "1e400",
                                 "abc", "", "5-2", "0-3", "1,,2", "2,5", "-5", "10.5", " "])


@FAST
@given(experiment=st.sampled_from(["gridworld", "sweeps", "comparison", "final_behaviour"]),
       option=st.sampled_from(["--seeds", "--n-jobs", "--slip", "--observed-steps", "--n",
                               "--trajectories", "--alpha-init", "--alpha-min", "--tol",
                               "--max-iter", "--baseline-eps", "--observer-trajectories",
                               "--n-trajectories", "--variant", "--nonsense"]),
       value=OPTION_VALUES)
def test_command_line_values(experiment, option, value):
    """Any value of any option: it runs, or one line 'logel: error: ...' and status 2."""
    status, err = _main(["run", experiment, option, value])
    assert status in (0, 2), (status, err)
    if status == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("logel: error:"), err
        assert "Traceback" not in err


@pytest.mark.parametrize("error", [OSError(13, "Permission denied", "/out"),
                                   ValueError("slip must lie in [0, 1]"),
                                   ImportError("backend='ray' needs the optional extra"),
                                   artifacts.ArtifactError("x: hash mismatch y"),
                                   TraceError("t.npz: corrupt")])
def test_runtime_user_errors_are_one_line(error):
    def failing(argv):
        raise error

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        cli.guarded(failing, [])
    assert exc.value.code == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("logel: error:")
    with pytest.raises(type(error)):
        cli.guarded(failing, ["--debug"])


def test_unexpected_errors_exit_1_and_debug_shows_them():
    def failing(argv):
        raise ZeroDivisionError("boom")

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        cli.guarded(failing, [])
    assert exc.value.code == 1 and "unexpected ZeroDivisionError: boom" in err.getvalue()


def test_output_folders_are_checked(tmp_path):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        status, err = _main(["reproduce", "exact", "--out", str(out)])
        assert status == 2 and err.startswith("logel: error: argument --out")


def test_artifacts_command(artifact_dir, tmp_path, capsys):
    d = _copy(artifact_dir, str(tmp_path))
    assert cli.main(["artifacts", "verify", str(d)]) == 0
    (d / artifacts.DIGEST).unlink()
    assert cli.main(["artifacts", "verify", str(tmp_path), "--recursive"]) == 0
    assert "no manifest digest" in capsys.readouterr().out
    assert cli.main(["artifacts", "seal", str(d)]) == 0
    assert f"sealed: {d}" in capsys.readouterr().out
    (d / "result.json").write_text("{}")
    with pytest.raises(SystemExit) as exc:
        cli.main(["artifacts", "verify", str(d)])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("logel: error:")


def test_python_m_logel():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ok = subprocess.run([sys.executable, "-m", "logel", "--help"], capture_output=True,
                        text=True, timeout=120, env=env)
    assert ok.returncode == 0 and "reproduce" in ok.stdout and "artifacts" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "logel", "run", "gridworld", "--seeds", "5-2"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert bad.stderr.startswith("logel: error: argument --seeds")


# ------------------------------------------------------------------------------------ env


def test_env_refuses_step_before_reset_and_bad_options():
    env = ColourGridEnv()
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    assert env.step(1)[0] in range(25)
    with pytest.raises(ValueError, match="action"):
        env.step(7)
    with pytest.raises(TypeError, match="horizon"):
        ColourGridEnv(horizon=2.5)
    with pytest.raises(ValueError, match="reward_weights"):
        ColourGridEnv(reward_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="render_mode"):
        ColourGridEnv(render_mode="human")


@FAST
@given(weights=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0,
                        max_size=7))
def test_env_reward_weights(weights):
    try:
        env = ColourGridEnv(reward_weights=weights)
    except CLEAR as err:
        assert "reward_weights" in str(err)
        return
    env.reset(seed=0)
    assert np.isfinite(env.step(0)[1])
