"""Configuration, elaboration and output writers of the cluster generator."""

__version__ = "0.1.0"
