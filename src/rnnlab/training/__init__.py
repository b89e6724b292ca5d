"""Training machinery shared by every task: the loop, samplers, checkpoints, config."""
