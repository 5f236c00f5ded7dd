"""``permindex demo``: a small, seeded organisation indexed and searched as two different people."""
