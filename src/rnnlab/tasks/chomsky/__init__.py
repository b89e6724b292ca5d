"""The chomsky task: see ``rnnlab.tasks.chomsky.task``."""
