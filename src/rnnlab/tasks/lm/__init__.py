"""The lm task: see ``rnnlab.tasks.lm.task``."""
