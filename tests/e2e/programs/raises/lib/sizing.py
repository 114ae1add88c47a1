"""Sizing the program's functions."""


def memory_for(tier: str) -> int:
    sizes = {"small": 256, "large": 1024}
    if tier not in sizes:
        raise ValueError(f"unknown tier {tier!r}; tiers: {', '.join(sizes)}")
    return sizes[tier]
