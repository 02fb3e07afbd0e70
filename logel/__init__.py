"""logel: inverse reinforcement learning from a gradient-based learner (LOGEL, NeurIPS 2020).

An observer watches a learner *while it learns* and recovers the reward weights
:math:`\\omega` it optimises, assuming each update follows the policy gradient
:math:`\\theta_{t+1}=\\theta_t+\\alpha_t\\nabla\\psi(\\theta_t)\\,\\omega`.

Public API (numpy arrays in, arrays or result objects out):

* :func:`gpomdp_jacobian`, :func:`reinforce_jacobian` -- estimate :math:`\\nabla\\psi` ``(d, q)``
  from per-step scores ``(N, T, d)`` and features ``(N, T, q)``;
* :func:`solve_weights` -- :math:`\\omega` for known learning rates (exact/approximate settings);
* :func:`fit` -- :math:`\\omega` and :math:`\\alpha` by block-coordinate descent (realistic setting);
* :func:`identifiability` -- rank and conditioning diagnostics;
* :func:`fit_preconditioned` -- :math:`\\omega` for learners that rescale the gradient
  (Adam-like, a shared diagonal; :mod:`logel.irl.preconditioned`);
* :func:`observe_exact`, :func:`observe_approximate`, :func:`observe_realistic` -- the paper's
  three observers on a learner's trace (:mod:`logel.irl.observer`);
* :class:`LearnerTrace` -- what a learner leaves behind, with save/load.
"""

from logel.estimators import (
    gpomdp_jacobian,
    gpomdp_jacobian_covariance,
    gpomdp_jacobian_stderr,
    reinforce_jacobian,
)
from logel.irl.logel import (
    DegenerateGradientWarning,
    Identifiability,
    IdentifiabilityWarning,
    LOGELResult,
    fit,
    identifiability,
    solve_weights,
)
from logel.irl.observer import (
    BoltzmannClass,
    Observation,
    ObserverConfig,
    observe_approximate,
    observe_exact,
    observe_realistic,
)
from logel.irl.preconditioned import PreconditionedResult, fit_preconditioned
from logel.traces import LearnerTrace

__version__ = "0.1.0"

__all__ = [
    "BoltzmannClass",
    "DegenerateGradientWarning",
    "Identifiability",
    "IdentifiabilityWarning",
    "LOGELResult",
    "LearnerTrace",
    "Observation",
    "ObserverConfig",
    "PreconditionedResult",
    "__version__",
    "fit",
    "fit_preconditioned",
    "gpomdp_jacobian",
    "gpomdp_jacobian_covariance",
    "gpomdp_jacobian_stderr",
    "identifiability",
    "observe_approximate",
    "observe_exact",
    "observe_realistic",
    "reinforce_jacobian",
    "solve_weights",
]
