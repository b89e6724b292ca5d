"""The parity task: see ``rnnlab.tasks.parity.task``."""
