"""The deployment package's one error type (one-line messages)."""


class DeployError(ValueError):
    """A missing runtime, a bad export option, or exported graphs that do not fit the config."""
