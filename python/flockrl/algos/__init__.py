"""Algorithms built on the runtime: the update rules and their trainers."""
