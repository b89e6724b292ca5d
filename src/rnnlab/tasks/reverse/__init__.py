"""The reverse task: see ``rnnlab.tasks.reverse.task``."""
