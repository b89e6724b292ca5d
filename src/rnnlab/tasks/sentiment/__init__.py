"""The sentiment task: see ``rnnlab.tasks.sentiment.task``."""
