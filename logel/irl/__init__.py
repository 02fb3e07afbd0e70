"""Observers: the three LOGEL settings (observer), their solvers (logel), behavioural cloning
(bc), the neural policy class (neural) and the baselines (lfl, lfl_continuous, mce_irl)."""
