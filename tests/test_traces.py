"""LearnerTrace: validation, read-only arrays, atomic .npz round trip, slicing, and the
determinism of the G(PO)MDP learner that produces traces."""

from __future__ import annotations

import numpy as np
import pytest

import logel.traces
from logel import LearnerTrace
from logel.envs.gridworld import Gridworld
from logel.learners import GPOMDPLearnerConfig, run_gpomdp_learner, step_size

K, N, T, Q, D = 4, 3, 5, 2, 6
FIELDS = ("states", "actions", "features", "thetas", "learning_rates", "returns")


def make_parts(rng: np.random.Generator) -> dict:
    return dict(
        states=rng.integers(0, 25, size=(K, N, T)),
        actions=rng.integers(0, 4, size=(K, N, T)),
        features=rng.normal(size=(K, N, T, Q)),
        gamma=0.9,
        thetas=rng.normal(size=(K, D)),
        learning_rates=rng.uniform(0.01, 1.0, size=K - 1),
        returns=rng.normal(size=(K, N)),
        metadata={"learner": "test", "seed": 3, "nested": {"list": [1, 2.5, "x"]}, "none": None},
    )


@pytest.fixture
def trace(rng) -> LearnerTrace:
    return LearnerTrace(**make_parts(rng))


def assert_traces_equal(a: LearnerTrace, b: LearnerTrace) -> None:
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is None and y is None, name
        else:
            assert x.shape == y.shape and x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.gamma == b.gamma and a.metadata == b.metadata


# ----------------------------------------------------------------------------- validation


def test_valid_trace_properties_and_read_only_arrays(trace):
    assert (trace.n_policies, trace.n_trajectories, trace.horizon, trace.n_features) == (K, N, T,
                                                                                         Q)
    for name in FIELDS:
        arr = getattr(trace, name)
        assert not arr.flags.writeable, name
        with pytest.raises(ValueError):
            arr.flat[0] = 0
    assert trace.features.dtype == np.float64
    with pytest.raises(AttributeError):  # frozen dataclass
        trace.gamma = 0.5


def test_continuous_states_and_actions_are_accepted(rng):
    parts = make_parts(rng)
    parts["states"] = rng.normal(size=(K, N, T, 3))
    parts["actions"] = rng.normal(size=(K, N, T, 2))
    tr = LearnerTrace(**parts)
    assert tr.states.shape == (K, N, T, 3)


def test_optional_fields_may_be_missing(rng):
    parts = make_parts(rng)
    tr = LearnerTrace(parts["states"], parts["actions"], parts["features"], 0.5)
    assert tr.thetas is None and tr.learning_rates is None and tr.returns is None
    assert tr.metadata == {}


def _nan(a):
    a = np.array(a, dtype=float)
    a.flat[0] = np.nan
    return a


BAD = {
    "states wrong K": ("states", lambda a: a[:-1]),
    "states wrong T": ("states", lambda a: a[..., :-1]),
    "states 2-D": ("states", lambda a: a[0]),
    "states 5-D": ("states", lambda a: a[..., None, None]),
    "actions wrong N": ("actions", lambda a: a[:, :-1]),
    "actions 2-D": ("actions", lambda a: a[:, :, 0]),
    "features 3-D": ("features", lambda a: a[..., 0]),
    "features NaN": ("features", _nan),
    "thetas wrong K": ("thetas", lambda a: a[:-1]),
    "thetas 1-D": ("thetas", lambda a: a[:, 0]),
    "thetas NaN": ("thetas", _nan),
    "learning_rates K long": ("learning_rates", lambda a: np.append(a, 0.1)),
    "learning_rates 2-D": ("learning_rates", lambda a: a[:, None]),
    "learning_rates inf": ("learning_rates", lambda a: np.full_like(a, np.inf)),
    "returns wrong N": ("returns", lambda a: a[:, :-1]),
    "returns 1-D": ("returns", lambda a: a[:, 0]),
    "returns NaN": ("returns", _nan),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_fields_raise_value_error_naming_the_field(rng, case):
    name, mutate = BAD[case]
    parts = make_parts(rng)
    parts[name] = mutate(parts[name])
    with pytest.raises(ValueError, match=name):
        LearnerTrace(**parts)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan")])
def test_bad_gamma(rng, gamma):
    parts = make_parts(rng)
    parts["gamma"] = gamma
    with pytest.raises(ValueError, match="gamma"):
        LearnerTrace(**parts)


def test_empty_trace_is_rejected():
    with pytest.raises(ValueError, match="K, N, T"):
        LearnerTrace(np.zeros((0, 2, 3)), np.zeros((0, 2, 3)), np.zeros((0, 2, 3, 1)), 0.9)


def test_metadata_must_be_json_serialisable(rng):
    parts = make_parts(rng)
    parts["metadata"] = {"bad": object()}
    with pytest.raises(ValueError, match="metadata"):
        LearnerTrace(**parts)


def test_trace_does_not_alias_the_callers_arrays(rng):
    parts = make_parts(rng)
    base = np.zeros((K + 1, D))
    parts["thetas"] = base[:K]  # a view of a larger, writable array
    tr = LearnerTrace(**parts)
    assert parts["states"].flags.writeable  # the caller's own array is left writable
    base[0, 0] = 7.0
    assert tr.thetas[0, 0] == 0.0  # the trace is unaffected


# ----------------------------------------------------------------------------- save / load


def test_save_load_round_trip(tmp_path, trace):
    path = trace.save(tmp_path / "trace.npz")
    assert path == tmp_path / "trace.npz" and path.exists()
    with np.load(path, allow_pickle=False) as data:  # no pickled objects inside
        assert set(data.files) == {*FIELDS, "meta_json"}
        np.testing.assert_array_equal(data["thetas"], trace.thetas)
    loaded = LearnerTrace.load(path)
    assert_traces_equal(trace, loaded)
    assert loaded.metadata["nested"] == {"list": [1, 2.5, "x"]}
    for name in FIELDS:
        assert not getattr(loaded, name).flags.writeable


def test_save_load_without_optional_fields(tmp_path, rng):
    parts = make_parts(rng)
    tr = LearnerTrace(parts["states"], parts["actions"], parts["features"], 0.25)
    loaded = LearnerTrace.load(tr.save(tmp_path / "minimal.npz"))
    assert_traces_equal(tr, loaded)


def test_save_adds_suffix_and_creates_folders(tmp_path, trace):
    path = trace.save(tmp_path / "a" / "b" / "trace")
    assert path == tmp_path / "a" / "b" / "trace.npz" and path.exists()
    assert_traces_equal(trace, LearnerTrace.load(path))


def test_atomic_write_leaves_no_temporary_files(tmp_path, trace):
    trace.save(tmp_path / "trace.npz")
    trace.save(tmp_path / "trace.npz")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.npz"]


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path, trace, rng, monkeypatch):
    path = trace.save(tmp_path / "trace.npz")
    before = path.read_bytes()

    def broken(fh, **arrays):
        fh.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(logel.traces.np, "savez_compressed", broken)
    other = LearnerTrace(**make_parts(np.random.default_rng(99)))
    with pytest.raises(OSError, match="disk full"):
        other.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.npz"]
    assert path.read_bytes() == before
    monkeypatch.undo()
    assert_traces_equal(trace, LearnerTrace.load(path))


# ----------------------------------------------------------------------------- slicing


@pytest.mark.parametrize("m", [1, 2, K - 1])
def test_steps_slices_the_first_m_learning_steps(trace, m):
    sub = trace.steps(m)
    assert sub.n_policies == m + 1
    for name in ("states", "actions", "features", "thetas", "returns"):
        np.testing.assert_array_equal(getattr(sub, name), getattr(trace, name)[: m + 1])
    np.testing.assert_array_equal(sub.learning_rates, trace.learning_rates[:m])
    assert sub.gamma == trace.gamma and sub.metadata == trace.metadata


def test_steps_without_optional_fields(rng):
    parts = make_parts(rng)
    tr = LearnerTrace(parts["states"], parts["actions"], parts["features"], 0.9)
    sub = tr.steps(1)
    assert sub.thetas is None and sub.learning_rates is None and sub.returns is None


@pytest.mark.parametrize("m", [0, K, -1])
def test_steps_rejects_out_of_range(trace, m):
    with pytest.raises(ValueError, match="m must lie in"):
        trace.steps(m)


# ----------------------------------------------------------------------------- learner


def _run(seed, **config):
    grid = Gridworld("paper")
    return run_gpomdp_learner(grid, GPOMDPLearnerConfig(n_updates=6, **config),
                              np.random.default_rng(seed))


def test_learner_is_deterministic_given_the_seed():
    a, b, c = _run(7), _run(7), _run(8)
    assert_traces_equal(a, b)
    assert not np.array_equal(a.thetas, c.thetas)
    assert not np.array_equal(a.states, c.states)


def test_learner_trace_contents():
    grid = Gridworld("paper")
    tr = _run(7)
    assert (tr.n_policies, tr.n_trajectories, tr.horizon, tr.n_features) == (7, 50, 20, 5)
    assert tr.thetas.shape == (7, 75) and tr.learning_rates.shape == (6,)
    np.testing.assert_array_equal(tr.thetas[0], 0.0)  # theta_1 = 0: the uniform policy
    np.testing.assert_array_equal(tr.learning_rates, 0.1)
    discounts = grid.gamma ** np.arange(grid.horizon)
    np.testing.assert_allclose(tr.returns,
                               np.einsum("kntq,q,t->kn", tr.features, grid.true_weights,
                                         discounts))
    assert tr.metadata["learner"] == "gpomdp" and tr.metadata["variant"] == "paper"
    assert tr.metadata["config"]["n_updates"] == 6
    # the learner improves its return on average (measured: about -16 -> -2 over 30 steps)
    assert tr.returns[-1].mean() > tr.returns[0].mean()


@pytest.mark.parametrize("schedule, expected", [
    ("lin", [1.0, 0.5, 1 / 3]),
    ("square", [1.0, 0.25, 1 / 9]),
    (0.3, [0.3, 0.3, 0.3]),
])
def test_learning_rate_schedules(schedule, expected):
    tr = run_gpomdp_learner(Gridworld("consistent"),
                            GPOMDPLearnerConfig(n_updates=3, n_trajectories=5,
                                                learning_rate=schedule),
                            np.random.default_rng(0))
    np.testing.assert_allclose(tr.learning_rates, expected)


def test_norm_schedule_and_unknown_schedule():
    g = np.array([3.0, 4.0])
    assert step_size("norm", 5, g) == pytest.approx(0.2)
    assert step_size("norm", 0, np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="schedule"):
        step_size("cosine", 0, g)
    tr = run_gpomdp_learner(Gridworld("consistent"),
                            GPOMDPLearnerConfig(n_updates=3, n_trajectories=5,
                                                learning_rate="norm"),
                            np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(np.diff(tr.thetas, axis=0), axis=1), 1.0)
