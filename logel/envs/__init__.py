"""Environments: the colour gridworld (tabular model and gymnasium env) and the MuJoCo reward features."""

import gymnasium as gym

from logel.envs.gridworld import (
    ColourGridEnv,
    Gridworld,
    TrajectoryBatch,
    sample_batch,
    sample_batches,
)

GRIDWORLD_ID = "logel/ColourGrid-v0"

if GRIDWORLD_ID not in gym.registry:
    gym.register(id=GRIDWORLD_ID, entry_point="logel.envs.gridworld:ColourGridEnv")

__all__ = ["GRIDWORLD_ID", "ColourGridEnv", "Gridworld", "TrajectoryBatch", "sample_batch",
           "sample_batches"]
