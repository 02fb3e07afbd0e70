"""The 5x5 colour gridworld of the paper's Sec. 5.1, as tabular models and a gymnasium env.

Layout (row ``x`` from the top, column ``y`` from the left; state id ``5 x + y``; start (0, 0))::

    N N N R R
    N N N N R
    N N V N N
    P N N N N
    P P N N G

Features are the one-hot colours ``[R, V, N, P, G]``; the learner's true weights are
``[0, -5, -1, -3, 7]``. Actions 0..3 move down, up, left, right (clipped at the walls); any action
in G returns to the start. With ``slip > 0`` a uniformly random direction replaces the chosen one
with probability ``slip`` (the paper's stochastic option uses 0.3).

Two dynamics *variants* (every result says which one it used):

``"paper"`` -- faithful to the official code: the sampler resets only from G, returns the
    features of the *next* state, and the ``n`` segments of a batch are one continuous run (only
    the first starts at s0). The planning/evaluation model additionally teleports from the centre
    V cell to s0 and uses the *current* state's reward.
``"consistent"`` -- one model for sampling and planning (resets only from G, next-state
    features), and every trajectory starts at s0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from logel._validation import as_array, choice, integer, real
from logel.policies.boltzmann import sample_actions
from logel.tabular import TabularMDP
from logel.traces import LearnerTrace

Variant = Literal["paper", "consistent"]

COLOUR_NAMES: tuple[str, ...] = ("R", "V", "N", "P", "G")
LAYOUT: tuple[str, ...] = ("NNNRR", "NNNNR", "NNVNN", "PNNNN", "PPNNG")
TRUE_WEIGHTS = np.array([0.0, -5.0, -1.0, -3.0, 7.0])
SIZE = 5
N_STATES = SIZE * SIZE
N_ACTIONS = 4
START_STATE = 0
GOAL_STATE = N_STATES - 1
CENTRE_STATE = 2 * SIZE + 2
MOVES = ((1, 0), (-1, 0), (0, -1), (0, 1))  # down, up, left, right
ACTION_NAMES = ("down", "up", "left", "right")


def colour_features() -> np.ndarray:
    """One-hot colour features of every state, shape ``(25, 5)`` in the order R, V, N, P, G."""
    phi = np.zeros((N_STATES, len(COLOUR_NAMES)))
    for x, row in enumerate(LAYOUT):
        for y, colour in enumerate(row):
            phi[SIZE * x + y, COLOUR_NAMES.index(colour)] = 1.0
    return phi


def _move(state: int, action: int) -> int:
    x, y = divmod(state, SIZE)
    dx, dy = MOVES[action]
    return SIZE * min(max(x + dx, 0), SIZE - 1) + min(max(y + dy, 0), SIZE - 1)


def grid_transitions(slip: float = 0.0, teleport_states: tuple[int, ...] = (GOAL_STATE,)
                     ) -> np.ndarray:
    """Transition tensor ``(S, A, S)``; every action in a ``teleport_states`` cell goes to s0."""
    slip = real(slip, "slip", low=0.0, high=1.0)
    move = np.zeros((N_STATES, N_ACTIONS, N_STATES))
    for s in range(N_STATES):
        for a in range(N_ACTIONS):
            move[s, a, _move(s, a)] = 1.0
    P = (1.0 - slip) * move + slip * move.mean(axis=1, keepdims=True)
    for s in teleport_states:
        P[s] = 0.0
        P[s, :, START_STATE] = 1.0
    return P


@dataclass(frozen=True)
class Gridworld:
    """The colour gridworld in one dynamics variant.

    Attributes:
        variant: ``"paper"`` or ``"consistent"`` (see the module docstring).
        slip: probability that a random direction replaces the chosen action.
        gamma: discount factor (paper: 0.96).
        horizon: trajectory length ``T`` (paper: 20).
        true_weights: ``(5,)`` the learner's reward weights :math:`\\omega^L`.
        sampling_model: the MDP trajectories are drawn from (next-state features).
        planning_model: the MDP used for planning and evaluation.
        chain_segments: if True the ``n`` trajectories of a batch are one continuous run.
    """

    variant: Variant = "paper"
    slip: float = 0.0
    gamma: float = 0.96
    horizon: int = 20
    true_weights: np.ndarray = field(default_factory=lambda: TRUE_WEIGHTS.copy())
    sampling_model: TabularMDP = field(init=False)
    planning_model: TabularMDP = field(init=False)

    def __post_init__(self) -> None:
        choice(self.variant, "variant", ("paper", "consistent"))
        object.__setattr__(self, "slip", real(self.slip, "slip", low=0.0, high=1.0))
        object.__setattr__(self, "gamma", real(self.gamma, "gamma", low=0.0, high=1.0))
        object.__setattr__(self, "horizon", integer(self.horizon, "horizon", low=1))
        weights = as_array(self.true_weights, "true_weights", ndim=1,
                           shape_doc=f"({len(COLOUR_NAMES)},)")
        if weights.shape != (len(COLOUR_NAMES),):
            raise ValueError(f"true_weights must have shape ({len(COLOUR_NAMES)},) (one weight "
                             f"per colour {', '.join(COLOUR_NAMES)}), got {weights.shape}")
        phi = colour_features()
        start = np.eye(N_STATES)[START_STATE]
        sampler = TabularMDP(grid_transitions(self.slip), phi, start, self.gamma, "next")
        if self.variant == "paper":
            planner = TabularMDP(grid_transitions(self.slip, (GOAL_STATE, CENTRE_STATE)), phi,
                                 start, self.gamma, "current")
        else:
            planner = sampler
        object.__setattr__(self, "true_weights", weights)
        object.__setattr__(self, "sampling_model", sampler)
        object.__setattr__(self, "planning_model", planner)

    @property
    def chain_segments(self) -> bool:
        return self.variant == "paper"

    @property
    def n_states(self) -> int:
        return N_STATES

    @property
    def n_actions(self) -> int:
        return N_ACTIONS

    @property
    def n_features(self) -> int:
        return len(COLOUR_NAMES)

    def describe(self) -> dict[str, Any]:
        """JSON-able description, recorded by everything that reports a result."""
        return {"env": "logel/ColourGrid-v0", "variant": self.variant, "slip": self.slip,
                "gamma": self.gamma, "horizon": self.horizon,
                "true_weights": self.true_weights.tolist()}


@dataclass(frozen=True)
class TrajectoryBatch:
    """``N`` trajectories of length ``T`` from one policy (:func:`sample_batch`; from ``L``
    policies, :func:`sample_batches`, every array has a leading axis ``L``).

    Attributes:
        states: ``(N, T)`` int, :math:`s_t`.
        actions: ``(N, T)`` int, :math:`a_t`.
        features: ``(N, T, q)`` float, the per-step features the sampler returns
            (next-state features on the gridworld).
        final_states: ``(N,)`` int, the state after the last step of each trajectory.
    """

    states: np.ndarray
    actions: np.ndarray
    features: np.ndarray
    final_states: np.ndarray


def _check_policies(policies: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(policies)) or (policies < 0).any() \
            or not np.allclose(policies.sum(axis=-1), 1.0, atol=1e-6):
        raise ValueError(f"{name} must hold probabilities: finite, non-negative, each row "
                         "summing to 1")


def sample_batch(grid: Gridworld, policy: np.ndarray, n_trajectories: int,
                 rng: np.random.Generator) -> TrajectoryBatch:
    """Sample ``n_trajectories`` trajectories of length ``grid.horizon`` from a policy table.

    Args:
        grid: the gridworld (its variant decides whether segments chain).
        policy: ``(S, A)`` action probabilities.
        n_trajectories: ``N``.
        rng: the only source of randomness.
    """
    policy = as_array(policy, "policy", ndim=2, shape_doc=f"({N_STATES}, {N_ACTIONS})")
    if policy.shape != (N_STATES, N_ACTIONS):
        raise ValueError(f"policy must have shape ({N_STATES}, {N_ACTIONS}), got {policy.shape}")
    _check_policies(policy, "policy")
    n_trajectories = integer(n_trajectories, "n_trajectories", low=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    model = grid.sampling_model
    cdf_next = np.cumsum(model.transitions, axis=2)
    T = grid.horizon
    if grid.chain_segments:  # one run of N*T steps cut into N segments
        lanes, steps = 1, n_trajectories * T
    else:
        lanes, steps = n_trajectories, T
    states = np.empty((lanes, steps), dtype=np.int64)
    actions = np.empty((lanes, steps), dtype=np.int64)
    s = np.full(lanes, START_STATE, dtype=np.int64)
    for t in range(steps):
        a = sample_actions(policy, s, rng)
        states[:, t], actions[:, t] = s, a
        u = rng.random(lanes)[:, None]
        s = np.minimum((u > cdf_next[s, a]).sum(axis=1), N_STATES - 1)
    next_states = np.concatenate([states[:, 1:], s[:, None]], axis=1)
    states = states.reshape(n_trajectories, T)
    actions = actions.reshape(n_trajectories, T)
    next_states = next_states.reshape(n_trajectories, T)
    return TrajectoryBatch(states, actions, model.state_features[next_states],
                           next_states[:, -1].copy())


def batches_trace(batches: Sequence[TrajectoryBatch], gamma: float, omega: np.ndarray,
                  metadata: dict[str, Any], *, thetas: np.ndarray | None = None,
                  learning_rates: np.ndarray | None = None) -> LearnerTrace:
    """The :class:`~logel.traces.LearnerTrace` of a learner's per-step batches: their states,
    actions and features stacked over the learning steps, and each trajectory's discounted
    return :math:`\\sum_t\\gamma^t\\phi_t^\\top\\omega` under the true weights ``omega``."""
    features = np.stack([b.features for b in batches])
    discounts = gamma ** np.arange(features.shape[2])
    return LearnerTrace(
        states=np.stack([b.states for b in batches]),
        actions=np.stack([b.actions for b in batches]),
        features=features,
        gamma=gamma,
        thetas=thetas,
        learning_rates=learning_rates,
        returns=np.einsum("kntq,q,t->kn", features, omega, discounts),
        metadata=metadata,
    )


def sample_batches(grid: Gridworld, policies: np.ndarray, n_trajectories: int,
                   rng: np.random.Generator | Sequence[np.random.Generator]) -> TrajectoryBatch:
    """One batch of ``n_trajectories`` trajectories from each of ``L`` policy tables.

    The batches are independent and follow the variant's rules exactly as :func:`sample_batch`
    (continuous runs cut into segments for ``"paper"``, every trajectory from s0 for
    ``"consistent"``); the loop over time is shared by all policies, which makes the
    ``"paper"`` variant's continuous runs affordable. With one generator and one policy it
    consumes the generator exactly like :func:`sample_batch` and returns the same trajectories.

    With a sequence of ``L`` generators, policy ``l`` draws only from ``rng[l]`` (its own stream,
    e.g. :func:`logel.streams.cell_rngs`), all its uniforms at once and trajectory by trajectory;
    then policy ``l``'s batch depends neither on the other policies nor on ``N``: its first
    ``n`` trajectories are the same for every ``N >= n`` (nested designs).

    Args:
        grid: the gridworld.
        policies: ``(L, S, A)`` action probabilities.
        n_trajectories: ``N`` trajectories per policy.
        rng: the only source of randomness: one generator, or one per policy.

    Returns:
        A :class:`TrajectoryBatch` whose arrays have a leading axis ``L``:
        states and actions ``(L, N, T)``, features ``(L, N, T, q)``, final states ``(L, N)``.
    """
    policies = as_array(policies, "policies", ndim=3,
                        shape_doc=f"(L, {grid.n_states}, {grid.n_actions})")
    if policies.shape[1:] != (grid.n_states, grid.n_actions):
        raise ValueError(f"policies must have shape (L, {grid.n_states}, {grid.n_actions}), "
                         f"got {policies.shape}")
    _check_policies(policies, "policies")
    n_trajectories = integer(n_trajectories, "n_trajectories", low=1)
    L, T, N = policies.shape[0], grid.horizon, n_trajectories
    per_policy, steps = (1, N * T) if grid.chain_segments else (N, T)
    lane_policy = np.repeat(np.arange(L), per_policy)
    uniforms = None
    if not isinstance(rng, np.random.Generator):
        rngs = list(rng)
        if len(rngs) != L:
            raise ValueError(f"give one generator or one per policy ({L}), got {len(rngs)}")
        # policy l: (lanes, steps, 2) drawn lane by lane, so a lane's draws do not depend on N
        uniforms = np.concatenate([
            g.random((N, T, 2)).reshape(per_policy, steps, 2) for g in rngs])
    cdf_action = np.cumsum(policies, axis=2)
    cdf_next = np.cumsum(grid.sampling_model.transitions, axis=2)
    states = np.empty((lane_policy.size, steps), dtype=np.int64)
    actions = np.empty_like(states)
    s = np.zeros(lane_policy.size, dtype=np.int64)  # every run starts at s0 (state 0)
    for t in range(steps):
        u = (rng.random(s.size) if uniforms is None else uniforms[:, t, 0])[:, None]
        a = np.minimum((u > cdf_action[lane_policy, s]).sum(axis=1), grid.n_actions - 1)
        states[:, t], actions[:, t] = s, a
        u = (rng.random(s.size) if uniforms is None else uniforms[:, t, 1])[:, None]
        s = np.minimum((u > cdf_next[s, a]).sum(axis=1), grid.n_states - 1)
    next_states = np.concatenate([states[:, 1:], s[:, None]], axis=1).reshape(L, N, T)
    return TrajectoryBatch(states.reshape(L, N, T), actions.reshape(L, N, T),
                           grid.sampling_model.state_features[next_states],
                           next_states[..., -1].copy())


class ColourGridEnv(gym.Env[int, int]):
    """Gymnasium view of the colour gridworld (id ``logel/ColourGrid-v0``).

    Observations are state ids 0..24, actions 0..3 (down, up, left, right). ``step`` returns the
    reward :math:`\\omega^\\top\\phi(s_{t+1})` of the *next* state and its features in
    ``info["features"]``; the episode is truncated after ``horizon`` steps and never terminates
    (G sends the agent back to the start). ``reset`` always starts at s0 -- the ``"paper"``
    variant's continuous batches are reproduced by :func:`sample_batch`, not by this env.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, variant: Variant = "paper", slip: float = 0.0, horizon: int = 20,
                 reward_weights: np.ndarray | None = None, render_mode: str | None = None):
        self.grid = Gridworld(variant=variant, slip=slip, horizon=horizon)
        if reward_weights is None:
            self.reward_weights = self.grid.true_weights
        else:
            self.reward_weights = as_array(reward_weights, "reward_weights", ndim=1,
                                           shape_doc=f"({len(COLOUR_NAMES)},)")
            if self.reward_weights.shape != (len(COLOUR_NAMES),):
                raise ValueError(f"reward_weights must have shape ({len(COLOUR_NAMES)},) (one "
                                 f"per colour {', '.join(COLOUR_NAMES)}), got "
                                 f"{self.reward_weights.shape}")
        choice(render_mode, "render_mode", (None, *self.metadata["render_modes"]))
        self.observation_space = gym.spaces.Discrete(N_STATES)
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        self.render_mode = render_mode
        self._state = START_STATE
        self._t = 0
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self._state, self._t = START_STATE, 0
        self._needs_reset = False
        return self._state, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step() (the environment has no "
                                        "episode yet)")
        if isinstance(action, bool | np.bool_) or not self.action_space.contains(action):
            raise ValueError(f"action must be in 0..{N_ACTIONS - 1}, got {action!r}")
        row = self.grid.sampling_model.transitions[self._state, int(action)]
        self._state = int(self.np_random.choice(N_STATES, p=row))
        self._t += 1
        phi = self.grid.sampling_model.state_features[self._state]
        reward = float(phi @ self.reward_weights)
        return self._state, reward, False, self._t >= self.grid.horizon, {"features": phi.copy()}

    def render(self) -> str:
        x0, y0 = divmod(self._state, SIZE)
        return "\n".join("".join("@" if (x, y) == (x0, y0) else c for y, c in enumerate(row))
                         for x, row in enumerate(LAYOUT))
