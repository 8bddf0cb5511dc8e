"""Web forms: what a user typed, turned into checked records."""
