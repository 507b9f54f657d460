"""What an entry point says on stderr about a problem, its informational log records set aside."""


def problem_lines(stderr: str) -> list[str]:
    """Non-empty stderr lines that are not INFO log records (such as the settings file a run reads)."""
    return [line for line in stderr.strip().splitlines() if " INFO " not in line]
