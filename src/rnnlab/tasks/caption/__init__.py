"""The caption task: see ``rnnlab.tasks.caption.task``."""
