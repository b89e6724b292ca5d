"""The pos task: see ``rnnlab.tasks.pos.task``."""
