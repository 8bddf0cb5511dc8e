"""The pure core: rules and builders with no Flask, no database, no app."""
